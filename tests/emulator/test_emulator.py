"""Bot-facing behaviour of the emulator, driven by the real aiogram Bot (no mocks)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyParameters,
)

from bot.emulator import EmulatorClient, RunningEmulator

from .conftest import BOT_USERNAME, TOKEN, USER_ID, make_bot, png_bytes

pytestmark = pytest.mark.asyncio


def keyboard(*callback_data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=f"b{i}", callback_data=data)] for i, data in enumerate(callback_data)
        ]
    )


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == 123456
    assert me.is_bot
    assert me.username == BOT_USERNAME
    assert me.first_name == "Fupin Demo"


async def test_unknown_token_is_unauthorized(emulator: RunningEmulator) -> None:
    stranger = make_bot(emulator.base_url, "999:unknown")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_send_message_has_realistic_shape(bot: Bot, client: EmulatorClient, user: int) -> None:
    first = await bot.send_message(
        user,
        "<b>粗体</b> 😀 <i>斜</i> <a href='https://example.org'>链接</a> <code>x</code>",
        parse_mode="HTML",
    )
    second = await bot.send_message(user, "plain")
    assert second.message_id == first.message_id + 1
    assert first.chat.id == user and first.chat.type == "private" and first.chat.first_name == "Li"
    assert first.from_user is not None and first.from_user.is_bot and first.from_user.username == BOT_USERNAME
    assert first.text == "粗体 😀 斜 链接 x"
    entities = [(e.type, e.offset, e.length, e.url) for e in first.entities or []]
    # the emoji is two UTF-16 code units, so everything after it shifts by 2
    assert entities == [
        ("bold", 0, 2, None),
        ("italic", 6, 1, None),
        ("text_link", 8, 2, "https://example.org"),
        ("code", 11, 1, None),
    ]
    history = await client.messages(user)
    assert [m["from_bot"] for m in history] == [False, True, True]
    assert history[-1]["text"] == "plain"


async def test_text_length_is_counted_in_utf16_after_parsing(bot: Bot, user: int) -> None:
    await bot.send_message(user, "😀" * 2048)  # 4096 UTF-16 units: the maximum
    await bot.send_message(user, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")  # tags don't count
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user, "a" * 4097)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user, "😀" * 2048 + "a")


async def test_empty_text_is_rejected(bot: Bot, user: int) -> None:
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user, "")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user, "   \n ")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user, "<b></b>", parse_mode="HTML")


@pytest.mark.parametrize("text", ["<b>unclosed", "<b>x</i>", "<blink>x</blink>", "x</b>", "<br>"])
async def test_bad_html_cannot_be_parsed(bot: Bot, user: int, text: str) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(user, text, parse_mode="HTML")


async def test_markdown_v2_reserved_character(bot: Bot, user: int) -> None:
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(user, "Done.", parse_mode="MarkdownV2")
    message = await bot.send_message(user, "*Done*\\.", parse_mode="MarkdownV2")
    assert message.text == "Done."


async def test_caption_limit(bot: Bot, user: int) -> None:
    document = BufferedInputFile(b"x", filename="x.txt")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(user, document, caption="c" * 1025)
    message = await bot.send_document(user, document, caption="c" * 1024)
    assert message.caption == "c" * 1024


async def test_callback_data_limit_is_64_bytes(bot: Bot, user: int) -> None:
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user, "x", reply_markup=keyboard("a" * 65))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user, "x", reply_markup=keyboard("扶" * 22))  # 66 bytes, 22 characters
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user, "x", reply_markup=keyboard(""))
    data = "扶" * 21 + "a"  # exactly 64 bytes
    message = await bot.send_message(user, "x", reply_markup=keyboard(data))
    assert message.reply_markup is not None
    assert message.reply_markup.inline_keyboard[0][0].callback_data == data


async def test_inline_button_needs_exactly_one_action(bot: Bot, user: int) -> None:
    no_action = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x")]])
    with pytest.raises(TelegramBadRequest, match="inline keyboard button"):
        await bot.send_message(user, "x", reply_markup=no_action)
    two_actions = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="a", url="https://example.org")]]
    )
    with pytest.raises(TelegramBadRequest, match="exactly one"):
        await bot.send_message(user, "x", reply_markup=two_actions)


async def test_forced_flood_raises_retry_after(bot: Bot, client: EmulatorClient, user: int) -> None:
    await client.force_flood(user, count=2, retry_after=7)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(user, "hello")
        assert caught.value.retry_after == 7
        assert "Too Many Requests: retry after 7" in caught.value.message
    await bot.send_message(user, "hello")  # the switch is used up


async def test_per_chat_rate_limit(bot: Bot, client: EmulatorClient, user: int) -> None:
    await client.set_rate_limits(per_chat_per_second=1)
    await bot.send_message(user, "one")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(user, "two")
    assert caught.value.retry_after == 1
    await client.set_rate_limits(global_per_second=None, per_chat_per_second=None)
    await bot.send_message(user, "three")


async def test_global_rate_limit(emulator: RunningEmulator, bot: Bot, client: EmulatorClient) -> None:
    await client.set_rate_limits(global_per_second=3)
    for user_id in (1, 2, 3, 4):
        await client.add_user(user_id, f"U{user_id}")
        await client.send_text(user_id, "hi")
    for user_id in (1, 2, 3):
        await bot.send_message(user_id, "broadcast")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(4, "broadcast")


async def test_blocked_user(bot: Bot, client: EmulatorClient, user: int) -> None:
    await client.block(user)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(user, "still there?")
    updates = await bot.get_updates()
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    await client.unblock(user)
    await bot.send_message(user, "welcome back")


async def test_chat_not_found(bot: Bot, client: EmulatorClient) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hello")
    await client.add_user(424242, "Known but silent")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hello")  # the user never wrote to the bot
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message("@someone", "hello")


async def test_get_updates_long_polling_and_offset(bot: Bot, client: EmulatorClient) -> None:
    await client.add_user(USER_ID, "Li")
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()  # waiting for an update
    sent = await client.send_text(USER_ID, "/start abc")
    updates = await asyncio.wait_for(poll, 3)
    assert [u.update_id for u in updates] == [sent["update_id"]]
    message = updates[0].message
    assert message is not None and message.text == "/start abc"
    assert [(e.type, e.offset, e.length) for e in message.entities or []] == [("bot_command", 0, 6)]
    assert await bot.get_updates(timeout=0) != []  # not confirmed yet
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []
    await client.send_text(USER_ID, "a")
    await client.send_text(USER_ID, "b")
    assert [u.message.text for u in await bot.get_updates(limit=1) if u.message] == ["a"]


async def test_get_updates_timeout_returns_empty(bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=1) == []
    assert loop.time() - started >= 0.9


async def test_concurrent_get_updates_conflict(bot: Bot, emulator: RunningEmulator) -> None:
    other = make_bot(emulator.base_url)
    try:
        first = asyncio.create_task(bot.get_updates(timeout=5))
        await asyncio.sleep(0.2)
        second = asyncio.create_task(other.get_updates(timeout=1))
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
            await first
        assert await second == []
    finally:
        await other.session.close()


async def test_callback_query_flow(bot: Bot, client: EmulatorClient, user: int) -> None:
    await bot.get_updates()  # drain /start
    message = await bot.send_message(user, "Choose", reply_markup=keyboard("yes", "no"))
    pressed = await client.press_button(user, "b1")
    assert pressed["callback_data"] == "no" and pressed["message_id"] == message.message_id
    updates = await bot.get_updates(offset=-1)
    query = updates[-1].callback_query
    assert query is not None and query.data == "no" and query.id == pressed["callback_query_id"]
    assert query.from_user.id == user and query.message is not None
    assert query.message.message_id == message.message_id and query.chat_instance
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query.id, text="x" * 201)
    await bot.answer_callback_query(query.id, text="Noted", show_alert=True)
    answer = await client.callback_answer(query.id)
    assert answer["answer"] == {"text": "Noted", "show_alert": True}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("does-not-exist")


async def test_pressing_missing_button_is_rejected(bot: Bot, client: EmulatorClient, user: int) -> None:
    from bot.emulator import EmulatorError

    message = await bot.send_message(user, "Choose", reply_markup=keyboard("yes"))
    with pytest.raises(EmulatorError) as caught:
        await client.press(user, message.message_id, "no")
    assert caught.value.status == 400
    plain = await bot.send_message(user, "no keyboard")
    with pytest.raises(EmulatorError):
        await client.press(user, plain.message_id, "yes")
    await bot.edit_message_reply_markup(chat_id=user, message_id=message.message_id, reply_markup=None)
    with pytest.raises(EmulatorError):
        await client.press(user, message.message_id, "yes")  # keyboard was removed


async def test_edit_message_text_and_not_modified(bot: Bot, client: EmulatorClient, user: int) -> None:
    message = await bot.send_message(user, "v1", reply_markup=keyboard("a"))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "v1", chat_id=user, message_id=message.message_id, reply_markup=keyboard("a")
        )
    edited = await bot.edit_message_text(
        "<b>v2</b>",
        chat_id=user,
        message_id=message.message_id,
        parse_mode="HTML",
        reply_markup=keyboard("a"),
    )
    assert isinstance(edited, type(message)) and edited.text == "v2" and edited.edit_date is not None
    events = await client.wait_replies(user, after_message_id=message.message_id)
    assert events[0]["event"] == "edit" and events[0]["text"] == "v2"
    history = await client.messages(user, after_message_id=message.message_id - 1)
    assert history[0]["text"] == "v2" and history[0]["edit_history"][0]["text"] == "v1"
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=user, message_id=9999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=user, message_id=1)  # the user's /start


async def test_delete_message(bot: Bot, client: EmulatorClient, user: int) -> None:
    message = await bot.send_message(user, "temporary")
    assert await bot.delete_message(user, message.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user, message.message_id)
    history = await client.messages(user)
    assert history[-1]["deleted"] is True


async def test_send_document_get_file_download_roundtrip(bot: Bot, user: int) -> None:
    payload = "扶贫 report\n".encode() * 100
    message = await bot.send_document(
        user, BufferedInputFile(payload, filename="report.csv"), caption="Report"
    )
    document = message.document
    assert document is not None
    assert document.file_name == "report.csv" and document.mime_type == "text/csv"
    assert document.file_size == len(payload)
    file = await bot.get_file(document.file_id)
    assert file.file_path and file.file_path.endswith(".csv")
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == payload
    again = await bot.send_document(user, document.file_id)  # file_id reuse
    assert again.document is not None and again.document.file_id == document.file_id
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_send_photo_produces_photo_sizes(bot: Bot, user: int) -> None:
    message = await bot.send_photo(
        user, BufferedInputFile(png_bytes(1000, 500), filename="qr.png"), caption="QR"
    )
    sizes = message.photo or []
    assert [(s.width, s.height) for s in sizes] == [(90, 45), (320, 160), (800, 400), (1000, 500)]
    assert all(s.file_id and s.file_unique_id and s.file_size for s in sizes)
    downloaded = await bot.download(sizes[-1].file_id)
    assert downloaded is not None and downloaded.read() == png_bytes(1000, 500)
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(user, BufferedInputFile(b"not an image", filename="x.png"))


async def test_user_photo_is_downloadable_by_bot(bot: Bot, client: EmulatorClient, user: int) -> None:
    await client.send_photo(user, png_bytes(64, 64), caption="my field")
    updates = await bot.get_updates()
    message = updates[-1].message
    assert message is not None and message.photo and message.caption == "my field"
    downloaded = await bot.download(message.photo[-1].file_id)
    assert downloaded is not None and downloaded.read() == png_bytes(64, 64)


async def test_other_user_content(bot: Bot, client: EmulatorClient, user: int) -> None:
    await client.send_location(user, 43.88, 125.35)
    await client.send_sticker(user, "🎉")
    await client.send_voice(user, b"OggS-voice", duration=3)
    await client.send_contact(user, "+8613800000000")
    await client.send_document(user, b"a,b\n", file_name="data.csv", mime_type="text/csv")
    messages = [u.message for u in await bot.get_updates() if u.message][-5:]
    assert messages[0].location is not None and messages[0].location.latitude == pytest.approx(43.88)
    assert messages[1].sticker is not None and messages[1].sticker.emoji == "🎉"
    assert messages[2].voice is not None and messages[2].voice.duration == 3
    assert messages[3].contact is not None and messages[3].contact.user_id == user
    assert messages[4].document is not None and messages[4].document.file_name == "data.csv"


async def test_reply_keyboard_and_reply_parameters(bot: Bot, client: EmulatorClient, user: int) -> None:
    markup = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Share phone", request_contact=True)]], resize_keyboard=True
    )
    message = await bot.send_message(
        user, "Please share", reply_markup=markup, reply_parameters=ReplyParameters(message_id=1)
    )
    assert message.reply_markup is None  # Message.reply_markup only carries inline keyboards
    assert message.reply_to_message is not None and message.reply_to_message.text == "/start"
    chat = await client.chat(user)
    assert chat["keyboard"]["keyboard"][0][0]["text"] == "Share phone"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(user, "x", reply_parameters=ReplyParameters(message_id=999))


async def test_chat_action_forward_and_copy(bot: Bot, client: EmulatorClient, user: int) -> None:
    assert await bot.send_chat_action(user, "typing")
    assert (await client.chat(user))["last_action"] == "typing"
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(user, "dancing")
    await client.add_user(2002, "Admin")
    await client.send_text(2002, "/start")
    forwarded = await bot.forward_message(2002, from_chat_id=user, message_id=1)
    assert forwarded.text == "/start" and forwarded.forward_origin is not None
    copied = await bot.copy_message(2002, from_chat_id=user, message_id=1)
    assert copied.message_id == forwarded.message_id + 1


async def test_set_my_commands_per_language(bot: Bot, client: EmulatorClient) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="start", description="开始"), BotCommand(command="help", description="帮助")],
        language_code="zh",
    )
    await bot.set_my_commands(
        [BotCommand(command="report", description="Report")], scope=BotCommandScopeAllPrivateChats()
    )
    assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start", "help"]
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert await bot.get_my_commands(language_code="ru") == []
    stored = {
        (entry["scope"]["type"], entry["language_code"]): entry["commands"]
        for entry in await client.commands()
    }
    assert stored[("default", "zh")][1] == {"command": "help", "description": "帮助"}
    assert stored[("all_private_chats", "")][0]["command"] == "report"
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    await bot.delete_my_commands(language_code="zh")
    assert await bot.get_my_commands(language_code="zh") == []


async def test_bot_profile_texts(bot: Bot) -> None:
    assert (await bot.get_my_name()).name == "Fupin Demo"
    await bot.set_my_description("扶贫助手", language_code="zh")
    assert (await bot.get_my_description(language_code="zh")).description == "扶贫助手"
    assert (await bot.get_my_description()).description == ""


async def test_unknown_method_is_404_and_logged(emulator: RunningEmulator, client: EmulatorClient) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emulator.base_url}/bot{TOKEN}/fooBar", json={}) as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with session.post(f"{emulator.base_url}/bot{TOKEN}/GETME") as response:
            assert response.status == 200  # method names are case-insensitive
    calls = await client.calls()
    assert calls[0]["method"] == "fooBar" and calls[0]["spec_ok"] is False
    assert calls[1]["method"] == "getMe" and calls[1]["spec_ok"] is True


async def test_missing_required_param_is_400_and_flagged(
    emulator: RunningEmulator, client: EmulatorClient
) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.base_url}/bot{TOKEN}/sendMessage"
        async with session.post(url, data={"text": "hi"}) as response:
            body = await response.json()
    assert response.status == 400
    assert body == {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"}
    [call] = await client.calls("sendMessage")
    assert call["spec_ok"] is False and call["spec_errors"] == ["chat_id: is required"]
    assert call["status"] == 400


async def test_in_spec_but_unsupported_method(bot: Bot, client: EmulatorClient, user: int) -> None:
    with pytest.raises(TelegramBadRequest, match="method not supported by emulator"):
        await bot.send_dice(user)
    [call] = await client.calls("sendDice")
    assert call["spec_ok"] is True and call["status"] == 400


async def test_invalid_param_types_are_flagged(
    emulator: RunningEmulator, client: EmulatorClient, user: int
) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.base_url}/bot{TOKEN}/sendMessage"
        async with session.post(
            url, json={"chat_id": user, "text": "x", "reply_markup": "{not json"}
        ) as response:
            assert response.status == 400
            assert (await response.json())[
                "description"
            ] == "Bad Request: can't parse reply keyboard markup JSON object"
        markup = {"inline_keyboard": [[{"callback_data": "x"}]]}  # button without text
        async with session.post(url, json={"chat_id": user, "text": "x", "reply_markup": markup}) as response:
            assert response.status == 400
    calls = await client.calls("sendMessage")
    assert [c["spec_ok"] for c in calls] == [False, False]
    assert "text is required in InlineKeyboardButton" in calls[1]["spec_errors"][0]


async def test_one_emulator_serves_several_bots(emulator: RunningEmulator) -> None:
    async with EmulatorClient(emulator.base_url, "777:second-bot") as second:
        await second.register_bot("second_test_bot", "Second")
        other = make_bot(emulator.base_url, "777:second-bot")
        try:
            assert (await other.get_me()).username == "second_test_bot"
            await second.add_user(5, "Wang")
            await second.send_text(5, "hi")
            assert len(await other.get_updates()) == 1
        finally:
            await other.session.close()
