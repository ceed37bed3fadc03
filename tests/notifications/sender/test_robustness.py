"""The sender under adverse conditions: unparsable answers and unexpected errors, claims taken
back by another process, long 429 pauses, a database that cannot record, a stop while the
next batch is claimed, and an account unblocked right after it was found blocked (fake bots,
injected clock; SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from types import SimpleNamespace

from aiogram.exceptions import ClientDecodeError, TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import SendMessage
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

import notifications.sender as sender_module
from notifications.sender import REQUEST_TIMEOUT
from storage.enums import DeliveryState
from storage.models import Account, OutboxMessage
from storage.repositories.outbox import OutboxRepository
from tests.notifications.sender.conftest import outbox, queue, states
from tests.notifications.sender.test_retries import T0, Clock, FakeBot, _accounts

NOW = T0 + timedelta(minutes=1)
CHAT = 90_000  # the chat of the first account made by _accounts


class ChatBot:
    """Sends succeed except for chats in `errors` (chat id → factory of the exception to
    raise, every time); `on_send(n)` runs before the n-th call (1-based)."""

    def __init__(self, errors=None, on_send=None) -> None:
        self.errors = dict(errors or {})
        self.on_send = on_send
        self.calls = 0
        self.sent: list[int] = []

    async def send_message(self, chat_id, text, reply_markup=None, request_timeout=None):
        self.calls += 1
        if self.on_send is not None:
            await self.on_send(self.calls)
        if chat_id in self.errors:
            raise self.errors[chat_id]()
        self.sent.append(chat_id)
        return SimpleNamespace(message_id=len(self.sent))


def _decode_error() -> ClientDecodeError:
    return ClientDecodeError("Failed to deserialize object", ValueError("Expecting value"), "<html>502</html>")


async def _wait_for(predicate, tries: int = 1000) -> None:
    for _ in range(tries):
        if await predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


# ----------------------------------------------------------------- 1. unexpected errors


async def test_client_decode_error_is_retried_and_run_goes_on(sessionmaker, make_sender) -> None:
    accounts = await _accounts(sessionmaker, 4)
    await queue(sessionmaker, [(a, {"text": str(i)}) for i, a in enumerate(accounts)], at=T0)
    bot = ChatBot({CHAT + 1: _decode_error, CHAT + 2: lambda: RuntimeError("secret 13800001111")})
    sender = make_sender(bot=bot, clock=Clock(NOW), rng=lambda: 1.0, rate=1000.0)
    task = asyncio.create_task(sender.run())
    try:
        async def settled() -> bool:
            return await states(sessionmaker) == {DeliveryState.SENT: 2, DeliveryState.RETRY: 2}

        await _wait_for(settled)
        assert not task.done()  # the loop survived both
        rows = await outbox(sessionmaker)
        assert sorted(bot.sent) == [CHAT, CHAT + 3]
        assert rows[1].last_error.startswith("ClientDecodeError") and rows[2].last_error == "RuntimeError"
        for row in rows[1:3]:
            assert row.attempts == 1 and row.not_before == NOW + timedelta(seconds=2) and row.claimed_at is None
    finally:
        sender.stop()
        await asyncio.wait_for(task, timeout=30)
    assert DeliveryState.SENDING not in await states(sessionmaker)


async def test_run_survives_an_unexpected_exception(sessionmaker, make_sender, monkeypatch, caplog) -> None:
    monkeypatch.setattr(sender_module, "CRASH_PAUSE", 0.01)
    accounts = await _accounts(sessionmaker, 2)
    await queue(sessionmaker, [(a, {"text": "x"}) for a in accounts], at=T0)
    bot = FakeBot()
    sender = make_sender(bot=bot, clock=Clock(NOW), poll_interval=0.01)
    original = sender._claim
    failures = []

    async def claim_failing_once():
        if not failures:
            failures.append(1)
            raise ValueError("secret 13800001111")
        return await original()

    monkeypatch.setattr(sender, "_claim", claim_failing_once)
    caplog.set_level(logging.INFO, logger="notifications.sender")
    task = asyncio.create_task(sender.run())
    try:
        async def all_sent() -> bool:
            return await states(sessionmaker) == {DeliveryState.SENT: 2}

        await _wait_for(all_sent)
        assert not task.done()
    finally:
        sender.stop()
        await asyncio.wait_for(task, timeout=30)
    assert "unexpected ValueError" in caplog.text and "secret" not in caplog.text
    assert bot.timeouts == [REQUEST_TIMEOUT] * 2  # every send bounded (bot/background.py waits longer)


# ----------------------------------------------------------------- 2. claims stay fresh


async def test_restamp_renews_only_the_callers_claim(sessionmaker) -> None:
    accounts = await _accounts(sessionmaker, 1)
    await queue(sessionmaker, [(accounts[0], {"text": str(i)}) for i in range(3)], at=T0)
    other = NOW + timedelta(minutes=6)
    async with sessionmaker() as session:
        repo = OutboxRepository(session)
        ids = [r.id for r in await repo.claim(3, NOW)]
        await session.commit()
        # another process took the first back and claimed it again; the last is queued again
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[0]).values(claimed_at=other))
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[2])
                              .values(state=DeliveryState.QUEUED, claimed_at=None))
        await session.commit()

        assert await repo.restamp(ids, NOW, NOW + timedelta(minutes=1)) == {ids[1]}
        assert await repo.restamp(ids, NOW, NOW + timedelta(minutes=2)) == set()  # the stamp moved on
        assert await repo.restamp([], NOW, NOW) == set()
        await session.commit()
    rows = await outbox(sessionmaker)
    assert [(r.state, r.claimed_at) for r in rows] == [
        (DeliveryState.SENDING, other), (DeliveryState.SENDING, NOW + timedelta(minutes=1)),
        (DeliveryState.QUEUED, None),
    ]


async def test_a_batch_requeued_while_waiting_is_neither_sent_nor_recorded(sessionmaker, make_sender) -> None:
    accounts = await _accounts(sessionmaker, 3)
    await queue(sessionmaker, [(a, {"text": str(i)}) for i, a in enumerate(accounts)], at=T0)
    await queue(sessionmaker, [(accounts[0], {"cancel": True})], at=T0, prefix="c")
    clock = Clock(NOW)
    bot = FakeBot()
    sender = make_sender(bot=bot, clock=clock, batch_size=4)
    batch = await sender._claim()  # the next batch, claimed while the one before is sent ...
    assert batch is not None and len(batch.jobs) == 3 and len(batch.changes) == 1
    rows = await outbox(sessionmaker)
    other = NOW + timedelta(minutes=6)
    async with sessionmaker() as session:  # ... for so long that another process took rows back:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([rows[0].id, rows[3].id]))
                              .values(state=DeliveryState.QUEUED, claimed_at=None))
        await session.commit()
        [taken] = await OutboxRepository(session).claim(1, other)  # and is sending the first
        await session.commit()
    assert taken.id == rows[0].id
    clock.now = other + timedelta(seconds=1)

    await sender._record(*await sender._send_batch(batch))

    assert sorted(bot.sent) == [(CHAT + 1, "zh_Hans:1"), (CHAT + 2, "zh_Hans:2")]
    rows = await outbox(sessionmaker)
    assert [(r.state, r.claimed_at) for r in rows] == [
        (DeliveryState.SENDING, other), (DeliveryState.SENT, None), (DeliveryState.SENT, None),
        (DeliveryState.QUEUED, None),  # not recorded 'cancelled' by us: it is queued for anyone
    ]


async def test_a_long_429_pause_puts_the_batch_back_instead_of_waiting(sessionmaker, make_sender) -> None:
    [account] = await _accounts(sessionmaker, 1)
    await queue(sessionmaker, [(account, {"text": str(i)}) for i in range(3)], at=T0)
    flood = TelegramRetryAfter(SendMessage(chat_id=CHAT, text="x"), "Too Many Requests", retry_after=1000)
    bot = FakeBot([flood])
    sender = make_sender(bot=bot, clock=Clock(NOW), rate=1000.0)

    assert await asyncio.wait_for(sender.send_due(), timeout=60) == 3  # not 1000 s

    rows = await outbox(sessionmaker)
    assert [r.state for r in rows] == [DeliveryState.RETRY, DeliveryState.QUEUED, DeliveryState.QUEUED]
    assert rows[0].last_error.startswith("429") and all(r.attempts == 0 for r in rows)
    assert bot.sent == []
    # the next claim waits for the pause to end (shortened here), then all go out
    sender._paused_until = time.monotonic() + 0.05
    await asyncio.wait_for(sender.drain(), timeout=60)
    assert await states(sessionmaker) == {DeliveryState.SENT: 3}


async def test_no_send_starts_after_the_send_budget(sessionmaker, make_sender, monkeypatch) -> None:
    monkeypatch.setattr(sender_module, "SEND_BUDGET", 0.9)  # a chat's 2nd row waits 1.05 s
    [account] = await _accounts(sessionmaker, 1)
    await queue(sessionmaker, [(account, {"text": str(i)}) for i in range(3)], at=T0)
    bot = FakeBot()
    sender = make_sender(bot=bot, clock=Clock(NOW), rate=1000.0)

    assert await sender.send_due() == 3

    rows = await outbox(sessionmaker)
    assert [r.state for r in rows] == [DeliveryState.SENT, DeliveryState.QUEUED, DeliveryState.QUEUED]
    assert all(r.attempts == 0 and r.claimed_at is None for r in rows)
    assert bot.sent == [(CHAT, "zh_Hans:0")]


# ----------------------------------------------------------------- 3. recording


def _failing_apply(monkeypatch, failures: int | None) -> list[int]:
    """OutboxRepository.apply raises OperationalError `failures` times (None: always)."""
    calls: list[int] = []
    original = OutboxRepository.apply

    async def apply(self, changes):
        calls.append(1)
        if failures is None or len(calls) <= failures:
            raise OperationalError("UPDATE outbox", {}, ConnectionError("database away"))
        await original(self, changes)

    monkeypatch.setattr(OutboxRepository, "apply", apply)
    return calls


async def test_recording_is_retried_until_it_succeeds(sessionmaker, make_sender, monkeypatch) -> None:
    monkeypatch.setattr(sender_module, "RECORD_BACKOFF_BASE", 0.001)
    accounts = await _accounts(sessionmaker, 2)
    await queue(sessionmaker, [(a, {"text": "x"}) for a in accounts], at=T0)
    calls = _failing_apply(monkeypatch, 8)
    bot = FakeBot()
    sender = make_sender(bot=bot, clock=Clock(NOW))

    assert await sender.send_due() == 2

    assert len(calls) == 9 and len(bot.sent) == 2
    assert await states(sessionmaker) == {DeliveryState.SENT: 2}


async def test_stop_gives_up_recording_and_leaves_the_rows_for_requeue(
    sessionmaker, make_sender, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(sender_module, "RECORD_BACKOFF_BASE", 0.001)
    accounts = await _accounts(sessionmaker, 2)
    await queue(sessionmaker, [(a, {"text": "x"}) for a in accounts], at=T0)
    calls = _failing_apply(monkeypatch, None)
    bot = FakeBot()
    sender = make_sender(bot=bot, clock=Clock(NOW))
    task = asyncio.create_task(sender.send_due())

    async def failing() -> bool:
        return len(calls) >= 3

    await _wait_for(failing)
    assert not task.done()  # still retrying
    sender.stop()
    assert await asyncio.wait_for(task, timeout=30) == 2
    assert "while stopping" in caplog.text
    assert await states(sessionmaker) == {DeliveryState.SENDING: 2}  # requeue_stale's job now


# ----------------------------------------------------------------- 5. blocked accounts


async def test_an_account_unblocked_at_once_gets_the_next_notice(sessionmaker, make_sender) -> None:
    accounts = await _accounts(sessionmaker, 2)
    await queue(sessionmaker, [(a, {"text": "x"}) for a in accounts], at=T0)
    blocked = [TelegramForbiddenError(SendMessage(chat_id=CHAT, text="x"), "Forbidden: bot was blocked by the user")]
    bot = ChatBot({CHAT: lambda: blocked.pop()})
    sender = make_sender(bot=bot, clock=Clock(NOW), rate=1000.0, batch_size=1)

    assert await sender.drain() == 2
    rows = await outbox(sessionmaker)
    assert [r.state for r in rows] == [DeliveryState.FAILED, DeliveryState.SENT]
    # the user unblocks the bot and writes to it (AccountRepository.touch), a notice follows
    async with sessionmaker() as session:
        assert await session.scalar(select(Account.is_active).where(Account.id == accounts[0])) is False
        await session.execute(update(Account).where(Account.id == accounts[0]).values(is_active=True))
        await session.commit()
    del bot.errors[CHAT]
    await queue(sessionmaker, [(accounts[0], {"text": "y"})], at=T0, prefix="later")

    assert await sender.drain() == 1  # the same sender, a moment later
    rows = await outbox(sessionmaker)
    assert rows[-1].state == DeliveryState.SENT and bot.sent == [CHAT + 1, CHAT]


# ----------------------------------------------------------------- 7. stop with a claimed next batch


async def test_stop_with_the_next_batch_claimed_loses_nothing(sessionmaker, make_sender) -> None:
    accounts = await _accounts(sessionmaker, 40)
    await queue(sessionmaker, [(a, {"text": "x"}) for a in accounts], at=T0)
    seen: dict[str, int] = {}

    async def on_send(n: int) -> None:
        if n != 7:  # the 2nd send of the 2nd batch of 5
            return

        async def third_claimed() -> bool:
            async with sessionmaker() as session:
                queued = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                              .where(OutboxMessage.state == DeliveryState.QUEUED))
            return queued <= 40 - 15

        await _wait_for(third_claimed)
        seen["sending"] = (await states(sessionmaker)).get(DeliveryState.SENDING, 0)
        sender.stop()

    bot = ChatBot(on_send=on_send)
    sender = make_sender(bot=bot, clock=Clock(NOW), rate=1000.0, batch_size=5, poll_interval=0.01)
    await asyncio.wait_for(sender.run(), timeout=60)

    assert seen["sending"] >= 10  # batch 2 being sent and batch 3 claimed when stop() came
    counts = await states(sessionmaker)
    assert DeliveryState.SENDING not in counts
    assert counts[DeliveryState.SENT] == len(bot.sent) and counts[DeliveryState.QUEUED] == 40 - len(bot.sent)
    assert 7 <= len(bot.sent) <= 10 and len(set(bot.sent)) == len(bot.sent)
    rows = await outbox(sessionmaker)
    assert all(r.claimed_at is None and r.attempts == 0 for r in rows)
