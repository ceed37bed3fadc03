"""Retries, backoff, crash recovery, graceful stop and concurrent senders, with a fake bot
(the emulator cannot answer 5xx or time out) and an injected clock (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramServerError
from aiogram.methods import SendMessage
from sqlalchemy import update

from notifications.sender import BACKOFF_CAP, backoff_delay
from storage.enums import DeliveryState
from storage.models import Account, OutboxMessage
from storage.repositories.outbox import OutboxRepository
from tests.notifications.sender.conftest import outbox, queue, states

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


class FakeBot:
    """Records sends; `errors` is a list of exceptions (or None) consumed one per send."""

    def __init__(self, errors=None, delay: float = 0.0) -> None:
        self.errors = list(errors or [])
        self.delay = delay
        self.sent: list[tuple[int, str]] = []
        self.timeouts: list[int | None] = []

    async def send_message(self, chat_id, text, reply_markup=None, request_timeout=None):
        self.timeouts.append(request_timeout)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.errors:
            error = self.errors.pop(0)
            if error is not None:
                raise error
        self.sent.append((chat_id, text))
        return SimpleNamespace(message_id=len(self.sent))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def server_error() -> TelegramServerError:
    return TelegramServerError(SendMessage(chat_id=1, text="x"), "Internal Server Error")


async def _accounts(sessionmaker, count: int) -> list[int]:
    async with sessionmaker() as session:
        accounts = [Account(telegram_user_id=90_000 + i, chat_id=90_000 + i) for i in range(count)]
        session.add_all(accounts)
        await session.commit()
        return [a.id for a in accounts]


def test_backoff_is_full_jitter_and_capped() -> None:
    assert backoff_delay(1, lambda: 1.0) == 2.0
    assert backoff_delay(3, lambda: 1.0) == 8.0
    assert backoff_delay(3, lambda: 0.5) == 4.0
    assert backoff_delay(30, lambda: 1.0) == BACKOFF_CAP
    assert backoff_delay(2, lambda: 0.0) == 0.0


async def test_5xx_and_timeouts_retry_with_backoff_then_send(sessionmaker, make_sender) -> None:
    [account] = await _accounts(sessionmaker, 1)
    await queue(sessionmaker, [(account, {"text": "x"})], at=T0)
    clock = Clock(T0)
    bot = FakeBot([server_error(), TelegramNetworkError(SendMessage(chat_id=1, text="x"), "Request timeout error")])
    sender = make_sender(bot=bot, clock=clock, rng=lambda: 1.0)

    assert await sender.drain() == 1
    [row] = await outbox(sessionmaker)
    assert row.state == DeliveryState.RETRY and row.attempts == 1
    assert row.not_before == T0 + timedelta(seconds=2) and "TelegramServerError" in row.last_error
    assert await sender.drain() == 0  # not due yet

    clock.now = T0 + timedelta(seconds=2)
    await sender.drain()
    [row] = await outbox(sessionmaker)
    assert row.state == DeliveryState.RETRY and row.attempts == 2
    assert row.not_before == clock.now + timedelta(seconds=4)

    clock.now += timedelta(seconds=4)
    await sender.drain()
    [row] = await outbox(sessionmaker)
    assert row.state == DeliveryState.SENT and row.attempts == 2 and bot.sent == [(90_000, "zh_Hans:x")]


async def test_retries_are_limited(sessionmaker, make_sender) -> None:
    [account] = await _accounts(sessionmaker, 1)
    await queue(sessionmaker, [(account, {"text": "x"})], at=T0)
    clock = Clock(T0)
    bot = FakeBot([server_error()] * 10)
    sender = make_sender(bot=bot, clock=clock, rng=lambda: 0.0, settings={"send_max_attempts": 3})
    for _ in range(5):
        await sender.drain()
    [row] = await outbox(sessionmaker)
    assert row.state == DeliveryState.FAILED and row.attempts == 3 and "gave up after 3" in row.last_error
    assert bot.sent == [] and len(bot.errors) == 7


async def test_rows_left_sending_by_a_crash_are_requeued(sessionmaker, make_sender) -> None:
    accounts = await _accounts(sessionmaker, 3)
    await queue(sessionmaker, [(a, {"text": str(i)}) for i, a in enumerate(accounts)], at=T0)
    clock = Clock(T0 + timedelta(minutes=10))
    async with sessionmaker() as session:  # a process claimed all three, then died
        claimed = await OutboxRepository(session).claim(10, T0 + timedelta(seconds=1))
        await session.commit()
        # ... and one was claimed only a minute ago by a live process
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == claimed[2].id)
                              .values(claimed_at=clock.now - timedelta(minutes=1)))
        await session.commit()
    assert [r.state for r in claimed] == [DeliveryState.SENDING] * 3
    bot = FakeBot()
    sender = make_sender(bot=bot, clock=clock)

    assert await sender.requeue_stale() == 2
    await sender.drain()
    rows = await outbox(sessionmaker)
    assert [r.state for r in rows] == [DeliveryState.SENT, DeliveryState.SENT, DeliveryState.SENDING]
    assert sorted(bot.sent) == [(90_000, "zh_Hans:0"), (90_001, "zh_Hans:1")]


async def test_claim_takes_due_rows_oldest_first(sessionmaker) -> None:
    accounts = await _accounts(sessionmaker, 1)
    async with sessionmaker() as session:
        for i, minutes in enumerate((5, 1, 3, 60)):
            session.add(OutboxMessage(key=f"k{i}", kind="digest", account_id=accounts[0],
                                      not_before=T0 + timedelta(minutes=minutes), payload={}))
        await session.commit()
        repo = OutboxRepository(session)
        rows = await repo.claim(2, T0 + timedelta(minutes=10))
        assert [r.key for r in rows] == ["k1", "k2"]
        assert all(r.state == DeliveryState.SENDING and r.claimed_at == T0 + timedelta(minutes=10) for r in rows)
        rows = await repo.claim(5, T0 + timedelta(minutes=10))
        assert [r.key for r in rows] == ["k0"]  # k3 is not due yet
        await repo.mark_retry(rows[0].id, "x", T0, count_attempt=True)
        await repo.mark_cancelled(rows[0].id)
        await session.commit()
    assert await states(sessionmaker) == {DeliveryState.SENDING: 2, DeliveryState.CANCELLED: 1,
                                          DeliveryState.QUEUED: 1}


async def test_graceful_stop_leaves_nothing_sending(sessionmaker, make_sender) -> None:
    accounts = await _accounts(sessionmaker, 40)
    await queue(sessionmaker, [(a, {"text": "x"}) for a in accounts], at=T0)
    bot = FakeBot(delay=0.01)
    sender = make_sender(bot=bot, clock=Clock(T0 + timedelta(minutes=1)), rate=20.0, batch_size=40)
    task = asyncio.create_task(sender.run())
    for _ in range(1000):
        if len(bot.sent) >= 5 or task.done():
            break
        await asyncio.sleep(0.01)
    sender.stop()
    await asyncio.wait_for(task, timeout=10)
    counts = await states(sessionmaker)
    assert DeliveryState.SENDING not in counts
    assert counts[DeliveryState.SENT] == len(bot.sent) and counts.get(DeliveryState.QUEUED, 0) == 40 - len(bot.sent)
    assert 5 <= len(bot.sent) < 40


async def test_two_senders_never_send_the_same_row(sessionmaker, make_sender, db_url) -> None:
    accounts = await _accounts(sessionmaker, 150)
    await queue(sessionmaker, [(a, {"text": "x"}) for a in accounts], at=T0)
    bot = FakeBot(delay=0.001)
    senders = [make_sender(bot=bot, clock=Clock(T0 + timedelta(minutes=1)), rate=1000.0, batch_size=10) for _ in range(2)]
    handled = await asyncio.gather(*(s.drain() for s in senders))
    assert sum(handled) == 150
    assert sorted(chat for chat, _ in bot.sent) == sorted(90_000 + i for i in range(150))
    assert await states(sessionmaker) == {DeliveryState.SENT: 150}
    if db_url.startswith("postgresql"):
        assert all(h > 0 for h in handled)  # SKIP LOCKED: both shared the work


async def test_skip_locked_on_postgresql(sessionmaker, db_url) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: a second claim waits instead of skipping")
    accounts = await _accounts(sessionmaker, 1)
    await queue(sessionmaker, [(accounts[0], {"text": str(i)}) for i in range(6)], at=T0)
    async with sessionmaker() as first, sessionmaker() as second:
        a = await OutboxRepository(first).claim(3, T0 + timedelta(seconds=1))  # transaction still open: rows locked
        b = await OutboxRepository(second).claim(10, T0 + timedelta(seconds=1))
        assert {r.id for r in a}.isdisjoint({r.id for r in b}) and len(a) == len(b) == 3
        await first.commit()
        await second.commit()
