"""Hardship requests (困难报告): filing, the conditional acknowledge/resolve updates, and
the paged lists of /requests (household, cadre with supervised cadres, admin region).

States are derived (never stored); `state_rank` puts them in the order every list uses:
overdue first, then new, acknowledged, resolved; newest first within a state. All lists
are one paged SQL query plus a count, limited by indexed columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.enums import HardshipCategory
from storage.models import Cadre, HardshipRequest, Household, Pairing, Region
from storage.repositories.regions import subtree_clause

HR = HardshipRequest


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Not acknowledged past the acknowledgement deadline, or not resolved past the outcome one."""
    return or_(
        and_(HR.acknowledged_at.is_(None), HR.ack_due_at < now),
        and_(HR.resolved_at.is_(None), HR.outcome_due_at < now),
    )


def state_rank(now: datetime) -> ColumnElement[int]:
    """0 overdue, 1 new, 2 acknowledged, 3 resolved (the order of every list)."""
    return case(
        (HR.resolved_at.is_not(None), 3),
        (overdue_clause(now), 0),
        (HR.acknowledged_at.is_(None), 1),
        else_=2,
    )


@dataclass(frozen=True, slots=True)
class RequestPage:
    rows: Sequence[HardshipRequest]  # with household (and its village) and cadre loaded
    total: int


class HardshipRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        household_id: int,
        cadre_id: int | None,
        category: HardshipCategory,
        text: str,
        photo_file_id: str | None,
        created_at: datetime,
        ack_due_at: datetime,
        outcome_due_at: datetime,
    ) -> HardshipRequest:
        row = HardshipRequest(
            household_id=household_id,
            cadre_id=cadre_id,
            category=category,
            text=text,
            photo_file_id=photo_file_id,
            created_at=created_at,
            ack_due_at=ack_due_at,
            outcome_due_at=outcome_due_at,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, request_id: int) -> HardshipRequest | None:
        """The request with its household (and village) and cadre, fresh from the database."""
        return await self.session.scalar(
            select(HR)
            .options(joinedload(HR.household).joinedload(Household.village), joinedload(HR.cadre))
            .where(HR.id == request_id)
            .execution_options(populate_existing=True)
        )

    async def acknowledge(self, request_id: int, now: datetime, outcome_due_at: datetime) -> bool:
        """Set acknowledged_at (and the recomputed outcome deadline) unless already set;
        False when another press (or nothing) got there first."""
        result = await self.session.execute(
            update(HR)
            .where(HR.id == request_id, HR.acknowledged_at.is_(None))
            .values(acknowledged_at=now, outcome_due_at=outcome_due_at)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def resolve(self, request_id: int, now: datetime, outcome: str) -> bool:
        """Record the outcome of an acknowledged, unresolved request; False otherwise."""
        result = await self.session.execute(
            update(HR)
            .where(HR.id == request_id, HR.acknowledged_at.is_not(None), HR.resolved_at.is_(None))
            .values(resolved_at=now, outcome=outcome)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def paired_household_ids(self, cadre_id: int | None, household_ids: Iterable[int]) -> set[int]:
        """Those of `household_ids` in an open pairing with the cadre."""
        return set(
            (
                await self.session.scalars(
                    select(Pairing.household_id).where(
                        Pairing.cadre_id == cadre_id,
                        Pairing.end_date.is_(None),
                        Pairing.household_id.in_(household_ids),
                    )
                )
            ).all()
        )

    # ------------------------------------------------------------------ lists

    async def page_for_household(self, household_id: int, now: datetime, *, limit: int, offset: int) -> RequestPage:
        return await self._page(HR.household_id == household_id, now, limit=limit, offset=offset)

    async def page_for_cadre(self, cadre_id: int, now: datetime, *, limit: int, offset: int) -> RequestPage:
        """Requests filed to this cadre, of households paired with them now, and of the
        cadres they supervise."""
        supervised = select(Cadre.id).where(Cadre.supervisor_id == cadre_id)
        paired = select(Pairing.household_id).where(Pairing.cadre_id == cadre_id, Pairing.end_date.is_(None))
        where = or_(HR.cadre_id == cadre_id, HR.cadre_id.in_(supervised), HR.household_id.in_(paired))
        return await self._page(where, now, limit=limit, offset=offset)

    async def page_for_region(self, region_path: str, now: datetime, *, limit: int, offset: int) -> RequestPage:
        """Requests of households in the admin's region subtree."""
        in_scope = (
            select(Household.id)
            .join(Region, Region.id == Household.village_id)
            .where(subtree_clause(Region.path, region_path))
        )
        return await self._page(HR.household_id.in_(in_scope), now, limit=limit, offset=offset)

    async def _page(self, where: ColumnElement[bool], now: datetime, *, limit: int, offset: int) -> RequestPage:
        total = await self.session.scalar(select(func.count()).select_from(HR).where(where)) or 0
        stmt = (
            select(HR)
            .options(joinedload(HR.household).joinedload(Household.village), joinedload(HR.cadre))
            .where(where)
            .order_by(state_rank(now), HR.created_at.desc(), HR.id.desc())
            .limit(limit)
            .offset(offset)
        )
        rows = (await self.session.scalars(stmt)).all()
        return RequestPage(rows, int(total))

    async def overdue(self, now: datetime, *, limit: int, after_id: int = 0) -> Sequence[HardshipRequest]:
        """Overdue requests by id (keyset: pass the last id seen as `after_id`).

        Each branch of the union is a range scan of its index (ix_hardship_ack_due,
        ix_hardship_outcome_due); only the matching ids are then loaded."""
        ack_late = select(HR.id).where(HR.ack_due_at < now, HR.acknowledged_at.is_(None))
        outcome_late = select(HR.id).where(HR.outcome_due_at < now, HR.resolved_at.is_(None))
        ids = union(ack_late, outcome_late).subquery()
        stmt = (
            select(HR)
            .options(joinedload(HR.household), joinedload(HR.cadre))
            .where(HR.id.in_(select(ids.c.id)), HR.id > after_id)
            .order_by(HR.id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()
