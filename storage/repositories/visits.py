"""Visits: logging one, the household's answer (conditional updates, so a double press
cannot write twice), expiry of unanswered confirmations, and the flagged list in a scope.

Every write here runs in the caller's transaction; the caller commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import VisitConfirmation, VisitKind
from storage.models import Cadre, Household, Pairing, Region, Visit
from storage.repositories.regions import subtree_clause


@dataclass(frozen=True, slots=True)
class HouseholdChoice:
    """A household the cadre may log a visit for (a button of the /visit picker)."""

    id: int
    head_name: str
    village: str


@dataclass(frozen=True, slots=True)
class FlaggedVisit:
    """One line of /flags."""

    id: int
    visited_on: date
    kind: VisitKind
    confirmation: VisitConfirmation
    rating: int | None
    flagged_at: datetime | None
    household_name: str
    village: str
    cadre_name: str


class VisitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ the picker

    def _choices_clause(self, cadre_id: int) -> ColumnElement[bool]:
        """Households paired with the cadre now, or in the village the cadre leads."""
        paired = select(Pairing.household_id).where(Pairing.cadre_id == cadre_id, Pairing.end_date.is_(None))
        led = select(Cadre.leader_village_id).where(Cadre.id == cadre_id).scalar_subquery()
        return or_(Household.id.in_(paired), Household.village_id == led)

    async def household_choices(self, cadre_id: int, offset: int, limit: int) -> tuple[list[HouseholdChoice], int]:
        """One page of the households the cadre may log a visit for, by name, and the total."""
        where = self._choices_clause(cadre_id)
        total = await self.session.scalar(select(func.count()).select_from(Household).where(where)) or 0
        stmt = (
            select(Household.id, Household.head_name, Region.name)
            .join(Region, Region.id == Household.village_id)
            .where(where)
            .order_by(Household.head_name, Household.id)
            .offset(offset)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return [HouseholdChoice(r[0], r[1], r[2]) for r in rows], int(total)

    async def household_choice(self, household_id: int) -> HouseholdChoice | None:
        row = (
            await self.session.execute(
                select(Household.id, Household.head_name, Region.name)
                .join(Region, Region.id == Household.village_id)
                .where(Household.id == household_id)
            )
        ).first()
        return HouseholdChoice(row[0], row[1], row[2]) if row else None

    # ---------------------------------------------------------------------- writes

    async def add(self, visit: Visit) -> Visit:
        self.session.add(visit)
        await self.session.flush()
        return visit

    async def get(self, visit_id: int) -> Visit | None:
        return await self.session.get(Visit, visit_id)

    async def answer(self, visit_id: int, household_id: int, confirmed: bool, now: datetime) -> bool:
        """PENDING → CONFIRMED (confirmed_at) or DENIED (flagged), only for this household's
        visit and only once: False when nothing was pending (answered, expired, not theirs)."""
        values: dict[str, object]
        if confirmed:
            values = {"confirmation": VisitConfirmation.CONFIRMED, "confirmed_at": now}
        else:
            values = {"confirmation": VisitConfirmation.DENIED, "flagged": True, "flagged_at": now}
        result = await self.session.execute(
            update(Visit)
            .where(
                Visit.id == visit_id,
                Visit.household_id == household_id,
                Visit.confirmation == VisitConfirmation.PENDING,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def rate(self, visit_id: int, household_id: int, rating: int) -> bool:
        """Store the rating of a CONFIRMED visit of this household, once."""
        result = await self.session.execute(
            update(Visit)
            .where(
                Visit.id == visit_id,
                Visit.household_id == household_id,
                Visit.confirmation == VisitConfirmation.CONFIRMED,
                Visit.rating.is_(None),
            )
            .values(rating=rating)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def expire(self, now: datetime) -> int:
        """PENDING visits past their answer deadline become EXPIRED and flagged (one UPDATE
        over the (confirmation, confirm_due_at) index); returns how many."""
        result = await self.session.execute(
            update(Visit)
            .where(Visit.confirmation == VisitConfirmation.PENDING, Visit.confirm_due_at < now)
            .values(confirmation=VisitConfirmation.EXPIRED, flagged=True, flagged_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)

    # ---------------------------------------------------------------------- /flags

    async def supervises_anyone(self, cadre_id: int) -> bool:
        return bool(await self.session.scalar(select(exists().where(Cadre.supervisor_id == cadre_id))))

    async def flagged(
        self, *, region_path: str | None = None, supervisor_id: int | None = None, offset: int, limit: int
    ) -> tuple[list[FlaggedVisit], int]:
        """One page of flagged visits, newest flag first, and the total: of households in the
        admin's region subtree, or by the cadres this supervisor supervises."""
        if (region_path is None) == (supervisor_id is None):
            raise ValueError("give exactly one of region_path and supervisor_id")
        conditions: list[ColumnElement[bool]] = [Visit.flagged.is_(True)]
        if region_path is not None:
            conditions.append(subtree_clause(Region.path, region_path))
        else:
            conditions.append(Visit.cadre_id.in_(select(Cadre.id).where(Cadre.supervisor_id == supervisor_id)))
        base = (
            select(Visit.id)
            .join(Household, Household.id == Visit.household_id)
            .join(Region, Region.id == Household.village_id)
            .where(*conditions)
        )
        total = await self.session.scalar(select(func.count()).select_from(base.subquery())) or 0
        stmt = (
            select(
                Visit.id,
                Visit.visited_on,
                Visit.kind,
                Visit.confirmation,
                Visit.rating,
                Visit.flagged_at,
                Household.head_name,
                Region.name,
                Cadre.name,
            )
            .join(Household, Household.id == Visit.household_id)
            .join(Region, Region.id == Household.village_id)
            .join(Cadre, Cadre.id == Visit.cadre_id)
            .where(*conditions)
            .order_by(Visit.flagged_at.desc(), Visit.id.desc())
            .offset(offset)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return [FlaggedVisit(*row) for row in rows], int(total)
