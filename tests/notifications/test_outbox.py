"""Enqueueing is idempotent (notifications/outbox.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from notifications.outbox import Notice, enqueue, notice_key
from storage.enums import DeliveryState, NotificationKind
from storage.models import Account, OutboxMessage

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


async def _account(session, user_id: int) -> int:
    account = Account(telegram_user_id=user_id, chat_id=user_id)
    session.add(account)
    await session.flush()
    return account.id


def test_notice_key() -> None:
    assert notice_key(NotificationKind.VISIT_REMINDER, 7, "pairing-3", date(2026, 12, 1)) == (
        "visit_reminder:7:pairing-3:2026-12-01"
    )
    assert notice_key("broadcast", 7, "broadcast-9") == "broadcast:7:broadcast-9"
    with pytest.raises(ValueError):
        notice_key("x", 1, "y" * 300)


async def test_enqueue_twice_inserts_once(session) -> None:
    a, b = await _account(session, 1), await _account(session, 2)
    notices = [
        Notice(notice_key(NotificationKind.VISIT_REMINDER, acc, "pairing-1", date(2026, 12, 4)),
               NotificationKind.VISIT_REMINDER, acc, NOW, {"pairing_id": 1})
        for acc in (a, b)
    ]
    assert await enqueue(session, notices) == 2
    assert await enqueue(session, notices) == 0  # the scan ran again
    assert await enqueue(session, [*notices, Notice("digest:1:2026-12-01", NotificationKind.DIGEST, a, NOW)]) == 1
    await session.commit()
    rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [r.state for r in rows] == [DeliveryState.QUEUED] * 3
    assert rows[0].payload == {"pairing_id": 1} and rows[0].not_before == NOW and rows[0].attempts == 0


async def test_enqueue_many_in_batches(session) -> None:
    account = await _account(session, 1)
    notices = [Notice(f"digest:{account}:{i}", NotificationKind.DIGEST, account, NOW) for i in range(2500)]
    assert await enqueue(session, notices) == 2500
    assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 2500
