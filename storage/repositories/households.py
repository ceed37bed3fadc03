"""Households as cadres and admins see them: list pages, the parts of a household's card,
and what falls due for a cadre (/today).

A list page is one query: the page's households (a CTE with LIMIT/OFFSET, ordered
"overdue first, then by next visit due") joined to the overdue-milestone counts
aggregated over the page's households only; the total is a separate COUNT. Nothing here
loads a whole table: a cadre's rows are bounded by their pairings, an admin's by the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.enums import HardshipCategory, MilestoneCategory
from storage.models import HardshipRequest, Household, Milestone, Pairing, Region, Visit
from storage.repositories.regions import subtree_ids

# Ids outside this range cannot exist (PostgreSQL integer columns); forged callback data may
# carry anything, and asyncpg rejects an out-of-range parameter with an error.
MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class HouseholdLine:
    """One line of a household list."""

    household_id: int
    head_name: str
    reg_no: str
    village: str
    last_visit_on: date | None
    next_visit_due: date | None
    overdue_milestones: int


@dataclass(frozen=True, slots=True)
class DueVisit:
    household_id: int
    head_name: str
    reg_no: str
    due: date


@dataclass(frozen=True, slots=True)
class DueMilestone:
    milestone_id: int
    household_id: int
    head_name: str
    category: MilestoneCategory
    title: str
    due: date


@dataclass(frozen=True, slots=True)
class OpenHardship:
    request_id: int
    household_id: int
    head_name: str
    category: HardshipCategory
    created_at: datetime
    ack_due_at: datetime


def overdue_milestone(today: date) -> ColumnElement[bool]:
    """逾期: not done and its due date has passed (a milestone due today is not overdue)."""
    return and_(Milestone.completed_at.is_(None), Milestone.due_date < today)


def valid_id(value: int) -> bool:
    return 0 < value <= MAX_ID


class HouseholdRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ lists

    async def count_for_cadre(self, cadre_id: int) -> int:
        stmt = select(func.count()).select_from(Pairing).where(
            Pairing.cadre_id == cadre_id, Pairing.end_date.is_(None)
        )
        return int(await self.session.scalar(stmt) or 0)

    async def count_in_scope(self, region_path: str) -> int:
        stmt = select(func.count()).select_from(Household).where(
            Household.village_id.in_(subtree_ids(region_path))
        )
        return int(await self.session.scalar(stmt) or 0)

    async def page_for_cadre(self, cadre_id: int, today: date, limit: int, offset: int) -> list[HouseholdLine]:
        """The cadre's paired households (open pairings), overdue first."""
        base = (
            _line_columns(today)
            .select_from(Pairing)
            .join(Household, Household.id == Pairing.household_id)
            .join(Region, Region.id == Household.village_id)
            .where(Pairing.cadre_id == cadre_id, Pairing.end_date.is_(None))
        )
        return await self._page(base, today, limit, offset)

    async def page_in_scope(self, region_path: str, today: date, limit: int, offset: int) -> list[HouseholdLine]:
        """Every household in the admin's region subtree (paired or not), overdue first."""
        base = (
            _line_columns(today)
            .select_from(Household)
            .join(Region, Region.id == Household.village_id)
            .outerjoin(Pairing, and_(Pairing.household_id == Household.id, Pairing.end_date.is_(None)))
            .where(Household.village_id.in_(subtree_ids(region_path)))
        )
        return await self._page(base, today, limit, offset)

    async def _page(self, base: Select, today: date, limit: int, offset: int) -> list[HouseholdLine]:
        page = base.order_by(*_line_order(base)).limit(limit).offset(offset).cte("page")
        counts = (
            select(Milestone.household_id.label("household_id"), func.count().label("n"))
            .where(Milestone.household_id.in_(select(page.c.household_id)), overdue_milestone(today))
            .group_by(Milestone.household_id)
            .subquery("overdue_counts")
        )
        stmt = (
            select(page, func.coalesce(counts.c.n, 0).label("overdue_milestones"))
            .outerjoin(counts, counts.c.household_id == page.c.household_id)
            .order_by(page.c.urgency, page.c.undated, page.c.next_visit_due, page.c.reg_no, page.c.household_id)
        )
        rows = (await self.session.execute(stmt)).mappings().all()
        return [
            HouseholdLine(
                household_id=row["household_id"],
                head_name=row["head_name"],
                reg_no=row["reg_no"],
                village=row["village"],
                last_visit_on=row["last_visit_on"],
                next_visit_due=row["next_visit_due"],
                overdue_milestones=int(row["overdue_milestones"]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------- card

    async def household(self, household_id: int) -> Household | None:
        """The household with its village."""
        if not valid_id(household_id):
            return None
        return await self.session.scalar(
            select(Household).options(joinedload(Household.village)).where(Household.id == household_id)
        )

    async def milestones(self, household_id: int, limit: int) -> Sequence[Milestone]:
        """The household's plan: open items first (by due date), then done ones."""
        stmt = (
            select(Milestone)
            .where(Milestone.household_id == household_id)
            .order_by(case((Milestone.completed_at.is_(None), 0), else_=1), Milestone.due_date, Milestone.id)
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    async def count_milestones(self, household_id: int) -> int:
        stmt = select(func.count()).select_from(Milestone).where(Milestone.household_id == household_id)
        return int(await self.session.scalar(stmt) or 0)

    async def recent_visits(self, household_id: int, limit: int) -> Sequence[Visit]:
        stmt = (
            select(Visit)
            .where(Visit.household_id == household_id)
            .order_by(Visit.visited_on.desc(), Visit.id.desc())
            .limit(limit)
        )
        return (await self.session.scalars(stmt)).all()

    # ------------------------------------------------------------------ /today

    async def visits_due(self, cadre_id: int, until: date) -> list[DueVisit]:
        """The cadre's open pairings whose next visit is due on or before `until` (overdue included)."""
        stmt = (
            select(Pairing.household_id, Household.head_name, Household.reg_no, Pairing.next_visit_due)
            .join(Household, Household.id == Pairing.household_id)
            .where(
                Pairing.cadre_id == cadre_id,
                Pairing.end_date.is_(None),
                Pairing.next_visit_due.is_not(None),
                Pairing.next_visit_due <= until,
            )
            .order_by(Pairing.next_visit_due, Household.reg_no, Household.id)
        )
        rows = (await self.session.execute(stmt)).all()
        return [DueVisit(r.household_id, r.head_name, r.reg_no, r.next_visit_due) for r in rows]

    def _open_milestones_of_cadre(self, cadre_id: int, until: date) -> list[ColumnElement[bool]]:
        return [
            Pairing.cadre_id == cadre_id,
            Pairing.end_date.is_(None),
            Milestone.completed_at.is_(None),
            Milestone.due_date <= until,
        ]

    async def milestones_due(self, cadre_id: int, until: date, limit: int) -> list[DueMilestone]:
        """Open milestones of the cadre's paired households due on or before `until`, oldest first."""
        stmt = (
            select(
                Milestone.id, Milestone.household_id, Household.head_name, Milestone.category,
                Milestone.title, Milestone.due_date,
            )
            .join(Pairing, Pairing.household_id == Milestone.household_id)
            .join(Household, Household.id == Milestone.household_id)
            .where(*self._open_milestones_of_cadre(cadre_id, until))
            .order_by(Milestone.due_date, Milestone.id)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return [DueMilestone(r.id, r.household_id, r.head_name, r.category, r.title, r.due_date) for r in rows]

    async def count_milestones_due(self, cadre_id: int, until: date) -> int:
        stmt = (
            select(func.count())
            .select_from(Milestone)
            .join(Pairing, Pairing.household_id == Milestone.household_id)
            .where(*self._open_milestones_of_cadre(cadre_id, until))
        )
        return int(await self.session.scalar(stmt) or 0)

    async def unacknowledged_hardship(self, cadre_id: int, limit: int) -> list[OpenHardship]:
        """Hardship requests of the cadre's paired households nobody has acknowledged yet."""
        stmt = (
            select(
                HardshipRequest.id, HardshipRequest.household_id, Household.head_name, HardshipRequest.category,
                HardshipRequest.created_at, HardshipRequest.ack_due_at,
            )
            .join(Pairing, Pairing.household_id == HardshipRequest.household_id)
            .join(Household, Household.id == HardshipRequest.household_id)
            .where(
                Pairing.cadre_id == cadre_id,
                Pairing.end_date.is_(None),
                HardshipRequest.acknowledged_at.is_(None),
                HardshipRequest.resolved_at.is_(None),
            )
            .order_by(HardshipRequest.ack_due_at, HardshipRequest.id)
            .limit(limit)
        )
        rows = (await self.session.execute(stmt)).all()
        return [
            OpenHardship(r.id, r.household_id, r.head_name, r.category, r.created_at, r.ack_due_at) for r in rows
        ]


def _line_columns(today: date) -> Select:
    has_overdue_milestone = exists().where(Milestone.household_id == Household.id, overdue_milestone(today))
    visit_overdue = and_(Pairing.next_visit_due.is_not(None), Pairing.next_visit_due < today)
    return select(
        Household.id.label("household_id"),
        Household.head_name.label("head_name"),
        Household.reg_no.label("reg_no"),
        Region.name.label("village"),
        Pairing.last_visit_on.label("last_visit_on"),
        Pairing.next_visit_due.label("next_visit_due"),
        case((or_(visit_overdue, has_overdue_milestone), 0), else_=1).label("urgency"),
        case((Pairing.next_visit_due.is_(None), 1), else_=0).label("undated"),
    )


def _line_order(base: Select) -> list[ColumnElement]:
    """Overdue (visit or milestone) first, then by next visit due (undated last), then 户编号."""
    columns = base.selected_columns
    return [columns.urgency, columns.undated, columns.next_visit_due, columns.reg_no, columns.household_id]
