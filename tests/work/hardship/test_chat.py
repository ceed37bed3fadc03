"""/hardship and /requests through the emulator: filing with a photo, the cadre told at
once with 受理, acknowledgement and outcome back to the household, overdue states for
every role, a household whose cadre has no Telegram, and bad input at every step."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.i18n import create_i18n
from bot.work import hardship as hs
from bot.work.rules import HardshipRules
from storage.models import AuditLog, HardshipRequest
from tests.policy_chat.helpers import buttons, count, labels, rows
from tests.work.people import (
    ADMIN_USER,
    CADRE_KO_USER,
    CADRE_USER,
    H1_USER,
    H4_USER,
    H5_USER,
    OTHER_ADMIN_USER,
    PUBLIC_USER,
    SUPERVISOR_USER,
)

pytestmark = pytest.mark.usefixtures("app")

# Thursday 2026-11-05 10:00 in Shanghai: acknowledge by Monday 11-09, outcome by 12-07
FILED_AT = datetime(2026, 11, 5, 2, 0, tzinfo=UTC)
ERROR_REPLY = "抱歉，处理您的请求时出错了"
SHANGHAI = ZoneInfo("Asia/Shanghai")
I18N = create_i18n()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(FILED_AT)
    monkeypatch.setattr(hs, "clock", fixed)
    return fixed


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def text_of(event: dict[str, Any]) -> str:
    return event.get("text") or event.get("caption") or ""


async def one(tg, user_id: int, text: str) -> dict[str, Any]:
    [reply] = await tg.ask(user_id, text)
    assert ERROR_REPLY not in text_of(reply)
    return reply


async def press(tg, user_id: int, label: str, replies: int = 1) -> list[dict[str, Any]]:
    pressed = await tg.press_button(user_id, label)
    return await tg.wait_replies(user_id, after_seq=pressed["seq"], count=replies) if replies else []


async def alert(tg, user_id: int, message_id: int, data: str) -> str:
    pressed = await tg.press(user_id, message_id, data, forged=True)
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert answer["answer"].get("show_alert") is True, data
    return answer["answer"]["text"]


def t(text: str, locale: str = "zh_Hans") -> str:
    """A fixed text as the bot shows it in `locale`."""
    return I18N.gettext(text, locale=locale)


async def fill_until_summary(
    tg, user_id: int, text: str = "孩子<生病>住院 & 花了很多钱", photo: bool = True, locale: str = "zh_Hans"
):
    prompt = await one(tg, user_id, "/hardship")
    assert labels(prompt) == [t(x, locale) for x in ("疾病", "灾害", "失业", "上学费用", "住房损坏", "其他", "取消")]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(prompt))
    [ask_text] = await press(tg, user_id, t("疾病", locale))
    assert t("疾病", locale) in ask_text["text"] and "2000" in ask_text["text"]
    ask_photo = await one(tg, user_id, text)
    assert labels(ask_photo) == [t("跳过", locale), t("取消", locale)]
    if photo:
        sent = await tg.send_photo(user_id, png())
        [summary] = await tg.wait_replies(user_id, after_seq=sent["seq"])
    else:
        [summary] = await press(tg, user_id, t("跳过", locale))
    assert labels(summary) == [t("提交", locale), t("取消", locale)]
    return summary


async def test_file_acknowledge_resolve_end_to_end(tg, chat_people, sessionmaker, clock) -> None:
    people = chat_people
    summary = await fill_until_summary(tg, H1_USER)
    assert "类型：疾病" in summary["text"] and "孩子<生病>住院 & 花了很多钱" in summary["text"]
    assert "照片：有" in summary["text"]
    pressed = await tg.press_button(H1_USER, "提交")
    [filed] = await tg.wait_replies(H1_USER, after_seq=pressed["seq"])
    [request] = await rows(sessionmaker, HardshipRequest)
    assert (request.household_id, request.cadre_id, request.category.value) == (people.h1, people.cadre, "illness")
    assert request.text == "孩子<生病>住院 & 花了很多钱" and request.photo_file_id
    assert filed["text"] == (
        f"您的困难报告（编号 {request.id}）已提交，帮扶干部刘干部已收到通知。\n"
        "受理期限：2026年11月9日\n办结期限：2026年12月7日\n发送 /requests 可以查看办理情况。"
    )
    # the cadre: the photo, then the report with 受理
    photo, notice = await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"], count=2)
    assert photo.get("photo") and f"编号 {request.id}" in photo["caption"]
    assert "户主：张大山（W0001）" in notice["text"] and "所在村：示范市/示范县/示范镇/一村" in notice["text"]
    assert "情况：孩子<生病>住院 & 花了很多钱" in notice["text"]  # escaped on the way, shown literally
    assert "请在 2026年11月9日 前受理" in notice["text"]
    assert labels(notice) == ["受理"] and buttons(notice)[0]["callback_data"] == f"hr:ack:{request.id}"

    # 受理 the next day
    clock.now = FILED_AT + timedelta(days=1)
    pressed = await tg.press(CADRE_USER, notice["message_id"], f"hr:ack:{request.id}")
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert answer["answer"]["text"] == "已受理。" and not answer["answer"].get("show_alert")
    [acked] = await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    assert "已受理困难报告" in acked["text"] and labels(acked) == ["记录结果"]
    [told] = await tg.wait_replies(H1_USER, after_seq=pressed["seq"])
    # 20 working days from Friday 11-06
    assert told["text"] == (
        f"您报告的困难（编号 {request.id}，疾病）已由帮扶干部刘干部受理，办结期限：2026年12月4日。")
    # a second press: already acknowledged, nothing changes
    text = await alert(tg, CADRE_USER, notice["message_id"], f"hr:ack:{request.id}")
    assert text == "这份困难报告已经受理过了。"
    [stored] = await rows(sessionmaker, HardshipRequest)
    assert stored.acknowledged_at == FILED_AT + timedelta(days=1)

    # 记录结果: a photo is refused, then the text
    [prompt] = await press(tg, CADRE_USER, "记录结果")
    assert "请输入困难报告" in prompt["text"] and "张大山" in prompt["text"]
    sent = await tg.send_photo(CADRE_USER, png())
    [again] = await tg.wait_replies(CADRE_USER, after_seq=sent["seq"])
    assert again["text"].startswith("请用文字输入办理结果")
    too_long = await one(tg, CADRE_USER, "结" * 2001)
    assert "2001" in too_long["text"]
    clock.now = FILED_AT + timedelta(days=3)
    sent = await tg.send_text(CADRE_USER, "已申请临时救助 <3000元>")
    [saved] = await tg.wait_replies(CADRE_USER, after_seq=sent["seq"])
    assert saved["text"] == f"已记录困难报告（编号 {request.id}）的办理结果，并已告知贫困户。"
    [outcome] = await tg.wait_replies(H1_USER, after_seq=sent["seq"])
    assert outcome["text"] == f"您报告的困难（编号 {request.id}，疾病）已办结。\n办理结果：已申请临时救助 <3000元>"
    [stored] = await rows(sessionmaker, HardshipRequest)
    assert stored.outcome == "已申请临时救助 <3000元>" and stored.resolved_at == FILED_AT + timedelta(days=3)
    # the household's /requests shows it resolved
    listing = await one(tg, H1_USER, "/requests")
    assert listing["text"].startswith("您的困难报告（共 1 份）：")
    assert f"#{request.id} 疾病 · 已办结" in listing["text"] and "结果：已申请临时救助 <3000元>" in listing["text"]
    assert "办结：2026年11月8日" in listing["text"]
    assert not listing.get("reply_markup")
    # the outcome button once more: already resolved
    text = await alert(tg, CADRE_USER, acked["message_id"], f"hr:out:{request.id}")
    assert text == "这份困难报告已经办结了。"
    actions = [a.action for a in await rows(sessionmaker, AuditLog, AuditLog.object_type == "hardship_request")]
    assert actions == ["hardship.file", "hardship.acknowledge", "hardship.resolve"]


async def test_unacknowledged_request_is_overdue_for_everyone_in_scope(tg, chat_people, sessionmaker, clock) -> None:
    await fill_until_summary(tg, H1_USER, text="房子漏雨", photo=False)
    await press(tg, H1_USER, "提交", replies=1)
    [request] = await rows(sessionmaker, HardshipRequest)
    assert request.photo_file_id is None
    # Monday 11-09 23:59 local: still in time
    clock.now = datetime(2026, 11, 9, 15, 59, tzinfo=UTC)
    in_time = await one(tg, H1_USER, "/requests")
    assert "待受理" in in_time["text"] and "已逾期" not in in_time["text"]
    # Tuesday 00:01 local: overdue
    clock.now = datetime(2026, 11, 9, 16, 1, tzinfo=UTC)
    household = await one(tg, H1_USER, "/requests")
    assert f"⚠️ #{request.id} 疾病 · 已逾期（未按期受理）" in household["text"]
    assert "受理期限：2026年11月9日" in household["text"]
    cadre = await one(tg, CADRE_USER, "/requests")
    assert "已逾期（未按期受理）" in cadre["text"] and "户主：张大山（一村）" in cadre["text"]
    assert labels(cadre) == [f"受理 #{request.id}"]
    admin = await one(tg, ADMIN_USER, "/requests")
    assert admin["text"].startswith("辖区内的困难报告（共 1 份）") and "已逾期" in admin["text"]
    assert not admin.get("reply_markup")  # admins see, cadres act
    other = await one(tg, OTHER_ADMIN_USER, "/requests")
    assert other["text"] == "辖区内还没有困难报告。"
    supervisor = await one(tg, SUPERVISOR_USER, "/requests")
    assert "已逾期" in supervisor["text"] and "督导：刘干部的帮扶户" in supervisor["text"]
    assert not supervisor.get("reply_markup")
    # the overdue scan of the notification engine finds it
    async with sessionmaker() as s:
        assert [r.id for r in await hs.overdue_requests(s, clock.now, limit=10)] == [request.id]
    # acknowledging from the list, late, turns it into 已受理
    await press(tg, CADRE_USER, f"受理 #{request.id}", replies=1)
    later = await one(tg, H1_USER, "/requests")
    assert "已受理" in later["text"] and "已逾期" not in later["text"]


async def test_cadre_without_telegram(tg, chat_people, sessionmaker, clock) -> None:
    await fill_until_summary(tg, H4_USER, text="家里遭了冰雹", photo=False)
    pressed = await tg.press_button(H4_USER, "提交")
    [filed] = await tg.wait_replies(H4_USER, after_seq=pressed["seq"])
    [request] = await rows(sessionmaker, HardshipRequest)
    assert request.cadre_id == chat_people.unbound_cadre
    assert filed["text"].startswith(f"您的困难报告（编号 {request.id}）已记录。目前无法直接通知您的帮扶干部")
    assert "受理期限：2026年11月9日" in filed["text"]
    admin = await one(tg, ADMIN_USER, "/requests")
    assert "户主：赵四（一村）" in admin["text"] and "待受理" in admin["text"]
    cadre = await one(tg, CADRE_USER, "/requests")
    assert cadre["text"] == "您帮扶和督导的贫困户还没有报告过困难。"


async def test_bad_input_at_every_step(tg, chat_people, sessionmaker, clock) -> None:
    await one(tg, H1_USER, "/hardship")
    # text where the category button is expected
    wrong = await one(tg, H1_USER, "生病了")
    assert wrong["text"].startswith("请点击下面的按钮选择困难类型") and "疾病" in labels(wrong)
    # a forged, unknown category
    assert await alert(tg, H1_USER, wrong["message_id"], "hc:lottery")
    await press(tg, H1_USER, "失业")
    # a photo as the description
    sent = await tg.send_photo(H1_USER, png())
    [again] = await tg.wait_replies(H1_USER, after_seq=sent["seq"])
    assert again["text"].startswith("请先用文字说明情况")
    # 2001 characters
    long = await one(tg, H1_USER, "难" * 2001)
    assert long["text"] == "说明太长了（2001 字），请精简到 2000 字以内后重新发送。"
    ok = await one(tg, H1_USER, "难" * 2000)
    assert labels(ok) == ["跳过", "取消"]
    # text where the photo is expected, then a sticker
    wrong = await one(tg, H1_USER, "没有照片")
    assert wrong["text"] == "请发送一张照片，或点“跳过”。"
    sent = await tg.send_sticker(H1_USER)
    [wrong] = await tg.wait_replies(H1_USER, after_seq=sent["seq"])
    assert wrong["text"] == "请发送一张照片，或点“跳过”。"
    summary = await one(tg, H1_USER, "跳过")  # typed instead of pressed
    assert labels(summary) == ["提交", "取消"] and "照片：无" in summary["text"]
    # text at the summary
    wrong = await one(tg, H1_USER, "好的")
    assert wrong["text"].startswith("请点“提交”") and labels(wrong) == ["提交", "取消"]
    [cancelled] = await press(tg, H1_USER, "取消")
    assert cancelled["text"] == "已取消，困难报告没有提交。"
    # the old 提交 after cancelling: stale
    assert "失效" in await alert(tg, H1_USER, summary["message_id"], "hs:submit")
    assert await count(sessionmaker, HardshipRequest) == 0


@pytest.mark.parametrize("step", ["category", "text", "photo", "confirm"])
async def test_cancel_at_each_step(tg, chat_people, sessionmaker, clock, step) -> None:
    await one(tg, H1_USER, "/hardship")
    if step != "category":
        await press(tg, H1_USER, "灾害")
    if step in ("photo", "confirm"):
        await one(tg, H1_USER, "大风把屋顶吹坏了")
    if step == "confirm":
        await press(tg, H1_USER, "跳过")
    cancelled = await one(tg, H1_USER, "/cancel")
    assert cancelled["text"] == "已取消，困难报告没有提交。"
    # afterwards free text is a policy question again, not a description
    after = await one(tg, H1_USER, "/cancel")
    assert after["text"] == "当前没有进行中的操作。"
    assert await count(sessionmaker, HardshipRequest) == 0


async def test_restarting_hardship_starts_over(tg, chat_people, sessionmaker, clock) -> None:
    await one(tg, H1_USER, "/hardship")
    await press(tg, H1_USER, "灾害")
    restarted = await one(tg, H1_USER, "/hardship")
    assert "疾病" in labels(restarted)
    wrong = await one(tg, H1_USER, "大风")  # the old step (description) is gone
    assert wrong["text"].startswith("请点击下面的按钮选择困难类型")


async def test_forged_and_wrong_presses_write_nothing(tg, chat_people, sessionmaker, clock) -> None:
    await fill_until_summary(tg, H1_USER, text="失业了", photo=False)
    await press(tg, H1_USER, "提交")
    [request] = await rows(sessionmaker, HardshipRequest)
    # another cadre, the household itself, the public, the supervisor: refused
    for user_id in (CADRE_KO_USER, H1_USER, PUBLIC_USER, SUPERVISOR_USER, ADMIN_USER):
        mine = await one(tg, user_id, "/whoami")
        text = await alert(tg, user_id, mine["message_id"], f"hr:ack:{request.id}")
        locale = "ko" if user_id == CADRE_KO_USER else "zh_Hans"
        assert text == t("这份困难报告不由您办理，或者已经不存在。", locale)
        await alert(tg, user_id, mine["message_id"], f"hr:out:{request.id}")
    # the right cadre: outcome before acknowledgement, an unknown id, a bad action, bad data
    cadre_msg = await one(tg, CADRE_USER, "/requests")
    assert await alert(tg, CADRE_USER, cadre_msg["message_id"], f"hr:out:{request.id}") == (
        "请先受理这份困难报告，再记录办理结果。")
    assert await alert(tg, CADRE_USER, cadre_msg["message_id"], "hr:ack:999999")
    assert await alert(tg, CADRE_USER, cadre_msg["message_id"], f"hr:drop:{request.id}")
    assert await alert(tg, CADRE_USER, cadre_msg["message_id"], "hr:ack:abc")
    [stored] = await rows(sessionmaker, HardshipRequest)
    assert stored.acknowledged_at is None and stored.resolved_at is None
    assert await count(sessionmaker, AuditLog, AuditLog.action != "hardship.file") == 0
    # a cadre's outcome dialog for a request that another press resolved meanwhile
    await press(tg, CADRE_USER, f"受理 #{request.id}")
    await press(tg, CADRE_USER, "记录结果")
    cancelled = await one(tg, CADRE_USER, "/cancel")
    assert cancelled["text"] == "已取消，没有记录办理结果。"
    [stored] = await rows(sessionmaker, HardshipRequest)
    assert stored.resolved_at is None


async def test_unbound_and_other_roles(tg, chat_people, sessionmaker) -> None:
    public = await one(tg, PUBLIC_USER, "/hardship")
    assert "邀请链接" in public["text"]
    public = await one(tg, PUBLIC_USER, "/requests")
    assert "邀请链接" in public["text"]
    cadre = await one(tg, CADRE_USER, "/hardship")
    assert cadre["text"].startswith("/hardship 只供建档立卡户")
    empty = await one(tg, H1_USER, "/requests")
    assert empty["text"].startswith("您还没有报告过困难")
    stale = await one(tg, PUBLIC_USER, "/whoami")
    assert "失效" in await alert(tg, PUBLIC_USER, stale["message_id"], "hp:1")
    assert "失效" in await alert(tg, PUBLIC_USER, stale["message_id"], "hc:illness")
    assert await count(sessionmaker, HardshipRequest) == 0


async def test_requests_paging(tg, chat_people, sessionmaker, clock) -> None:
    async with sessionmaker() as s:
        for i in range(10):
            await hs.file_request(
                s, household_id=chat_people.h1, category="other", text=f"第{i}件", photo_file_id=None,
                now=FILED_AT + timedelta(minutes=i), rules=HardshipRules(), tz=SHANGHAI,
            )
        await s.commit()
    first = await one(tg, ADMIN_USER, "/requests")
    assert "（共 10 份）" in first["text"] and "第 1/2 页" in first["text"]
    assert labels(first) == ["下一页 ▶"]
    pressed = await tg.press_button(ADMIN_USER, "下一页 ▶")
    [edited] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"])
    assert edited["event"] == "edit" and "第 2/2 页" in edited["text"] and "第0件" in edited["text"]
    assert labels(edited) == ["◀ 上一页"]
    # a household pressing a forged page sees its own list only
    mine = await one(tg, H4_USER, "/requests")
    pressed = await tg.press(H4_USER, mine["message_id"], "hp:0", forged=True)
    [own] = await tg.wait_replies(H4_USER, after_seq=pressed["seq"])
    assert "您还没有报告过困难" in own["text"]


async def test_each_receiver_gets_their_own_locale(tg, chat_people, sessionmaker, clock) -> None:
    """H5 and its cadre 朴 use Korean: dates (and, once translated, texts) are theirs, while
    刘's zh household H1 keeps Chinese dates."""
    await fill_until_summary(tg, H5_USER, text="실직했어요", photo=False, locale="ko")
    pressed = await tg.press_button(H5_USER, t("提交", "ko"))
    [filed] = await tg.wait_replies(H5_USER, after_seq=pressed["seq"])
    assert "2026. 11. 9." in filed["text"] and "2026. 12. 7." in filed["text"]
    [notice] = await tg.wait_replies(CADRE_KO_USER, after_seq=pressed["seq"])
    assert "2026. 11. 9." in notice["text"] and "실직했어요" in notice["text"]
    pressed = await tg.press_button(CADRE_KO_USER, 0)
    [told] = await tg.wait_replies(H5_USER, after_seq=pressed["seq"])
    assert "2026. 12. 3." in told["text"]  # 20 working days after Thu 11-05 (acknowledged at once)
    listing = await one(tg, CADRE_KO_USER, "/requests")
    assert "2026. 12. 3." in listing["text"]
