"""Audit log writes and reads (admin actions).

Reads are scoped like everything an admin sees: `scope_path` is the full path of the
admin's region (`Access.region_path`). An entry is in scope when its region lies in that
subtree; entries without a region (province-wide actions: CLI imports, a province admin's
broadcast or reload) are in scope only for the whole province (`scope_path` is the province
or None). Lists are keyset-paged by (at, id), newest first unless asked otherwise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.enums import Role
from storage.models import Account, AuditLog, Cadre, Household, Region
from storage.repositories.regions import PROVINCE_NAME, subtree_ids, within

Cursor = tuple[datetime, int]  # (at, id) of an entry


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    region_id: int | None
    region_path: str | None  # None: province-wide (or the region was deleted)
    object_type: str | None
    object_id: str | None
    details: dict[str, Any]

    @property
    def cursor(self) -> Cursor:
        return (self.at, self.id)


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """What the audit trail may show about an account (no phone, no ID numbers). `role` is
    None when nothing may be shown (no role, or bound outside the viewer's scope)."""

    account_id: int
    role: Role | None
    cadre_name: str | None = None
    household_reg_no: str | None = None
    admin_region_path: str | None = None  # None for a province-wide admin
    username: str | None = None


def is_province(scope_path: str | None) -> bool:
    return scope_path is None or scope_path == PROVINCE_NAME


def scope_clause(scope_path: str | None) -> ColumnElement[bool]:
    """Entries an admin of `scope_path` may see (see the module docstring)."""
    if is_province(scope_path):
        return true()
    return AuditLog.region_id.in_(subtree_ids(scope_path))


def _older_than(cursor: Cursor) -> ColumnElement[bool]:
    at, entry_id = cursor
    return or_(AuditLog.at < at, and_(AuditLog.at == at, AuditLog.id < entry_id))


def _newer_than(cursor: Cursor) -> ColumnElement[bool]:
    at, entry_id = cursor
    return or_(AuditLog.at > at, and_(AuditLog.at == at, AuditLog.id > entry_id))


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        actor: str,
        action: str,
        *,
        region_id: int | None = None,
        object_type: str | None = None,
        object_id: str | int | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditLog:
        """Append an entry in the caller's transaction (so it commits or rolls back with it)."""
        entry = AuditLog(
            actor=actor,
            action=action,
            region_id=region_id,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            details=details or {},
        )
        self.session.add(entry)
        await self.session.flush()
        return entry

    # ------------------------------------------------------------------------ reads

    def _select(self, scope_path: str | None, since: datetime | None) -> Select[Any]:
        stmt = (
            select(AuditLog, Region.path)
            .outerjoin(Region, Region.id == AuditLog.region_id)
            .where(scope_clause(scope_path))
        )
        if since is not None:
            stmt = stmt.where(AuditLog.at >= since)
        return stmt

    @staticmethod
    def _entry(row: AuditLog, path: str | None) -> AuditEntry:
        return AuditEntry(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            region_id=row.region_id,
            region_path=path,
            object_type=row.object_type,
            object_id=row.object_id,
            details=dict(row.details or {}),
        )

    async def entries(
        self,
        scope_path: str | None,
        *,
        limit: int,
        before: Cursor | None = None,
        after: Cursor | None = None,
        since: datetime | None = None,
        oldest_first: bool = False,
    ) -> list[AuditEntry]:
        """At most `limit` entries in scope (at or after `since`), strictly older than
        `before` and/or strictly newer than `after`; newest first unless `oldest_first`."""
        stmt = self._select(scope_path, since)
        if before is not None:
            stmt = stmt.where(_older_than(before))
        if after is not None:
            stmt = stmt.where(_newer_than(after))
        if oldest_first:
            stmt = stmt.order_by(AuditLog.at.asc(), AuditLog.id.asc())
        else:
            stmt = stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
        rows = (await self.session.execute(stmt.limit(max(limit, 0)))).all()
        return [self._entry(row, path) for row, path in rows]

    async def newer_page(
        self, scope_path: str | None, after: Cursor, *, limit: int, since: datetime | None = None
    ) -> list[AuditEntry]:
        """The `limit` entries just newer than `after`, returned newest first (the page
        before a page, for a ◀ button)."""
        rows = await self.entries(scope_path, limit=limit, after=after, since=since, oldest_first=True)
        return rows[::-1]

    async def count(
        self,
        scope_path: str | None,
        *,
        since: datetime | None = None,
        newer_than: Cursor | None = None,
    ) -> int:
        """How many entries are in scope (at or after `since`; strictly newer than
        `newer_than` when given: the position of a page)."""
        stmt = select(func.count()).select_from(AuditLog).where(scope_clause(scope_path))
        if since is not None:
            stmt = stmt.where(AuditLog.at >= since)
        if newer_than is not None:
            stmt = stmt.where(_newer_than(newer_than))
        return int(await self.session.scalar(stmt) or 0)

    async def iter_entries(
        self,
        scope_path: str | None,
        *,
        since: datetime | None = None,
        batch_size: int = 500,
    ) -> AsyncIterator[list[AuditEntry]]:
        """Every entry in scope, oldest first, in keyset batches (memory stays flat)."""
        after: Cursor | None = None
        while True:
            batch = await self.entries(
                scope_path, limit=batch_size, after=after, since=since, oldest_first=True
            )
            if not batch:
                return
            yield batch
            if len(batch) < batch_size:
                return
            after = batch[-1].cursor

    async def actors(self, account_ids: Iterable[int], *, scope_path: str | None) -> dict[int, ActorInfo]:
        """What an admin of `scope_path` may be shown of these accounts: role, a cadre's name,
        a household's reg_no, an admin's region and Telegram @username. Unknown ids are left
        out.

        An account is described by its current binding, which may lie elsewhere than where it
        acted: the details are given only when the household's village, the cadre's region or
        the admin's region lies in the viewer's scope (a province-wide admin only to a
        province-wide viewer); otherwise the account comes back with `role=None` (shown as a
        bare account number)."""
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        village = aliased(Region)
        cadre_region = aliased(Region)
        admin_region = aliased(Region)
        stmt = (
            select(
                Account.id, Account.role, Account.username, Account.admin_region_id,
                Cadre.name, cadre_region.path, Household.reg_no, village.path, admin_region.path,
            )
            .outerjoin(Cadre, Cadre.id == Account.cadre_id)
            .outerjoin(cadre_region, cadre_region.id == Cadre.region_id)
            .outerjoin(Household, Household.id == Account.household_id)
            .outerjoin(village, village.id == Household.village_id)
            .outerjoin(admin_region, admin_region.id == Account.admin_region_id)
            .where(Account.id.in_(ids))
        )
        province = is_province(scope_path)

        def visible(path: str | None) -> bool:
            return path is not None and (province or within(path, scope_path or ""))

        result: dict[int, ActorInfo] = {}
        rows = (await self.session.execute(stmt)).all()
        for account_id, role, username, admin_region_id, cadre_name, cadre_path, reg_no, village_path, admin_path in rows:
            info = ActorInfo(account_id=account_id, role=None)
            if role is Role.CADRE and visible(cadre_path):
                info = ActorInfo(account_id=account_id, role=role, cadre_name=cadre_name)
            elif role is Role.HOUSEHOLD and visible(village_path):
                info = ActorInfo(account_id=account_id, role=role, household_reg_no=reg_no)
            elif role is Role.ADMIN and (
                province if admin_region_id is None else visible(admin_path)
            ):
                info = ActorInfo(account_id=account_id, role=role, admin_region_path=admin_path, username=username)
            result[account_id] = info
        return result
