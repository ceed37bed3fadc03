"""The notification engine inside the bot process (bot/background.py): a broadcast enqueued
while the bot runs reaches every recipient once, in their language, through the running
sender; stopping leaves nothing in 'sending'."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.background import STOP_TIMEOUT, Background
from notifications.broadcasts import create_broadcast, parse_audience
from notifications.sender import RECORD_BACKOFF_BASE, RECORD_TRIES_ON_STOP, REQUEST_TIMEOUT
from storage.enums import DeliveryState
from storage.models import OutboxMessage, utcnow
from tests.e2e.conftest import app, emulator, policy, shipped_policy, tg  # noqa: F401
from tests.work.conftest import chat_people, people  # noqa: F401
from tests.work.people import H1_USER, H2_USER, H4_USER, H5_USER


async def test_running_bot_delivers_a_broadcast(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    background = Background(app)
    await background.start()
    try:
        async with sessionmaker() as session:
            created = await create_broadcast(
                session,
                texts={"zh_Hans": "村里周六开政策宣讲会", "ko": "토요일에 마을 정책 설명회가 있습니다"},
                audience=parse_audience("role=household"),
                created_by="cli",
                now=utcnow(),
            )
            await session.commit()
        assert created.recipients == 4  # H1, H2, H4, H5 are bound households
        texts = {}
        for user in (H1_USER, H2_USER, H4_USER, H5_USER):
            texts[user] = await _last_text(tg, user, "宣讲会", "설명회")
        assert "村里周六开政策宣讲会" in texts[H1_USER] and "설명회" in texts[H2_USER]
    finally:
        await background.stop()
    async with sessionmaker() as session:
        states = [r.state for r in await session.scalars(select(OutboxMessage))]
    assert states.count(DeliveryState.SENT) == 4 and DeliveryState.SENDING not in states


async def _last_text(client, user: int, *needles: str) -> str:
    """The bot's latest message to `user` holding one of `needles`, waiting up to 15 s."""
    async with asyncio.timeout(15):
        while True:
            for message in reversed(await client.messages(user)):
                text = message.get("text") or ""
                if message["from_bot"] and any(n in text for n in needles):
                    return text
            await asyncio.sleep(0.2)


def test_stop_waits_longer_than_a_send_and_the_last_recording() -> None:
    """The sender's sends give up after REQUEST_TIMEOUT (aiogram's default is 60 s) and a
    stop then tries to record a few times: Background.stop waits for all of it before it
    would cancel the sender (which would leave sent rows 'sending', sent again later)."""
    assert REQUEST_TIMEOUT < 60
    assert STOP_TIMEOUT >= REQUEST_TIMEOUT + RECORD_TRIES_ON_STOP * RECORD_BACKOFF_BASE + 10
