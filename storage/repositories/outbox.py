"""Claiming outbox rows for delivery and recording what became of them (notifications/sender.py).

A row goes queued/retry → sending (claimed, `claimed_at` set, committed before any send) →
sent / retry / failed / cancelled. `claim` is one statement on both databases:

    UPDATE outbox SET state='sending', claimed_at=:now
    WHERE id IN (SELECT id FROM outbox WHERE state IN ('queued','retry') AND not_before <= :now
                 ORDER BY not_before, id LIMIT :n [FOR UPDATE SKIP LOCKED])
    RETURNING *

On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several workers claim at once without taking
the same row (a row locked by another claim is skipped, not waited for); SQLite has a single
writer, so the plain statement is already exclusive. The subquery walks
ix_outbox_state_not_before.

Crash bound: a process killed between claiming and recording leaves its rows in 'sending';
`requeue_stale` puts them back after a while, so each of them may be sent twice. Nothing
else can be: a row is recorded sent in the same batch it was claimed in, and a live process
renews its claim (`restamp`) just before sending and records well within the stale delay,
dropping the rows whose claim was taken back. The bound is therefore what the killed process
had sent but not recorded: two claim batches with its pipeline (notifications/sender.py).

Methods do not commit: the caller's transaction decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import DeliveryState
from storage.models import Account, OutboxMessage

ERROR_MAX = 200  # length of outbox.last_error

_DUE = (DeliveryState.QUEUED, DeliveryState.RETRY)


def _error(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, limit: int, now: datetime) -> list[OutboxMessage]:
        """Up to `limit` due rows (queued or retry, not_before <= now), oldest not_before
        first, switched to 'sending' with claimed_at=now."""
        due = (
            select(OutboxMessage.id)
            .where(OutboxMessage.state.in_(_DUE), OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite compiles it away
        )
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(due.scalar_subquery()))
            .values(state=DeliveryState.SENDING, claimed_at=now)
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        rows = list((await self.session.scalars(stmt)).all())
        rows.sort(key=lambda r: (r.not_before, r.id))
        return rows

    async def restamp(self, row_ids: Iterable[int], claimed_at: datetime, now: datetime) -> set[int]:
        """Renew a claim: rows still 'sending' under the claim stamped `claimed_at` get
        claimed_at=now, in one statement

            UPDATE outbox SET claimed_at=:now
            WHERE id IN (...) AND state='sending' AND claimed_at=:claimed_at RETURNING id

        Returns the ids that came back; a missing one was requeued meanwhile (requeue_stale,
        maybe claimed again by another process): the caller must neither send nor record it."""
        ids = sorted(set(row_ids))
        if not ids:
            return set()
        stmt = (
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.state == DeliveryState.SENDING,
                OutboxMessage.claimed_at == claimed_at,
            )
            .values(claimed_at=now)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        return set((await self.session.scalars(stmt)).all())

    async def requeue_stale(self, older_than: datetime) -> int:
        """Rows left in 'sending' by a killed process (claimed before `older_than`) go back
        to 'queued'; returns how many."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.state == DeliveryState.SENDING, OutboxMessage.claimed_at < older_than)
            .values(state=DeliveryState.QUEUED, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        return max(result.rowcount or 0, 0)

    async def mark_sent(self, row_id: int, message_id: int | None, now: datetime) -> None:
        await self.apply([sent_change(row_id, message_id, now)])

    async def mark_retry(self, row_id: int, error: str, next_at: datetime, count_attempt: bool) -> None:
        """Back to the queue as 'retry' at `next_at`; a 429 wait passes count_attempt=False."""
        values: dict[str, Any] = {
            "state": DeliveryState.RETRY, "last_error": _error(error), "not_before": next_at, "claimed_at": None,
        }
        if count_attempt:
            values["attempts"] = OutboxMessage.attempts + 1
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values)
            .execution_options(synchronize_session=False)
        )

    async def mark_failed(self, row_id: int, reason: str) -> None:
        await self.apply([failed_change(row_id, reason)])

    async def mark_cancelled(self, row_id: int) -> None:
        await self.apply([cancelled_change(row_id)])

    async def release(self, row_ids: Iterable[int]) -> int:
        """Rows claimed but not sent (a graceful stop, a failed preparation) go back to
        'queued' unchanged."""
        ids = list(row_ids)
        if not ids:
            return 0
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.state == DeliveryState.SENDING)
            .values(state=DeliveryState.QUEUED, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        return max(result.rowcount or 0, 0)

    async def apply(self, changes: Sequence[dict[str, Any]]) -> None:
        """Many rows' outcomes at once (UPDATE by primary key, executemany): the sender
        records a whole batch in one transaction. Build the dicts with the *_change helpers."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for change in changes:
            groups.setdefault(tuple(sorted(change)), []).append(change)
        for group in groups.values():
            await self.session.execute(update(OutboxMessage), group)

    async def accounts(self, account_ids: Iterable[int]) -> dict[int, Account]:
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        rows = await self.session.scalars(select(Account).where(Account.id.in_(ids)))
        return {a.id: a for a in rows}

    async def deactivate_accounts(self, account_ids: Iterable[int]) -> None:
        """The users blocked the bot (or their chat is gone): send them nothing more until
        they write again (AccountRepository.touch marks them active)."""
        ids = sorted(set(account_ids))
        if ids:
            await self.session.execute(
                update(Account).where(Account.id.in_(ids)).values(is_active=False)
                .execution_options(synchronize_session=False)
            )

    async def count_by_state(self) -> dict[DeliveryState, int]:
        """Rows per delivery state, every state present (0 when it has none)."""
        counts = {state: 0 for state in DeliveryState}
        rows = await self.session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))
        for state, count in rows:
            counts[DeliveryState(state)] = int(count)
        return counts

    async def oldest_due(self, states: Iterable[DeliveryState], now: datetime) -> datetime | None:
        """The earliest not_before among rows in `states` that are due at `now`."""
        return await self.session.scalar(
            select(func.min(OutboxMessage.not_before)).where(
                OutboxMessage.state.in_(list(states)), OutboxMessage.not_before <= now
            )
        )


def sent_change(row_id: int, message_id: int | None, now: datetime) -> dict[str, Any]:
    return {"id": row_id, "state": DeliveryState.SENT, "sent_at": now, "telegram_message_id": message_id,
            "claimed_at": None}


def retry_change(row_id: int, error: str, next_at: datetime, attempts: int) -> dict[str, Any]:
    """`attempts` is the row's new total (unchanged after a 429 wait)."""
    return {"id": row_id, "state": DeliveryState.RETRY, "last_error": _error(error), "not_before": next_at,
            "attempts": attempts, "claimed_at": None}


def failed_change(row_id: int, reason: str, attempts: int | None = None) -> dict[str, Any]:
    change = {"id": row_id, "state": DeliveryState.FAILED, "last_error": _error(reason), "claimed_at": None}
    if attempts is not None:
        change["attempts"] = attempts
    return change


def cancelled_change(row_id: int) -> dict[str, Any]:
    return {"id": row_id, "state": DeliveryState.CANCELLED, "claimed_at": None}


def released_change(row_id: int) -> dict[str, Any]:
    return {"id": row_id, "state": DeliveryState.QUEUED, "claimed_at": None}

