"""The sender against the Bot API emulator: rate limits, 429, blocked users, bad requests,
cancelled notices (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from bot import metrics
from storage.enums import DeliveryState, NotificationKind
from storage.models import Account
from tests.notifications.sender.conftest import bot_texts, open_users, outbox, queue, states


def _flood_count() -> float:
    return metrics.FLOOD_WAITS._value.get()


async def test_every_row_sent_once_in_the_recipients_language(client, sessionmaker, make_sender) -> None:
    await client.set_rate_limits(global_per_second=30, per_chat_per_second=1)
    accounts = await open_users(client, sessionmaker, 20)
    async with sessionmaker() as session:
        first = await session.get(Account, accounts[0].id)
        first.language = "ko"
        second = await session.get(Account, accounts[1].id)
        second.telegram_language = "en-US"
        await session.commit()
    rows = [(a.id, {"text": f"n{i}"}) for i, a in enumerate(accounts)]
    rows += [(accounts[2].id, {"text": "again"}), (accounts[2].id, {"text": "third"})]
    await queue(sessionmaker, rows)
    floods = _flood_count()

    handled = await make_sender().drain()

    assert handled == 22
    assert await states(sessionmaker) == {DeliveryState.SENT: 22}
    assert _flood_count() == floods  # paced under both limits: no 429
    assert await bot_texts(client, accounts[0].telegram_user_id) == ["ko:n0"]
    assert await bot_texts(client, accounts[1].telegram_user_id) == ["en:n1"]
    assert await bot_texts(client, accounts[2].telegram_user_id) == ["zh_Hans:n2", "zh_Hans:again", "zh_Hans:third"]
    for row in await outbox(sessionmaker):
        assert row.telegram_message_id and row.sent_at and row.attempts == 0 and row.claimed_at is None
    # a second drain finds nothing: nothing is sent twice
    assert await make_sender().drain() == 0
    assert len(await bot_texts(client, accounts[3].telegram_user_id)) == 1


async def test_not_yet_due_rows_wait(client, sessionmaker, make_sender) -> None:
    from datetime import UTC, datetime

    [account] = await open_users(client, sessionmaker, 1)
    await queue(sessionmaker, [(account.id, {"text": "later"})], at=datetime(2099, 1, 1, tzinfo=UTC))
    assert await make_sender().drain() == 0
    assert await states(sessionmaker) == {DeliveryState.QUEUED: 1}


async def test_429_waits_and_does_not_use_an_attempt(client, sessionmaker, make_sender) -> None:
    accounts = await open_users(client, sessionmaker, 3)
    await client.force_flood(accounts[1].telegram_user_id, count=2, retry_after=1)
    await queue(sessionmaker, [(a.id, {"text": "x"}) for a in accounts])
    floods = _flood_count()
    sender = make_sender()

    await sender.drain()

    assert _flood_count() - floods == 2
    assert sender.current_rate < sender.target_rate  # slowed down after the 429s
    rows = await outbox(sessionmaker)
    assert [r.state for r in rows] == [DeliveryState.SENT] * 3
    assert rows[1].attempts == 0 and rows[1].last_error.startswith("429")
    for account in accounts:
        assert await bot_texts(client, account.telegram_user_id) == ["zh_Hans:x"]


async def test_blocked_user_fails_and_is_not_sent_to_again(client, sessionmaker, make_sender) -> None:
    blocked, other = await open_users(client, sessionmaker, 2)
    await client.block(blocked.telegram_user_id)
    await queue(sessionmaker, [(blocked.id, {"text": "a"}), (other.id, {"text": "b"}),
                               (blocked.id, {"text": "c"}), (blocked.id, {"text": "d"})])

    await make_sender().drain()

    rows = await outbox(sessionmaker)
    assert [r.state for r in rows] == [DeliveryState.FAILED, DeliveryState.SENT, DeliveryState.FAILED,
                                       DeliveryState.FAILED]
    assert rows[0].last_error.startswith("blocked")
    sends = [c for c in await client.calls("sendMessage") if c["params"].get("chat_id") == blocked.chat_id]
    assert len(sends) == 1  # the later rows failed without a send
    async with sessionmaker() as session:
        assert (await session.get(Account, blocked.id)).is_active is False
        assert (await session.get(Account, other.id)).is_active is True

    # a notice queued later for the inactive account fails when claimed, without a send
    await queue(sessionmaker, [(blocked.id, {"text": "e"})], prefix="later")
    await make_sender().drain()
    rows = await outbox(sessionmaker)
    assert rows[-1].state == DeliveryState.FAILED and "inactive" in rows[-1].last_error
    assert len([c for c in await client.calls("sendMessage") if c["params"].get("chat_id") == blocked.chat_id]) == 1


async def test_chat_not_found_marks_the_account_inactive(client, sessionmaker, make_sender) -> None:
    async with sessionmaker() as session:
        ghost = Account(telegram_user_id=79_999, chat_id=79_999)  # never wrote to the bot
        session.add(ghost)
        await session.commit()
    await queue(sessionmaker, [(ghost.id, {"text": "x"})])
    await make_sender().drain()
    [row] = await outbox(sessionmaker)
    assert row.state == DeliveryState.FAILED and "chat not found" in row.last_error
    async with sessionmaker() as session:
        assert await session.scalar(select(Account.is_active).where(Account.id == ghost.id)) is False


async def test_bad_html_fails_without_retry(client, sessionmaker, make_sender) -> None:
    [account] = await open_users(client, sessionmaker, 1)
    await queue(sessionmaker, [(account.id, {"text": "<b>unclosed"}), (account.id, {"text": "fine"})])
    await make_sender().drain()
    rows = await outbox(sessionmaker)
    assert rows[0].state == DeliveryState.FAILED and rows[0].last_error.startswith("400")
    assert rows[1].state == DeliveryState.SENT
    async with sessionmaker() as session:
        assert (await session.get(Account, account.id)).is_active is True


async def test_render_none_cancels_and_render_errors_fail(client, sessionmaker, make_sender) -> None:
    from notifications.templates import renderer, unregister

    [account] = await open_users(client, sessionmaker, 1)
    await queue(sessionmaker, [(account.id, {"cancel": True}), (account.id, {"boom": True}),
                               (account.id, {"text": "ok"})])
    await queue(sessionmaker, [(account.id, {})], kind=NotificationKind.WEEKLY_SUMMARY, prefix="w")
    previous = unregister(NotificationKind.WEEKLY_SUMMARY)  # a kind nobody renders
    try:
        await make_sender().drain()
    finally:
        if previous is not None:
            renderer(NotificationKind.WEEKLY_SUMMARY)(previous)
    rows = await outbox(sessionmaker)
    assert [r.state for r in rows] == [DeliveryState.CANCELLED, DeliveryState.FAILED, DeliveryState.SENT,
                                       DeliveryState.FAILED]
    assert "RuntimeError" in rows[1].last_error and "no renderer" in rows[3].last_error
    assert await bot_texts(client, account.telegram_user_id) == ["zh_Hans:ok"]


async def test_pipelined_batches_keep_chat_order_and_skip_a_blocked_account(client, sessionmaker, make_sender) -> None:
    """Batches of 2 (the next claimed while the one before is sent): a chat's rows still
    arrive in order, and an account found blocked in one batch gets no send from the next
    batch, which was rendered before the first was recorded."""
    first, second, blocked = await open_users(client, sessionmaker, 3)
    await client.block(blocked.telegram_user_id)
    rows = [(blocked.id, {"text": "b0"})]
    for i in range(5):
        rows += [(first.id, {"text": f"f{i}"}), (second.id, {"text": f"s{i}"}), (blocked.id, {"text": f"b{i + 1}"})]
    await queue(sessionmaker, rows)

    handled = await make_sender(rate=1000.0, batch_size=2).drain()

    assert handled == len(rows)
    assert await bot_texts(client, first.telegram_user_id) == [f"zh_Hans:f{i}" for i in range(5)]
    assert await bot_texts(client, second.telegram_user_id) == [f"zh_Hans:s{i}" for i in range(5)]
    sends = [c for c in await client.calls("sendMessage") if c["params"].get("chat_id") == blocked.chat_id]
    assert len(sends) == 1
    assert await states(sessionmaker) == {DeliveryState.SENT: 10, DeliveryState.FAILED: 6}
