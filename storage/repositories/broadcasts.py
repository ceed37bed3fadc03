"""Broadcast SQL: the audience as one select of account ids, the set-based enqueue, cancel,
progress counts and the admin's list (notifications/broadcasts.py is the service).

The audience of a broadcast (`Audience`) becomes ONE `SELECT accounts.id ...` over active
bound accounts; `count_audience` counts it in SQL (the preview's exact number) and
`enqueue_recipients` inserts one outbox row per recipient with ONE
`INSERT INTO outbox ... SELECT ... ON CONFLICT (key) DO NOTHING`, whatever the audience
size. Region filters use `subtree_ids` (an indexed path prefix range on regions).

Named test accounts (`named_accounts`) are looked up inside the same select of an `all`
audience of the admin's scope, so an account outside the scope is never found, and a test
broadcast's recipients (`test_select`) are the admin plus the accounts stored in
`Broadcast.test_account_ids`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Select,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.outbox import insert_ignoring_duplicates
from storage.enums import (
    BroadcastState,
    DeliveryState,
    HouseholdStatus,
    NotificationKind,
    PovertyCause,
    Role,
)
from storage.models import Account, Broadcast, Cadre, Household, OutboxMessage, Region
from storage.repositories.regions import PROVINCE_NAME, subtree_clause, subtree_ids

ROLES = ("household", "cadre", "admin", "all")
ALL_CAUSES = sum(int(cause) for cause in PovertyCause)  # every defined bit
OPEN_STATES = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.RETRY)
# a failed row whose last error says the user blocked the bot / is gone (set by the sender)
BLOCKED_MARKERS = ("blocked", "forbidden", "deactivated", "chat not found")


class AudienceError(ValueError):
    """An audience that cannot be used (unknown role, household filters for other roles...)."""


@dataclass(frozen=True)
class Audience:
    """Who receives a broadcast. `region_path` is a full path ('吉林省/...'); None = the
    province. `causes` (PovertyCause bits, any of them), `status` and `students` filter
    households only. JSON round trip: `to_json` / `from_json` (stored in Broadcast.audience
    and in dialog state)."""

    role: str = "household"
    region_path: str | None = None
    causes: int = 0
    status: str | None = None
    students: bool = False

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise AudienceError(f"role must be one of {', '.join(ROLES)}")
        if self.causes < 0 or self.causes & ~ALL_CAUSES:
            raise AudienceError("unknown poverty cause")
        if self.status is not None and self.status not in {s.value for s in HouseholdStatus}:
            raise AudienceError("unknown household status")
        if self.has_household_filters and self.role != "household":
            raise AudienceError("cause, status and students filters are for role=household only")

    @property
    def has_household_filters(self) -> bool:
        return bool(self.causes or self.status or self.students)

    @property
    def path(self) -> str:
        return self.region_path or PROVINCE_NAME

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience:
        data = data or {}
        try:
            return cls(
                role=str(data.get("role", "household")),
                region_path=data.get("region_path") or None,
                causes=int(data.get("causes") or 0),
                status=data.get("status") or None,
                students=bool(data.get("students")),
            )
        except (TypeError, ValueError) as exc:
            raise AudienceError(str(exc)) from None


def audience_select(audience: Audience) -> Select[tuple[int]]:
    """ONE select of the ids of the active bound accounts in the audience."""
    path = audience.path
    conditions = []
    if audience.role in ("household", "all"):
        households = select(Household.id).where(Household.village_id.in_(subtree_ids(path)))
        if audience.causes:
            households = households.where(Household.causes.op("&")(audience.causes) != 0)
        if audience.status:
            households = households.where(Household.status == HouseholdStatus(audience.status))
        if audience.students:
            households = households.where(Household.students > 0)
        conditions.append(and_(Account.role == Role.HOUSEHOLD, Account.household_id.in_(households)))
    if audience.role in ("cadre", "all"):
        cadres = select(Cadre.id).where(Cadre.region_id.in_(subtree_ids(path)))
        conditions.append(and_(Account.role == Role.CADRE, Account.cadre_id.in_(cadres)))
    if audience.role in ("admin", "all"):
        whole_province = Account.admin_region_id.is_(None) if path == PROVINCE_NAME else false()
        conditions.append(
            and_(
                Account.role == Role.ADMIN,
                or_(Account.admin_region_id.in_(subtree_ids(path)), whole_province),
            )
        )
    return select(Account.id).where(Account.is_active.is_(True), or_(*conditions))


def test_select(admin_account_id: int | None, account_ids: Collection[int] = ()) -> Select[tuple[int]]:
    """The test audience: the admin and the named test accounts (those still active)."""
    ids = set(account_ids) | ({admin_account_id} if admin_account_id is not None else set())
    return select(Account.id).where(Account.id.in_(sorted(ids)), Account.is_active.is_(True))


@dataclass(frozen=True)
class NamedAccount:
    """An account found for a named test recipient (no personal data beyond its handles)."""

    id: int
    telegram_user_id: int
    username: str | None  # lowercase, without '@'

    @property
    def label(self) -> str:
        return f"@{self.username}" if self.username else str(self.telegram_user_id)


def broadcast_key_expr(broadcast_id: int):
    """`notice_key('broadcast', accounts.id, 'broadcast-<id>')` computed in SQL (`||` on both
    databases)."""
    return literal("broadcast:") + cast(Account.id, String) + literal(f":broadcast-{broadcast_id}")


@dataclass(frozen=True)
class Progress:
    queued: int = 0  # queued, sending or retry
    sent: int = 0
    failed: int = 0  # failed for any other reason
    blocked: int = 0  # failed: the user blocked the bot / the chat is gone
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed + self.blocked + self.cancelled


class BroadcastRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_audience(self, audience: Audience) -> int:
        subquery = audience_select(audience).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(subquery)) or 0)

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await self.session.get(Broadcast, broadcast_id)

    async def region(self, region_id: int) -> Region | None:
        return await self.session.get(Region, region_id)

    async def region_by_path(self, path: str) -> Region | None:
        return await self.session.scalar(select(Region).where(Region.path == path))

    async def children(self, region_id: int, limit: int, offset: int = 0) -> list[Region]:
        stmt = (
            select(Region)
            .where(Region.parent_id == region_id)
            .order_by(Region.name, Region.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def count_children(self, region_id: int) -> int:
        stmt = select(func.count(Region.id)).where(Region.parent_id == region_id)
        return int(await self.session.scalar(stmt) or 0)

    async def named_accounts(
        self,
        scope_path: str,
        *,
        user_ids: Collection[int] = (),
        usernames: Collection[str] = (),
        account_ids: Collection[int] = (),
    ) -> list[NamedAccount]:
        """The active bound accounts within `scope_path` (households and cadres under it,
        admins inside it) with one of these Telegram ids, lowercase usernames or account
        ids; the most recently seen first (a username may still sit on an old account)."""
        wanted = []
        if user_ids:
            wanted.append(Account.telegram_user_id.in_(sorted(set(user_ids))))
        if usernames:
            wanted.append(Account.username.in_(sorted(set(usernames))))
        if account_ids:
            wanted.append(Account.id.in_(sorted(set(account_ids))))
        if not wanted:
            return []
        stmt = (
            audience_select(Audience(role="all", region_path=scope_path))
            .with_only_columns(Account.id, Account.telegram_user_id, Account.username, maintain_column_froms=True)
            .where(or_(*wanted))
            .order_by(Account.last_seen_at.desc(), Account.id.desc())
        )
        return [NamedAccount(*row) for row in (await self.session.execute(stmt)).all()]

    async def last_test_account_ids(self, admin_account_id: int) -> list[int]:
        """The named test accounts of the admin's latest test broadcast that had some."""
        stmt = (
            select(Broadcast.test_account_ids)
            .where(
                Broadcast.admin_account_id == admin_account_id,
                Broadcast.test_only.is_(True),
                Broadcast.test_account_ids.is_not(None),
            )
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(1)
        )
        ids = await self.session.scalar(stmt)
        return [int(i) for i in ids or [] if isinstance(i, int)]

    async def mark_sending(self, broadcast_id: int) -> bool:
        """scheduled → sending, atomically: only one caller (instance) wins."""
        result = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.state == BroadcastState.SCHEDULED)
            .values(state=BroadcastState.SENDING)
            .execution_options(synchronize_session=False)
        )
        return (result.rowcount or 0) == 1

    async def enqueue_recipients(
        self, broadcast: Broadcast, audience_ids: Select[tuple[int]], not_before: datetime, urgent: bool, now: datetime
    ) -> int:
        """ONE `INSERT INTO outbox ... SELECT` over the audience; returns the rows inserted
        (existing keys are skipped: starting twice inserts once)."""
        table = OutboxMessage.__table__
        source = audience_ids.with_only_columns(
            broadcast_key_expr(broadcast.id).label("key"),
            literal(NotificationKind.BROADCAST, table.c.kind.type).label("kind"),
            Account.id.label("account_id"),
            literal({"broadcast_id": broadcast.id}, JSON).label("payload"),
            literal(broadcast.id).label("broadcast_id"),
            literal(urgent).label("urgent"),
            literal(DeliveryState.QUEUED, table.c.state.type).label("state"),
            literal(0).label("attempts"),
            literal(not_before, table.c.not_before.type).label("not_before"),
            literal(now, table.c.created_at.type).label("created_at"),
            maintain_column_froms=True,
        )
        stmt = insert_ignoring_duplicates(self.session).from_select(
            ["key", "kind", "account_id", "payload", "broadcast_id", "urgent", "state", "attempts",
             "not_before", "created_at"],
            source,
        )
        result = await self.session.execute(stmt)
        return max(result.rowcount or 0, 0)

    async def due_ids(self, now: datetime, limit: int = 100) -> list[int]:
        stmt = (
            select(Broadcast.id)
            .where(Broadcast.state == BroadcastState.SCHEDULED, Broadcast.send_at <= now)
            .order_by(Broadcast.send_at, Broadcast.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def finished_ids(self, limit: int = 100) -> list[int]:
        """Broadcasts still 'sending' with nothing of theirs queued, sending or in retry."""
        open_rows = (
            select(OutboxMessage.id)
            .where(OutboxMessage.broadcast_id == Broadcast.id, OutboxMessage.state.in_(OPEN_STATES))
            .exists()
        )
        stmt = (
            select(Broadcast.id)
            .where(Broadcast.state == BroadcastState.SENDING, ~open_rows)
            .order_by(Broadcast.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def mark_done(self, broadcast_id: int, now: datetime) -> bool:
        result = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.state == BroadcastState.SENDING)
            .values(state=BroadcastState.DONE, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        return (result.rowcount or 0) == 1

    async def cancel(self, broadcast_id: int, now: datetime) -> bool:
        """Cancel a scheduled or running broadcast and, in ONE UPDATE, its rows still queued
        or waiting for a retry (rows being sent finish). False when it had ended already."""
        result = await self.session.execute(
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.state.in_((BroadcastState.SCHEDULED, BroadcastState.SENDING)),
            )
            .values(state=BroadcastState.CANCELLED, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if (result.rowcount or 0) != 1:
            return False
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.broadcast_id == broadcast_id,
                OutboxMessage.state.in_((DeliveryState.QUEUED, DeliveryState.RETRY)),
            )
            .values(state=DeliveryState.CANCELLED)
            .execution_options(synchronize_session=False)
        )
        return True

    async def progress(self, broadcast_ids: list[int]) -> dict[int, Progress]:
        """Delivery counts per broadcast: one GROUP BY over the (broadcast_id, state) index."""
        if not broadcast_ids:
            return {}
        error = func.lower(func.coalesce(OutboxMessage.last_error, ""))
        blocked = case(
            (
                and_(
                    OutboxMessage.state == DeliveryState.FAILED,
                    or_(*(error.like(f"%{marker}%") for marker in BLOCKED_MARKERS)),
                ),
                1,
            ),
            else_=0,
        ).label("blocked")
        stmt = (
            select(OutboxMessage.broadcast_id, OutboxMessage.state, blocked, func.count())
            .where(OutboxMessage.broadcast_id.in_(broadcast_ids))
            .group_by(OutboxMessage.broadcast_id, OutboxMessage.state, blocked)
        )
        counts: dict[int, dict[str, int]] = {bid: {} for bid in broadcast_ids}
        for broadcast_id, state, is_blocked, number in (await self.session.execute(stmt)).all():
            bucket = counts[broadcast_id]
            if state in OPEN_STATES:
                name = "queued"
            elif state is DeliveryState.FAILED:
                name = "blocked" if is_blocked else "failed"
            else:
                name = state.value
            bucket[name] = bucket.get(name, 0) + int(number)
        return {bid: Progress(**values) for bid, values in counts.items()}

    def _scope_clause(self, scope_path: str):
        region_path = (
            select(Region.path).where(Region.id == Broadcast.region_id).correlate(Broadcast).scalar_subquery()
        )
        return subtree_clause(func.coalesce(region_path, PROVINCE_NAME), scope_path)

    async def in_scope(self, broadcast_id: int, scope_path: str) -> Broadcast | None:
        stmt = select(Broadcast).where(Broadcast.id == broadcast_id, self._scope_clause(scope_path))
        return await self.session.scalar(stmt)

    async def page(self, scope_path: str, page: int, size: int) -> tuple[int, list[Broadcast]]:
        """The broadcasts whose audience region lies in the admin's scope, newest first."""
        scope = self._scope_clause(scope_path)
        total = int(await self.session.scalar(select(func.count(Broadcast.id)).where(scope)) or 0)
        stmt = (
            select(Broadcast)
            .where(scope)
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .offset(page * size)
            .limit(size)
        )
        return total, list((await self.session.scalars(stmt)).all())
