"""The scheduler inside the running bot fires the scans on its own, and the running sender
delivers what they enqueue: no `run_all_scans` or `scan --at` call in between."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.background import Background
from bot.work.rules import local_today
from storage.enums import DeliveryState, NotificationKind
from storage.models import OutboxMessage, Pairing, utcnow
from tests.e2e.conftest import app, emulator, policy, shipped_policy, tg  # noqa: F401
from tests.work.conftest import chat_people, people  # noqa: F401
from tests.work.people import CADRE_USER


async def test_the_scheduler_scans_and_the_sender_delivers(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    # no quiet hours, whatever the time of day the test runs at
    app.settings = app.settings.model_copy(update={"quiet_hours": ""})
    due = local_today(app.settings.tz, utcnow()) + timedelta(days=3)
    async with sessionmaker() as session:
        await session.execute(update(Pairing).where(Pairing.id == chat_people.pairing_h1).values(next_visit_due=due))
        await session.commit()
    before = len(await tg.messages(CADRE_USER))

    background = Background(app, first_scan=utcnow() + timedelta(seconds=1))
    await background.start()
    try:
        async with asyncio.timeout(20):
            while True:
                texts = [m.get("text") or "" for m in (await tg.messages(CADRE_USER))[before:]]
                if any("走访提醒" in t for t in texts):
                    break
                await asyncio.sleep(0.2)
    finally:
        await background.stop()
    async with sessionmaker() as session:
        rows = (await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == NotificationKind.VISIT_REMINDER))).all()
    assert [r.state for r in rows] == [DeliveryState.SENT]
    assert rows[0].payload["pairing_id"] == chat_people.pairing_h1
