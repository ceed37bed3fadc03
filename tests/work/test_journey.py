"""Issue #4 end to end, across features, as people would live it: a cadre binds by
invitation, sees their household, logs a visit that the household confirms and rates,
logs one it denies (flagged, seen by the admin), adds a milestone and marks it done with a
photo (the household's /plan shows it), and handles hardship reports, one of which is left
unacknowledged past its deadline and shows as overdue."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from bot.invitations import cadre_target, create_invitation
from bot.work import clock as work_clock
from storage.enums import Role, VisitConfirmation
from storage.models import Account, HardshipRequest, Milestone, Visit
from tests.policy_chat.helpers import labels
from tests.work.people import ADMIN_USER, H4_USER

NEW_CADRE_USER = 4600  # 孙干部 (WC03), paired with H4 (赵四), binds during the test
START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


class Clock:
    now = START


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> type[Clock]:
    monkeypatch.setattr(work_clock, "now", lambda: Clock.now)
    Clock.now = START
    return Clock


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (20, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


async def say(tg, user: int, text: str, count: int = 1) -> dict:
    replies = await tg.ask(user, text, count=count)
    return replies[-1]


async def press(tg, user: int, label: str, *, to: int | None = None) -> dict:
    """Press a button of the user's latest keyboard; the reply that `to` (default: the
    user) gets."""
    pressed = await tg.press_button(user, label)
    [reply] = await tg.wait_replies(to or user, after_seq=pressed["seq"])
    return reply


def text_of(message: dict) -> str:
    return message.get("text") or message.get("caption") or ""


async def log_visit(tg) -> dict:
    """/visit for 赵四 today, without location and photo; returns H4's question."""
    await say(tg, NEW_CADRE_USER, "/visit")
    await press(tg, NEW_CADRE_USER, "赵四（一村）")
    await press(tg, NEW_CADRE_USER, "今天")
    await press(tg, NEW_CADRE_USER, "入户走访")
    await say(tg, NEW_CADRE_USER, "看了房子，谈了养牛的打算")
    await press(tg, NEW_CADRE_USER, "跳过")
    await press(tg, NEW_CADRE_USER, "跳过")
    return await press(tg, NEW_CADRE_USER, "确认保存", to=H4_USER)


async def test_a_cadres_week(tg, chat_people, sessionmaker, clock) -> None:
    # 1. the cadre binds with an invitation link
    async with sessionmaker() as session:
        issued = await create_invitation(session, await cadre_target(session, "WC03"), ttl_days=14)
        await session.commit()
    await tg.add_user(NEW_CADRE_USER, first_name="孙", language_code="zh-hans")
    await say(tg, NEW_CADRE_USER, f"/start {issued.code}")
    async with sessionmaker() as session:
        account = await session.scalar(select(Account).where(Account.telegram_user_id == NEW_CADRE_USER))
        assert account.role is Role.CADRE and account.cadre_id == chat_people.unbound_cadre

    # 2. their households: 赵四 only, first contact due (paired 11-01, 7 days: overdue)
    listing = await say(tg, NEW_CADRE_USER, "/households")
    assert "赵四" in text_of(listing) and "张大山" not in text_of(listing)

    # 3. a visit the household confirms and rates
    question = await log_visit(tg)
    assert "孙干部" in text_of(question) and labels(question) == ["是", "否"]
    rating = await press(tg, H4_USER, "是")
    assert labels(rating) == ["1", "2", "3", "4", "5"]
    await press(tg, H4_USER, "4")
    async with sessionmaker() as session:
        [visit] = (await session.scalars(select(Visit))).all()
        assert (visit.confirmation, visit.rating, visit.flagged) == (VisitConfirmation.CONFIRMED, 4, False)

    # 4. a visit the household denies: flagged, and the county admin sees it
    Clock.now = START + timedelta(days=1)
    await log_visit(tg)
    await press(tg, H4_USER, "否")
    async with sessionmaker() as session:
        flagged = (await session.scalars(select(Visit).where(Visit.flagged.is_(True)))).all()
        assert [v.confirmation for v in flagged] == [VisitConfirmation.DENIED]
    flags = await say(tg, ADMIN_USER, "/flags")
    assert "赵四" in text_of(flags) and "孙干部" in text_of(flags)

    # 5. a milestone, added and marked done with a photo; the household's plan shows it
    await say(tg, NEW_CADRE_USER, "/milestone")
    await press(tg, NEW_CADRE_USER, "添加计划事项")
    await press(tg, NEW_CADRE_USER, "赵四")
    await press(tg, NEW_CADRE_USER, "住房安全")
    await say(tg, NEW_CADRE_USER, "完成危房改造")
    await press(tg, NEW_CADRE_USER, "一个月后")
    await press(tg, NEW_CADRE_USER, "确认")
    await say(tg, NEW_CADRE_USER, "/milestone")
    await press(tg, NEW_CADRE_USER, "标记完成")
    await press(tg, NEW_CADRE_USER, "赵四")
    await press(tg, NEW_CADRE_USER, "完成危房改造")
    sent = await tg.send_photo(NEW_CADRE_USER, png())
    await tg.wait_replies(NEW_CADRE_USER, after_seq=sent["seq"])
    await press(tg, NEW_CADRE_USER, "完成")
    await press(tg, NEW_CADRE_USER, "确认完成", to=H4_USER)
    plan = await say(tg, H4_USER, "/plan")
    assert "完成危房改造" in text_of(plan) and "已完成" in text_of(plan)
    async with sessionmaker() as session:
        [item] = (await session.scalars(select(Milestone))).all()
        assert item.completed_at is not None and item.evidence_photo_file_id

    # 6. hardship: one acknowledged at once, one left past its deadline
    for text in ("孩子住院了，花了很多钱", "房顶被大风刮坏了"):
        await say(tg, H4_USER, "/hardship")
        await press(tg, H4_USER, "疾病" if "住院" in text else "住房损坏")
        await say(tg, H4_USER, text)
        await press(tg, H4_USER, "跳过")
        notice = await press(tg, H4_USER, "提交", to=NEW_CADRE_USER)
        assert text in text_of(notice) and labels(notice) == ["受理"]
        if "住院" in text:
            await press(tg, NEW_CADRE_USER, "受理", to=H4_USER)
    async with sessionmaker() as session:
        requests = (await session.scalars(select(HardshipRequest).order_by(HardshipRequest.id))).all()
        assert [r.acknowledged_at is not None for r in requests] == [True, False]
    Clock.now = START + timedelta(days=7)  # two working days went by long ago
    overdue = await say(tg, H4_USER, "/requests")
    assert "已逾期" in text_of(overdue)
    cadre_view = await say(tg, NEW_CADRE_USER, "/requests")
    assert "已逾期" in text_of(cadre_view)
