"""A /visit dialog survives a bot restart: its state lives in SQL (FsmRecord), not memory."""

from __future__ import annotations

import asyncio

import handlers.visits
from bot.app import build_application
from bot.runner import on_startup
from storage.enums import VisitConfirmation, VisitKind
from tests.work.people import CADRE_USER, H1_USER
from tests.work.visits.helpers import NOW, last_bot, press, press_one, say_one, visits


async def test_dialog_survives_a_restart(tg, app, chat_people, settings, emulator, policy, sessionmaker,
                                         monkeypatch) -> None:
    monkeypatch.setattr(handlers.visits, "clock", lambda: NOW)
    await say_one(tg, CADRE_USER, "/visit")
    await press_one(tg, CADRE_USER, "张大山")
    await press_one(tg, CADRE_USER, "今天")

    # stop the running bot and close it, as a process exit would
    await app.dispatcher.stop_polling()
    await app.close()

    async def already_stopped() -> None:  # the fixture's teardown stops it again
        return None

    monkeypatch.setattr(app.dispatcher, "stop_polling", already_stopped)

    restarted = build_application(settings.model_copy(update={"telegram_api_url": emulator.base_url}),
                                  policy=policy)
    await on_startup(restarted)
    polling = asyncio.create_task(
        restarted.dispatcher.start_polling(
            restarted.bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    try:
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
    finally:
        await restarted.dispatcher.stop_polling()
        await asyncio.wait_for(polling, timeout=10)
        await restarted.close()
