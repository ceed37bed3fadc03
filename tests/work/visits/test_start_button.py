"""The 登记走访 button of a visit reminder / overdue alert, end to end: the scan queues the
notice, the real sender and renderer deliver it through the emulator, the cadre presses
the button and lands on the date step of /visit for that household. Refusals: another
cadre, a household, the public, forged ids, an ended pairing, a lifted household."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

import handlers.visits
from bot.work import visits_render as render
from storage.enums import HouseholdStatus, VisitConfirmation, VisitKind
from storage.models import Cadre, Household, Pairing
from tests.work.people import ADMIN_USER, CADRE_KO_USER, CADRE_USER, H1_USER, PUBLIC_USER, SUPERVISOR_USER
from tests.work.visits.helpers import (
    alert,
    bot_messages,
    callback_datas,
    deliver_reminders,
    labels,
    press,
    press_one,
    say_one,
    visits,
)

TZ = ZoneInfo("Asia/Shanghai")
DEC_1 = date(2026, 12, 1)
NOTES = "按提醒入户走访，了解了春耕准备情况。"
DATE_BUTTONS = ["今天", "昨天", "前天", "取消"]


def at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ)


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr(handlers.visits, "clock", lambda: at(DEC_1, 10))


async def _due(sessionmaker, dues: dict[int, date]) -> None:
    """Set the pairings' next_visit_due: {pairing id: due date}."""
    async with sessionmaker() as s:
        for pairing_id, due in dues.items():
            await s.execute(update(Pairing).where(Pairing.id == pairing_id).values(next_visit_due=due))
        await s.commit()


async def _reminder(tg, app, sessionmaker, user: int, dues: dict[int, date]) -> dict:
    """Deliver the reminders the scan of DEC_1 finds; returns the user's last bot message."""
    await _due(sessionmaker, dues)
    assert await deliver_reminders(app, sessionmaker, at(DEC_1)) >= 1
    return (await bot_messages(tg, user))[-1]


async def _press(tg, user: int, message: dict, data: str, *, forged: bool = False) -> dict:
    return await tg.press(user, message["message_id"], data, forged=forged)


async def _reply(tg, user: int, message: dict, data: str, *, forged: bool = False) -> dict:
    pressed = await _press(tg, user, message, data, forged=forged)
    [reply] = await tg.wait_replies(user, after_seq=pressed["seq"])
    answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
    assert not answer.get("show_alert"), answer
    return reply


async def _refusal(tg, user: int, message: dict, data: str) -> str:
    return await alert(tg, await _press(tg, user, message, data, forged=True))


def _context(app, user: int):
    return app.dispatcher.fsm.get_context(app.bot, chat_id=user, user_id=user)


async def _ko(app, text_fn) -> str:
    with app.i18n.context(), app.i18n.use_locale("ko"):
        return text_fn()


async def _finish(tg, user: int = CADRE_USER) -> dict:
    """From the date step to the saved visit, without location or photo."""
    await press_one(tg, user, "今天")
    await press_one(tg, user, "入户走访")
    await say_one(tg, user, NOTES)
    await press_one(tg, user, "跳过")
    summary = await press_one(tg, user, "跳过")
    assert "贫困户：张大山（一村）" in summary["text"]
    [saved] = await press(tg, user, "确认保存")
    return saved


async def test_reminder_button_starts_the_visit_at_the_date_step(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    reminder = await _reminder(tg, app, sessionmaker, CADRE_USER, {people.pairing_h1: date(2026, 12, 4)})
    assert "走访提醒" in reminder["text"] and "张大山" in reminder["text"]
    assert labels(reminder) == ["查看户卡", "登记走访"]
    assert callback_datas(reminder) == [f"hhc:{people.h1}:0", f"vst:{people.h1}"]

    ask_date = await _reply(tg, CADRE_USER, reminder, f"vst:{people.h1}")
    assert ask_date["text"].startswith("贫困户：张大山（一村）\n\n走访是哪一天？")
    assert labels(ask_date) == DATE_BUTTONS
    assert await _context(app, CADRE_USER).get_state() == "VisitDialog:visited_on"

    saved = await _finish(tg)
    assert saved["text"] == "走访记录已保存。\n已请 张大山 确认这次走访。"
    [visit] = await visits(sessionmaker)
    assert (visit.cadre_id, visit.household_id, visit.visited_on, visit.kind, visit.notes) == (
        people.cadre, people.h1, DEC_1, VisitKind.HOME, NOTES)
    assert visit.confirmation is VisitConfirmation.PENDING

    # the card button of the same reminder still opens the card
    card = await _reply(tg, CADRE_USER, reminder, f"hhc:{people.h1}:0")
    assert "张大山" in card["text"]


async def test_overdue_alert_button_replaces_an_open_dialog(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    overdue = await _reminder(tg, app, sessionmaker, CADRE_USER, {people.pairing_h1: date(2026, 11, 30)})
    assert "走访已逾期" in overdue["text"] and labels(overdue) == ["查看户卡", "登记走访"]
    # a /visit dialog on another household is open, at its date step
    await say_one(tg, CADRE_USER, "/visit")
    old_prompt = await press_one(tg, CADRE_USER, "김순자")
    assert "김순자" in old_prompt["text"]

    ask_date = await _reply(tg, CADRE_USER, overdue, callback_datas(overdue)[1])
    assert "张大山（一村）" in ask_date["text"] and labels(ask_date) == DATE_BUTTONS
    # the replaced dialog's buttons are stale
    stale = await _press(tg, CADRE_USER, old_prompt, callback_datas(old_prompt)[0])
    assert await alert(tg, stale) == "这个按钮已失效，请重新发送 /visit。"

    await _finish(tg)
    [visit] = await visits(sessionmaker)
    assert visit.household_id == people.h1


async def test_button_replaces_a_milestone_dialog_too(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    reminder = await _reminder(tg, app, sessionmaker, CADRE_USER, {people.pairing_h1: DEC_1})
    assert "今天应走访" in reminder["text"]
    menu = await say_one(tg, CADRE_USER, "/milestone")
    await _reply(tg, CADRE_USER, reminder, f"vst:{people.h1}")
    assert await _context(app, CADRE_USER).get_state() == "VisitDialog:visited_on"
    stale = await _press(tg, CADRE_USER, menu, callback_datas(menu)[0])
    assert await alert(tg, stale) == "这个按钮已失效，请重新发送 /milestone。"


async def test_korean_cadre_gets_the_buttons_and_the_prompt_in_korean(tg, app, chat_people, sessionmaker) -> None:
    from sqlalchemy import select

    async with sessionmaker() as s:
        pairing_h5 = await s.scalar(select(Pairing.id).where(Pairing.household_id == chat_people.h5))
    reminder = await _reminder(tg, app, sessionmaker, CADRE_KO_USER, {pairing_h5: date(2026, 12, 4)})
    with app.i18n.context(), app.i18n.use_locale("ko"):
        assert labels(reminder) == ["가구 카드 보기", render.start_label()]
    ask_date = await _reply(tg, CADRE_KO_USER, reminder, f"vst:{chat_people.h5}")
    assert "박철수" in ask_date["text"]
    with app.i18n.context(), app.i18n.use_locale("ko"):
        assert labels(ask_date) == [b.text for row in render.date_keyboard("x").inline_keyboard for b in row]


async def test_others_and_forged_ids_are_refused(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    reminder = await _reminder(tg, app, sessionmaker, CADRE_USER, {people.pairing_h1: date(2026, 12, 4)})
    refused = "您不能为这户登记走访：它目前不是您帮扶的贫困户。"
    # 刘 is in the middle of the dialog on 张大山
    ask_date = await _reply(tg, CADRE_USER, reminder, f"vst:{people.h1}")
    nonce = callback_datas(ask_date)[0].split(":")[2]
    for data in (f"vst:{people.h5}", f"vst:{people.h4}", "vst:0", "vst:-3", "vst:99999999999", "vst:2147483648"):
        assert await _refusal(tg, CADRE_USER, reminder, data) == refused, data
    assert await _refusal(tg, CADRE_USER, reminder, "vst:abc") == "这个按钮已失效，请重新发送命令。"
    # the refused presses left 刘's dialog as it was
    context = _context(app, CADRE_USER)
    assert await context.get_state() == "VisitDialog:visited_on"
    assert (await context.get_data())["dialog"] == nonce
    # another cadre, a household, the supervisor (no pairing of their own), admins, the public
    for user in (H1_USER, SUPERVISOR_USER, ADMIN_USER, PUBLIC_USER):
        assert await _refusal(tg, user, (await bot_messages(tg, user))[-1], f"vst:{people.h1}") == refused
        assert await _context(app, user).get_state() is None
    ko_refusal = await _refusal(tg, CADRE_KO_USER, (await bot_messages(tg, CADRE_KO_USER))[-1], f"vst:{people.h1}")
    assert ko_refusal == await _ko(app, render.start_forbidden_text)
    # 刘 finishes the visit he started from the reminder; nothing else was written
    await _finish(tg)
    assert [v.household_id for v in await visits(sessionmaker)] == [people.h1]


async def test_ended_pairing_and_lifted_household(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    await _due(sessionmaker, {people.pairing_h1: date(2026, 12, 4), people.pairing_h2: date(2026, 12, 4)})
    assert await deliver_reminders(app, sessionmaker, at(DEC_1)) == 2
    last_two = (await bot_messages(tg, CADRE_USER))[-2:]
    [for_h1] = [m for m in last_two if "张大山" in m["text"]]
    [for_h2] = [m for m in last_two if "김순자" in m["text"]]
    async with sessionmaker() as s:
        await s.execute(update(Pairing).where(Pairing.id == people.pairing_h1).values(end_date=DEC_1))
        await s.execute(update(Household).where(Household.id == people.h2).values(status=HouseholdStatus.LIFTED))
        await s.commit()
    ended = await alert(tg, await _press(tg, CADRE_USER, for_h1, f"vst:{people.h1}"))
    assert ended == "您不能为这户登记走访：它目前不是您帮扶的贫困户。"
    lifted = await alert(tg, await _press(tg, CADRE_USER, for_h2, f"vst:{people.h2}"))
    assert lifted == "这户已标注为已脱贫，这条走访提醒已不再有效。"
    assert await _context(app, CADRE_USER).get_state() is None
    assert await visits(sessionmaker) == []


async def test_leader_of_the_village_may_start_from_the_button(tg, app, chat_people, sessionmaker) -> None:
    """The rule is the dialog's (cadre_may_act): 李 leads village 1, so 赵四 (孙's) is allowed."""
    async with sessionmaker() as s:
        (await s.get(Cadre, chat_people.supervisor)).leader_village_id = chat_people.village_1
        await s.commit()
    last = (await bot_messages(tg, SUPERVISOR_USER))[-1]
    ask_date = await _reply(tg, SUPERVISOR_USER, last, f"vst:{chat_people.h4}", forged=True)
    assert "赵四（一村）" in ask_date["text"] and labels(ask_date) == DATE_BUTTONS
    assert await _refusal(tg, SUPERVISOR_USER, last, f"vst:{chat_people.h5}") == (
        "您不能为这户登记走访：它目前不是您帮扶的贫困户。")
