"""The 标记完成 button of a milestone reminder / overdue alert, end to end: the scan queues
the notice, the real sender and renderer deliver it through the emulator, the cadre
presses the button and lands on the evidence step for that item; completing it marks the
item done. Refusals: pressed again after done, forged / unknown ids, another cadre, a
household, an ended pairing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from bot.work import milestones_render as render
from storage.enums import MilestoneCategory
from storage.models import Milestone, Pairing
from tests.work.milestones.flow import NOW, labels, photo, press, say, text_of
from tests.work.people import ADMIN_USER, CADRE_KO_USER, CADRE_USER, H1_USER, H2_USER, PUBLIC_USER
from tests.work.visits.helpers import bot_messages, deliver_reminders

pytestmark = pytest.mark.usefixtures("frozen_clock")

TODAY = date(2026, 11, 29)  # NOW, local
TITLE = "完成<危房>改造验收"
EVIDENCE = "11月28日县住建局验收合格。"
NOT_YOURS = "您不能为该户操作：它不是您帮扶的贫困户。"
UNKNOWN = "没有找到这个计划事项，请发送 /milestone 重新选择。"


async def _seed(sessionmaker, household: int, due: date, title: str = TITLE) -> int:
    async with sessionmaker() as s:
        row = Milestone(household_id=household, category=MilestoneCategory.HOUSING, title=title, due_date=due)
        s.add(row)
        await s.commit()
        return row.id


async def _item(sessionmaker, milestone_id: int) -> Milestone:
    async with sessionmaker() as s:
        return await s.get(Milestone, milestone_id)


async def _notice(tg, app, sessionmaker, user: int = CADRE_USER) -> dict:
    """Deliver what the reminder scan of TODAY finds; the user's last bot message."""
    assert await deliver_reminders(app, sessionmaker, NOW) >= 1
    return (await bot_messages(tg, user))[-1]


def _data(message: dict) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def _reply(tg, user: int, message: dict, data: str, *, forged: bool = False) -> dict:
    pressed = await tg.press(user, message["message_id"], data, forged=forged)
    [reply] = await tg.wait_replies(user, after_seq=pressed["seq"])
    answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
    assert not answer.get("show_alert"), answer
    return reply


async def _alert(tg, user: int, message: dict, data: str) -> str:
    pressed = await tg.press(user, message["message_id"], data, forged=True)
    answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
    assert answer.get("show_alert"), answer
    return answer["text"]


def _context(app, user: int):
    return app.dispatcher.fsm.get_context(app.bot, chat_id=user, user_id=user)


async def test_reminder_button_opens_the_evidence_step_and_marks_done(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    item_id = await _seed(sessionmaker, people.h1, TODAY + timedelta(days=1))
    reminder = await _notice(tg, app, sessionmaker)
    assert "计划事项提醒" in reminder["text"] and "完成<危房>改造验收" in reminder["text"]
    assert labels(reminder) == ["查看户卡", "标记完成"]
    assert _data(reminder) == [f"hhc:{people.h1}:0", f"msx:{item_id}"]

    evidence = await _reply(tg, CADRE_USER, reminder, f"msx:{item_id}")
    assert text_of(evidence) == (
        "贫困户：张大山\n\n事项：完成<危房>改造验收\n请发送完成情况的证明：一段文字说明，或一张照片（可以附说明文字）。")
    assert labels(evidence) == ["取消"]
    assert await _context(app, CADRE_USER).get_state() == "MilestoneDialog:done_evidence"
    received = await say(tg, CADRE_USER, EVIDENCE)
    assert labels(received) == ["完成", "取消"]
    summary = await press(tg, CADRE_USER, "完成")
    assert "贫困户：张大山" in text_of(summary) and f"说明：{EVIDENCE}" in text_of(summary)
    done = await press(tg, CADRE_USER, "确认完成")
    assert text_of(done) == "已将“完成<危房>改造验收”标记为已完成。\n已通知该户。"
    item = await _item(sessionmaker, item_id)
    assert (item.completed_at, item.evidence_text, item.evidence_photo_file_id) == (NOW, EVIDENCE, None)
    assert "完成<危房>改造验收" in text_of((await bot_messages(tg, H1_USER))[-1])

    # pressed again on the same reminder: already done, no dialog
    again = await _alert(tg, CADRE_USER, reminder, f"msx:{item_id}")
    assert again == "“完成<危房>改造验收”已于 2026年11月29日 完成，无需再标记。"
    assert await _context(app, CADRE_USER).get_state() is None


async def test_overdue_alert_button_replaces_an_open_dialog(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    item_id = await _seed(sessionmaker, people.h2, TODAY - timedelta(days=1), "补办医保")
    alert_message = await _notice(tg, app, sessionmaker)
    assert "计划事项逾期" in alert_message["text"] and labels(alert_message) == ["查看户卡", "标记完成"]
    # the cadre is adding an item elsewhere, at the title step
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "添加计划事项")
    categories = await press(tg, CADRE_USER, "张大山")
    evidence = await _reply(tg, CADRE_USER, alert_message, _data(alert_message)[1])
    assert text_of(evidence).startswith("贫困户：김순자\n\n事项：补办医保")
    # the replaced dialog's buttons are stale
    stale = await _alert(tg, CADRE_USER, categories, _data(categories)[0])
    assert stale == "这个按钮已失效，请重新发送 /milestone。"
    received = await photo(tg, CADRE_USER, caption="医保卡已办好")
    assert labels(received) == ["完成", "取消"]
    await press(tg, CADRE_USER, "完成")
    done = await press(tg, CADRE_USER, "确认完成")
    assert text_of(done).startswith("已将“补办医保”标记为已完成。")
    item = await _item(sessionmaker, item_id)
    assert item.completed_at == NOW and item.evidence_text == "医保卡已办好" and item.evidence_photo_file_id
    async with sessionmaker() as s:
        assert await s.scalar(select(Milestone.id).where(Milestone.household_id == people.h1)) is None


async def test_cancel_from_the_evidence_step_writes_nothing(tg, app, chat_people, sessionmaker) -> None:
    item_id = await _seed(sessionmaker, chat_people.h1, TODAY + timedelta(days=7))
    reminder = await _notice(tg, app, sessionmaker)
    await _reply(tg, CADRE_USER, reminder, f"msx:{item_id}")
    assert text_of(await say(tg, CADRE_USER, "/cancel")) == "已取消，没有保存任何内容。"
    assert (await _item(sessionmaker, item_id)).completed_at is None
    # the button works again afterwards
    evidence = await _reply(tg, CADRE_USER, reminder, f"msx:{item_id}")
    assert "事项：完成<危房>改造验收" in text_of(evidence)


async def test_forged_unknown_and_foreign_items(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    mine = await _seed(sessionmaker, people.h1, TODAY + timedelta(days=1))
    foreign = await _seed(sessionmaker, people.h5, TODAY + timedelta(days=30), "박철수의 일")
    reminder = await _notice(tg, app, sessionmaker)
    evidence = await _reply(tg, CADRE_USER, reminder, f"msx:{mine}")
    assert "事项：完成<危房>改造验收" in text_of(evidence)
    # while 刘 is at the evidence step: forged and foreign presses are refused, the step stays
    assert await _alert(tg, CADRE_USER, reminder, f"msx:{foreign}") == NOT_YOURS
    for data in ("msx:0", "msx:-1", f"msx:{foreign + 1000}", "msx:99999999999", "msx:2147483648"):
        assert await _alert(tg, CADRE_USER, reminder, data) == UNKNOWN, data
    assert await _alert(tg, CADRE_USER, reminder, "msx:abc") == "这个按钮已失效，请重新发送命令。"
    context = _context(app, CADRE_USER)
    assert await context.get_state() == "MilestoneDialog:done_evidence"
    assert (await context.get_data())["ms"] == mine
    # the others: another cadre (in Korean), a household, an admin, the public
    with app.i18n.context(), app.i18n.use_locale("ko"):
        ko_refusal = render.forbidden_text()
    last_ko = (await bot_messages(tg, CADRE_KO_USER))[-1]
    assert await _alert(tg, CADRE_KO_USER, last_ko, f"msx:{mine}") == ko_refusal
    for user in (H1_USER, H2_USER, ADMIN_USER, PUBLIC_USER):
        refusal = ko_refusal if user == H2_USER else NOT_YOURS
        last = (await bot_messages(tg, user))[-1]
        assert await _alert(tg, user, last, f"msx:{mine}") == refusal
        assert await _alert(tg, user, last, "msx:99999") == refusal  # no hint that it does not exist
        assert await _context(app, user).get_state() is None
    # 朴 may mark his own item from the button
    evidence_ko = await _reply(tg, CADRE_KO_USER, last_ko, f"msx:{foreign}", forged=True)  # on an old message
    assert "박철수의 일" in text_of(evidence_ko)
    # 刘 still completes his item
    await say(tg, CADRE_USER, EVIDENCE)
    await press(tg, CADRE_USER, "完成")
    await press(tg, CADRE_USER, "确认完成")
    assert (await _item(sessionmaker, mine)).completed_at == NOW
    assert (await _item(sessionmaker, foreign)).completed_at is None


async def test_pairing_ended_after_the_reminder(tg, app, chat_people, sessionmaker) -> None:
    item_id = await _seed(sessionmaker, chat_people.h1, TODAY + timedelta(days=1))
    reminder = await _notice(tg, app, sessionmaker)
    async with sessionmaker() as s:
        await s.execute(update(Pairing).where(Pairing.id == chat_people.pairing_h1).values(end_date=TODAY))
        await s.commit()
    assert await _alert(tg, CADRE_USER, reminder, f"msx:{item_id}") == NOT_YOURS
    assert await _context(app, CADRE_USER).get_state() is None


async def test_done_elsewhere_while_at_the_evidence_step(tg, app, chat_people, sessionmaker) -> None:
    """Another device marks the item done meanwhile: the dialog says so and writes nothing."""
    item_id = await _seed(sessionmaker, chat_people.h1, TODAY + timedelta(days=1))
    reminder = await _notice(tg, app, sessionmaker)
    await _reply(tg, CADRE_USER, reminder, f"msx:{item_id}")
    async with sessionmaker() as s:
        await s.execute(update(Milestone).where(Milestone.id == item_id).values(
            completed_at=NOW - timedelta(minutes=5), evidence_text="另一台设备"))
        await s.commit()
    reply = await say(tg, CADRE_USER, EVIDENCE)
    assert "这一项已经标记为完成了，无需重复操作。" in text_of(reply)
    assert (await _item(sessionmaker, item_id)).evidence_text == "另一台设备"
