"""The durable outbox: enqueue notifications idempotently.

Every outgoing notification is one `OutboxMessage` row. Its `key` says what it is about
(`notice_key`), and the table's unique index on it makes enqueueing idempotent: a scan
that runs twice, two bot instances running the same scan, or a broadcast started twice
insert each notice once (`INSERT ... ON CONFLICT (key) DO NOTHING`). Rows carry ids and
dates only (`payload`); the text is rendered at send time in the recipient's language
(notifications/templates.py), after checking that the notice still holds.

`enqueue` takes a list of `Notice` (a few thousand at most: scans); a broadcast to a
million recipients is one `INSERT ... SELECT` built with `insert_ignoring_duplicates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import DeliveryState, NotificationKind
from storage.models import OutboxMessage

BATCH = 1000  # rows per INSERT statement in `enqueue`


@dataclass(frozen=True)
class Notice:
    key: str
    kind: NotificationKind
    account_id: int
    not_before: datetime  # aware; when it may go out (already moved out of quiet hours)
    payload: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False
    broadcast_id: int | None = None


def notice_key(kind: NotificationKind | str, account_id: int, subject: str, due: date | str | None = None) -> str:
    """'visit_reminder:12:pairing-7:2026-12-01': what the notice is, to whom, about what, for
    which due date. A changed due date is a new notice (and the old one is cancelled when it
    no longer holds at send time)."""
    kind = kind.value if isinstance(kind, NotificationKind) else kind
    parts = [kind, str(account_id), subject]
    if due is not None:
        parts.append(due.isoformat() if isinstance(due, date) else due)
    key = ":".join(parts)
    if len(key) > 200:
        raise ValueError("notice key longer than 200 characters")
    return key


def insert_ignoring_duplicates(session: AsyncSession) -> Insert:
    """`INSERT INTO outbox ... ON CONFLICT (key) DO NOTHING` for the session's database;
    add `.values(...)` or `.from_select(...)`."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(OutboxMessage).on_conflict_do_nothing(index_elements=[OutboxMessage.key])
    if dialect == "sqlite":
        return sqlite.insert(OutboxMessage).on_conflict_do_nothing(index_elements=[OutboxMessage.key])
    raise RuntimeError(f"the outbox supports SQLite and PostgreSQL, not {dialect}")


async def enqueue(session: AsyncSession, notices: Sequence[Notice]) -> int:
    """Insert the notices that are not in the outbox yet; returns how many were new. Does
    not commit (the caller's transaction decides)."""
    inserted = 0
    for start in range(0, len(notices), BATCH):
        chunk = notices[start : start + BATCH]
        rows = [
            {
                "key": n.key,
                "kind": n.kind,
                "account_id": n.account_id,
                "payload": n.payload,
                "urgent": n.urgent,
                "broadcast_id": n.broadcast_id,
                "state": DeliveryState.QUEUED,
                "attempts": 0,
                "not_before": n.not_before,
            }
            for n in chunk
        ]
        result = await session.execute(insert_ignoring_duplicates(session).values(rows))
        inserted += max(result.rowcount or 0, 0)
    return inserted
