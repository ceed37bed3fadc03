"""A /visit dialog survives a bot restart: its state lives in SQL (FsmRecord), not memory."""

from __future__ import annotations

import handlers.visits
from storage.enums import VisitConfirmation, VisitKind
from tests.work.people import CADRE_USER, H1_USER
from tests.work.visits.helpers import NOW, last_bot, press, press_one, say_one, visits


async def test_dialog_survives_a_restart(tg, chat_people, sessionmaker, restart_bot, monkeypatch) -> None:
    monkeypatch.setattr(handlers.visits, "clock", lambda: NOW)
    await say_one(tg, CADRE_USER, "/visit")
    await press_one(tg, CADRE_USER, "张大山")
    await press_one(tg, CADRE_USER, "今天")

    await restart_bot()
    # the old message's buttons still work: the dialog (and its nonce) came back from SQL
    await press_one(tg, CADRE_USER, "入户走访")
    await say_one(tg, CADRE_USER, "重启以后继续登记")
    await press_one(tg, CADRE_USER, "跳过")
    await press_one(tg, CADRE_USER, "跳过")
    [saved] = await press(tg, CADRE_USER, "确认保存")
    assert saved["text"] == "走访记录已保存。\n已请 张大山 确认这次走访。"
    [visit] = await visits(sessionmaker)
    assert (visit.kind, visit.notes, visit.confirmation) == (
        VisitKind.HOME, "重启以后继续登记", VisitConfirmation.PENDING)
    assert "请问这次走访确实发生了吗" in (await last_bot(tg, H1_USER))["text"]
