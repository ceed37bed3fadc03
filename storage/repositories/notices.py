"""The SQL of the scheduled notices: the scans' lookups (notifications/scans.py) and what
their renderers re-read at send time (notifications/reminders.py).

`NoticeRepository` serves the scans: the per-scan advisory lock and day watermark, the
due pairings / milestones / hardship requests, the receivers (cadre and admin accounts),
the outbox key lookups, the catch-up `UPDATE ... RETURNING` and the hardship
`escalated_at` mark. `NoticeRenderRepository` serves the renderers: the household's open
pairing, the rows a catch-up notice still lists, the weekly summary's counts.

Long id/key lists go to the database as `IN (...)` lists of at most CHUNK values (sorted,
without duplicates). Methods do not commit: the caller's transaction decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.outbox import insert_ignoring_duplicates
from storage.enums import DeliveryState, HouseholdStatus, NotificationKind, Role
from storage.models import (
    Account,
    AppMeta,
    Cadre,
    HardshipRequest,
    Household,
    Milestone,
    OutboxMessage,
    Pairing,
    Region,
    Visit,
)
from storage.repositories.regions import PROVINCE_NAME, subtree_ids

CHUNK = 500  # ids per IN (...) list

HR = HardshipRequest


def _chunks(values: Iterable[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    items = sorted(set(values))
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _live_household() -> Any:
    return Household.status != HouseholdStatus.LIFTED


class NoticeRepository:
    """The scans' reads and writes (notifications/scans.py)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------- plumbing

    async def try_scan_lock(self, lock_key: int) -> bool:
        """On PostgreSQL pg_try_advisory_xact_lock(lock_key) (released at commit/rollback); elsewhere True."""
        if self.session.get_bind().dialect.name != "postgresql":
            return True
        return bool(await self.session.scalar(select(func.pg_try_advisory_xact_lock(lock_key))))

    async def watermark(self, key: str) -> str | None:
        """The value stored under `key` in app_meta (None when there is no such row)."""
        row = await self.session.get(AppMeta, key)
        return None if row is None else row.value

    async def advance_watermark(self, key: str, value: str) -> None:
        """Store `value` under `key` in app_meta unless the stored value is not less; flushes."""
        row = await self.session.get(AppMeta, key)
        if row is None:
            self.session.add(AppMeta(key=key, value=value))
        elif row.value < value:
            row.value = value
        await self.session.flush()

    # ------------------------------------------------------------- receivers

    async def cadre_accounts(self, cadre_ids: Iterable[int]) -> dict[int, list[int]]:
        """cadre id -> ids of its active bound cadre accounts, by account id (absent: none)."""
        result: dict[int, list[int]] = defaultdict(list)
        for chunk in _chunks(cadre_ids):
            rows = await self.session.execute(
                select(Account.cadre_id, Account.id)
                .where(Account.role == Role.CADRE, Account.is_active.is_(True), Account.cadre_id.in_(chunk))
                .order_by(Account.id)
            )
            for cadre_id, account_id in rows.all():
                result[cadre_id].append(account_id)
        return result

    async def admin_accounts_in(self, region_paths: Iterable[str]) -> Sequence[Row[Any]]:
        """(account id, region path) of active admins with one of these regions or none (path None)."""
        return (
            await self.session.execute(
                select(Account.id, Region.path)
                .outerjoin(Region, Region.id == Account.admin_region_id)
                .where(
                    Account.role == Role.ADMIN,
                    Account.is_active.is_(True),
                    or_(Account.admin_region_id.is_(None), Region.path.in_(sorted(region_paths))),
                )
                .order_by(Account.id)
            )
        ).all()

    async def active_admin_ids(self) -> Sequence[int]:
        """Ids of the active admin accounts, ascending."""
        return (
            await self.session.scalars(
                select(Account.id).where(Account.role == Role.ADMIN, Account.is_active.is_(True)).order_by(Account.id)
            )
        ).all()

    # ---------------------------------------------------------------- outbox

    async def existing_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of `keys` that an outbox row already has."""
        found: set[str] = set()
        for chunk in _chunks(keys):
            found.update(
                (await self.session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(chunk)))).all()
            )
        return found

    async def outbox_by_key(self, key: str) -> OutboxMessage | None:
        """The outbox row with this idempotency key, if any."""
        return await self.session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))

    async def insert_ignoring_duplicates(self, rows: Sequence[dict[str, Any]]) -> None:
        """INSERT these outbox rows (CHUNK at a time), skipping keys already present."""
        for start in range(0, len(rows), CHUNK):
            chunk = list(rows[start : start + CHUNK])
            await self.session.execute(insert_ignoring_duplicates(self.session).values(chunk))

    async def cancel_stale_queued(
        self, cutoff: datetime, kinds: Sequence[NotificationKind], last_error: str
    ) -> Sequence[Row[Any]]:
        """Cancel queued rows of `kinds` with not_before < cutoff; returns (account_id, kind, payload)."""
        stmt = (
            update(OutboxMessage)
            .where(
                OutboxMessage.state == DeliveryState.QUEUED,
                OutboxMessage.not_before < cutoff,
                OutboxMessage.kind.in_(kinds),
            )
            .values(state=DeliveryState.CANCELLED, last_error=last_error)
            .returning(OutboxMessage.account_id, OutboxMessage.kind, OutboxMessage.payload)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(stmt)).all()

    # ------------------------------------------------------------ due items

    async def pairings_due_on(self, dues: Iterable[date]) -> Sequence[Row[Any]]:
        """(id, cadre_id, household_id, next_visit_due) of live households' open pairings due on `dues`."""
        return (
            await self.session.execute(
                select(Pairing.id, Pairing.cadre_id, Pairing.household_id, Pairing.next_visit_due)
                .join(Household, Household.id == Pairing.household_id)
                .where(Pairing.end_date.is_(None), Pairing.next_visit_due.in_(sorted(dues)), _live_household())
            )
        ).all()

    async def milestones_due_on(self, dues: Iterable[date]) -> Sequence[Row[Any]]:
        """(id, open pairing's cadre_id, household_id, due_date) of live open milestones due on `dues`."""
        return (
            await self.session.execute(
                select(Milestone.id, Pairing.cadre_id, Milestone.household_id, Milestone.due_date)
                .join(Pairing, and_(Pairing.household_id == Milestone.household_id, Pairing.end_date.is_(None)))
                .join(Household, Household.id == Milestone.household_id)
                .where(Milestone.due_date.in_(sorted(dues)), Milestone.completed_at.is_(None), _live_household())
            )
        ).all()

    async def pairings_to_escalate(self, dues: Sequence[date]) -> Sequence[Row[Any]]:
        """(id, cadre_id, supervisor_id, household_id, village path, due) of open pairings due on `dues`."""
        return (
            await self.session.execute(
                select(Pairing.id, Pairing.cadre_id, Cadre.supervisor_id, Pairing.household_id, Region.path,
                       Pairing.next_visit_due)
                .join(Household, Household.id == Pairing.household_id)
                .join(Region, Region.id == Household.village_id)
                .join(Cadre, Cadre.id == Pairing.cadre_id)
                .where(Pairing.end_date.is_(None), Pairing.next_visit_due.in_(dues), _live_household())
            )
        ).all()

    async def milestones_to_escalate(self, dues: Sequence[date]) -> Sequence[Row[Any]]:
        """(id, cadre_id, supervisor_id, household_id, village path, due) of open milestones due on `dues`."""
        return (
            await self.session.execute(
                select(Milestone.id, Pairing.cadre_id, Cadre.supervisor_id, Milestone.household_id, Region.path,
                       Milestone.due_date)
                .join(Pairing, and_(Pairing.household_id == Milestone.household_id, Pairing.end_date.is_(None)))
                .join(Household, Household.id == Milestone.household_id)
                .join(Region, Region.id == Household.village_id)
                .join(Cadre, Cadre.id == Pairing.cadre_id)
                .where(Milestone.due_date.in_(dues), Milestone.completed_at.is_(None), _live_household())
            )
        ).all()

    async def hardship_to_escalate(self, now: datetime, since: datetime) -> Sequence[Row[Any]]:
        """(id, outcome_due_at, resolved_at, supervisor_id, path) of the requests to escalate now."""
        ack_late = and_(HR.acknowledged_at.is_(None), HR.ack_due_at < now, HR.ack_due_at >= since,
                        HR.escalated_at.is_(None))
        outcome_late = and_(HR.resolved_at.is_(None), HR.outcome_due_at < now, HR.outcome_due_at >= since,
                            or_(HR.escalated_at.is_(None), HR.escalated_at < HR.outcome_due_at))
        return (
            await self.session.execute(
                select(HR.id, HR.outcome_due_at, HR.resolved_at, Cadre.supervisor_id, Region.path)
                .join(Household, Household.id == HR.household_id)
                .join(Region, Region.id == Household.village_id)
                .outerjoin(Cadre, Cadre.id == HR.cadre_id)
                .where(HR.resolved_at.is_(None), or_(ack_late, outcome_late), _live_household())
                .order_by(HR.id)
            )
        ).all()

    async def mark_hardship_escalated(self, request_ids: Iterable[int], now: datetime) -> None:
        """Set escalated_at = now on these hardship requests."""
        for chunk in _chunks(request_ids):
            await self.session.execute(
                update(HR).where(HR.id.in_(chunk)).values(escalated_at=now).execution_options(synchronize_session=False)
            )

    async def cadres_with_work_due(self, until: date) -> set[int]:
        """Cadres with a visit or milestone due by `until` or a hardship request not acknowledged."""
        visits = select(Pairing.cadre_id).join(Household, Household.id == Pairing.household_id).where(
            Pairing.end_date.is_(None), Pairing.next_visit_due <= until, _live_household()
        )
        milestones = (
            select(Pairing.cadre_id)
            .join(Milestone, Milestone.household_id == Pairing.household_id)
            .where(Pairing.end_date.is_(None), Milestone.completed_at.is_(None), Milestone.due_date <= until)
        )
        hardship = (
            select(Pairing.cadre_id)
            .join(HardshipRequest, HardshipRequest.household_id == Pairing.household_id)
            .where(Pairing.end_date.is_(None), HardshipRequest.acknowledged_at.is_(None),
                   HardshipRequest.resolved_at.is_(None))
        )
        found: set[int] = set()
        for stmt in (visits, milestones, hardship):
            found.update((await self.session.scalars(stmt.distinct())).all())
        return found


class NoticeRenderRepository:
    """What the notices' renderers re-read at send time (notifications/reminders.py)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_pairing(self, household_id: int) -> Pairing | None:
        """The household's open pairing (end_date is null), if any."""
        return await self.session.scalar(
            select(Pairing).where(Pairing.household_id == household_id, Pairing.end_date.is_(None))
        )

    async def catch_up_visits(self, pairing_ids: Iterable[int], cadre_id: int | None) -> Sequence[Row[Any]]:
        """(id, next_visit_due, head_name, reg_no) of these pairings still open, the cadre's, live."""
        return (
            await self.session.execute(
                select(Pairing.id, Pairing.next_visit_due, Household.head_name, Household.reg_no)
                .join(Household, Household.id == Pairing.household_id)
                .where(Pairing.id.in_(sorted(pairing_ids)), Pairing.end_date.is_(None),
                       Pairing.cadre_id == cadre_id, Household.status != HouseholdStatus.LIFTED)
            )
        ).all()

    async def catch_up_milestones(self, milestone_ids: Iterable[int], cadre_id: int | None) -> Sequence[Row[Any]]:
        """(id, due_date, category, title, head_name) of these milestones not done, the cadre's, live."""
        return (
            await self.session.execute(
                select(Milestone.id, Milestone.due_date, Milestone.category, Milestone.title, Household.head_name)
                .join(Household, Household.id == Milestone.household_id)
                .join(Pairing, Pairing.household_id == Milestone.household_id)
                .where(Milestone.id.in_(sorted(milestone_ids)), Milestone.completed_at.is_(None),
                       Pairing.end_date.is_(None), Pairing.cadre_id == cadre_id,
                       Household.status != HouseholdStatus.LIFTED)
            )
        ).all()

    # ------------------------------------------------- weekly summary counts

    @staticmethod
    def _scoped(stmt: Any, region_path: str) -> Any:
        if region_path == PROVINCE_NAME:
            return stmt
        return stmt.where(Household.village_id.in_(subtree_ids(region_path)))

    async def count_overdue_milestones(self, region_path: str, today: date) -> int | None:
        """Milestones not done with due_date < today, of the households in the region subtree."""
        return await self.session.scalar(self._scoped(
            select(func.count()).select_from(Milestone).join(Household, Household.id == Milestone.household_id)
            .where(Milestone.completed_at.is_(None), Milestone.due_date < today),
            region_path,
        ))

    async def count_flagged_visits(self, region_path: str, since: datetime) -> int | None:
        """Visits flagged at or after `since`, of the households in the region subtree."""
        return await self.session.scalar(self._scoped(
            select(func.count()).select_from(Visit).join(Household, Household.id == Visit.household_id)
            .where(Visit.flagged.is_(True), Visit.flagged_at >= since),
            region_path,
        ))

    async def count_unresolved_hardship(self, region_path: str) -> int | None:
        """Hardship requests not resolved, of the households in the region subtree."""
        return await self.session.scalar(self._scoped(
            select(func.count()).select_from(HardshipRequest)
            .join(Household, Household.id == HardshipRequest.household_id)
            .where(HardshipRequest.resolved_at.is_(None)),
            region_path,
        ))
