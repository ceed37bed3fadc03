"""Fixtures of the sender tests: the emulator (no bot polling: the sender is alone), users
with an open chat, their accounts, a test renderer, and a Sender on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_bot
from bot.emulator.client import EmulatorClient
from bot.i18n import create_i18n
from notifications.outbox import Notice, enqueue
from notifications.sender import Sender, load_renderers
from storage.enums import DeliveryState, NotificationKind
from storage.models import Account, OutboxMessage
from tests.conftest import TEST_TOKEN
from tests.e2e.conftest import emulator  # noqa: F401
from tests.notifications.sender import fake_renderer

BASE_USER = 70_000


@pytest.fixture(autouse=True)
def test_renderer():
    load_renderers()  # the real renderers first, so that none replaces ours mid-test
    previous = fake_renderer.install()
    yield
    fake_renderer.restore(previous)


@pytest.fixture
async def client(emulator) -> AsyncIterator[EmulatorClient]:  # noqa: F811
    async with EmulatorClient(emulator.base_url, TEST_TOKEN) as c:
        yield c


async def open_users(client: EmulatorClient, sessionmaker, count: int, *, start: int = BASE_USER,
                     language: str | None = None) -> list[Account]:
    """`count` emulator users who wrote to the bot, and their accounts."""
    accounts = []
    for user_id in range(start, start + count):
        await client.add_user(user_id, first_name=f"u{user_id}", language_code=language)
        await client.send_text(user_id, "/start")
        accounts.append(Account(telegram_user_id=user_id, chat_id=user_id, telegram_language=language))
    async with sessionmaker() as session:
        session.add_all(accounts)
        await session.commit()
    return accounts


async def queue(sessionmaker, rows: list[tuple[int, dict[str, Any]]], *, at: datetime | None = None,
                kind: NotificationKind = fake_renderer.KIND, prefix: str = "t") -> None:
    """Enqueue one row per (account_id, payload), keys `prefix:i`, due `at` (default long ago)."""
    at = at or datetime(2020, 1, 1, tzinfo=UTC)
    notices = [Notice(f"{prefix}:{i}", kind, acc, at + timedelta(microseconds=i), payload)
               for i, (acc, payload) in enumerate(rows)]
    async with sessionmaker() as session:
        await enqueue(session, notices)
        await session.commit()


async def outbox(sessionmaker) -> list[OutboxMessage]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def states(sessionmaker) -> dict[DeliveryState, int]:
    counts: dict[DeliveryState, int] = {}
    for row in await outbox(sessionmaker):
        counts[row.state] = counts.get(row.state, 0) + 1
    return counts


async def bot_texts(client: EmulatorClient, user_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in await client.messages(user_id) if m.get("from_bot")]


@pytest.fixture
async def make_sender(settings, sessionmaker, emulator) -> AsyncIterator[Callable[..., Sender]]:  # noqa: F811
    bots = []

    def make(**kwargs: Any) -> Sender:
        overrides = kwargs.pop("settings", {})
        conf = settings.model_copy(update={"telegram_api_url": emulator.base_url, **overrides})
        bot = kwargs.pop("bot", None)
        if bot is None:
            bot = create_bot(conf)
            bots.append(bot)
        return Sender(bot, sessionmaker, create_i18n(conf.default_locale), conf, **kwargs)

    yield make
    for bot in bots:
        await bot.session.close()
