"""/start, /help, /language, unknown input and stale buttons, through the emulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Account
from tests.e2e.conftest import texts


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buf, format="PNG")
    return buf.getvalue()

pytestmark = pytest.mark.usefixtures("app")


@pytest.mark.parametrize(
    ("language_code", "fragment"),
    [
        ("zh-hans", "扶贫"),
        ("zh-hant", "扶贫"),
        ("zh-CN", "扶贫"),
        ("zh", "扶贫"),
        (None, "扶贫"),
        ("fr", "扶贫"),  # unsupported → default locale
    ],
)
async def test_start_in_chinese_for_chinese_codes(tg, language_code, fragment) -> None:
    await tg.add_user(1001, first_name="甲", language_code=language_code)
    [reply] = await texts(tg, 1001, "/start")
    assert fragment in reply


async def test_start_and_help_in_korean_and_english(tg) -> None:
    await tg.add_user(1002, first_name="김", language_code="ko-KR")
    await tg.add_user(1003, first_name="Ann", language_code="en-us")
    [ko] = await texts(tg, 1002, "/start")
    [en] = await texts(tg, 1003, "/start")
    assert any("\uac00" <= ch <= "\ud7a3" for ch in ko), ko
    assert "poverty" in en.lower() or "hello" in en.lower(), en
    [help_en] = await texts(tg, 1003, "/help")
    assert "/language" in help_en and "/start" in help_en


async def test_language_is_remembered(tg, sessionmaker) -> None:
    await tg.add_user(1004, first_name="乙", language_code="zh-hans")
    await texts(tg, 1004, "/language")
    pressed = await tg.press_button(1004, "English")
    [edited] = await tg.wait_replies(1004, after_seq=pressed["seq"])
    assert edited["event"] == "edit" and "English" in edited["text"]
    [start] = await texts(tg, 1004, "/start")
    assert "poverty" in start.lower() or "hello" in start.lower()
    async with sessionmaker() as s:
        account = await s.scalar(select(Account).where(Account.telegram_user_id == 1004))
        assert account.language == "en"
    # The chat's own command menu now follows the chosen language.
    chat_menus = [c for c in await tg.commands() if c["scope"].get("type") == "chat"]
    assert chat_menus and chat_menus[-1]["commands"][0]["command"] == "start"


async def test_commands_registered_per_language(tg) -> None:
    menus = {c.get("language_code") or None: c["commands"] for c in await tg.commands()
             if c["scope"].get("type", "default") == "default"}
    assert {"zh", "ko", "en", None} <= set(menus)
    assert menus["zh"][0]["description"] != menus["en"][0]["description"]


async def test_unknown_command_and_media(tg) -> None:
    await tg.add_user(1005, first_name="丙", language_code="zh-hans")
    [reply] = await texts(tg, 1005, "/nonsense")
    assert "/help" in reply
    sent = await tg.send_sticker(1005)
    [sticker_reply] = await tg.wait_replies(1005, after_seq=sent["seq"])
    assert "文字" in sticker_reply["text"]
    sent = await tg.send_voice(1005, b"\x00\x01")
    [voice_reply] = await tg.wait_replies(1005, after_seq=sent["seq"])
    assert "文字" in voice_reply["text"]
    sent = await tg.send_photo(1005, _png())
    [photo_reply] = await tg.wait_replies(1005, after_seq=sent["seq"])
    assert "文字" in photo_reply["text"]


async def test_forged_callbacks_are_refused(tg, sessionmaker) -> None:
    await tg.add_user(1006, first_name="丁", language_code="zh-hans")
    await texts(tg, 1006, "/language")
    [message] = [m for m in await tg.messages(1006) if m["from_bot"] and m.get("reply_markup")]
    for data in ("lang:xx", "garbage", "lang:"):
        pressed = await tg.press(1006, message["message_id"], data, forged=True)
        answer = await tg.callback_answer(pressed["callback_query_id"])
        assert answer["answer"]["show_alert"] is True
    async with sessionmaker() as s:
        account = await s.scalar(select(Account).where(Account.telegram_user_id == 1006))
        assert account.language is None


async def test_unbound_user_sees_no_personal_data(tg) -> None:
    await tg.add_user(1007, first_name="戊", language_code="zh-hans")
    [reply] = await texts(tg, 1007, "/whoami")
    assert "邀请" in reply
