"""The lists behind the report spreadsheets (issue #6): overdue visits, overdue milestones,
flagged visits and households per cadre, restricted to a region subtree.

Every list is an async generator over `session.stream(...)` with `yield_per`, so a list
over a million households is never loaded into memory at once (a server-side cursor on
PostgreSQL). Consume one list at a time on a session. No phone or ID numbers are selected.

Definitions follow bot/reports/figures.py: an overdue visit is an open pairing whose
next_visit_due is before `today`; an overdue milestone is not completed and due before
`today`; a flagged visit is flagged and was made (visited_on) from the period start to
`today`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession
from sqlalchemy.orm import aliased

from storage.enums import MilestoneCategory, VisitConfirmation
from storage.models import Cadre, Household, Milestone, Pairing, Region, Visit
from storage.repositories.regions import SEPARATOR, subtree_clause

YIELD_PER = 500


def relative_path(path: str, region_path: str) -> str:
    """`path` below `region_path` ('示范镇/一村' under '吉林省/示范市/示范县'); the last name
    when `path` is the region itself or lies outside it."""
    prefix = region_path + SEPARATOR
    if path.startswith(prefix):
        return path[len(prefix):]
    return path.rsplit(SEPARATOR, 1)[-1]


@dataclass(frozen=True, slots=True)
class OverdueVisitRow:
    household_id: int
    reg_no: str
    head_name: str
    village: str  # path below the report region
    cadre_name: str
    cadre_code: str
    last_visit_on: date | None
    next_visit_due: date
    days_overdue: int


@dataclass(frozen=True, slots=True)
class OverdueMilestoneRow:
    milestone_id: int
    household_id: int
    reg_no: str
    head_name: str
    village: str
    category: MilestoneCategory
    title: str
    due_date: date
    days_overdue: int
    cadre_name: str | None  # the household's open pairing, if any
    cadre_code: str | None


@dataclass(frozen=True, slots=True)
class FlaggedVisitRow:
    visit_id: int
    visited_on: date
    household_id: int
    reg_no: str
    head_name: str
    village: str
    cadre_name: str
    cadre_code: str
    confirmation: VisitConfirmation  # DENIED: the household denied it; EXPIRED: no answer in time
    flagged_at: datetime | None  # aware UTC


@dataclass(frozen=True, slots=True)
class CadreLoadRow:
    cadre_id: int
    code: str
    name: str
    unit: str
    post: str
    region: str  # the cadre's own region, path without the province
    households: int  # open pairings with households of the report region
    overdue_visits: int
    overdue_milestones: int
    last_visit_on: date | None


@asynccontextmanager
async def _streamed(session: AsyncSession, stmt: Select[Any]) -> AsyncIterator[AsyncResult[Any]]:
    """The rows of `stmt`, fetched `YIELD_PER` at a time; the cursor is closed on the way
    out, also when the consumer stops early (the list generator is closed)."""
    result = await session.stream(stmt.execution_options(yield_per=YIELD_PER))
    try:
        yield result
    finally:
        await result.close()


class ReportListRepository:
    def __init__(self, session: AsyncSession, region_path: str) -> None:
        """`region_path` is a canonical full path ('吉林省/...'), e.g. `Report.path`."""
        self.session = session
        self.region_path = region_path

    def _in_region(self) -> Any:
        return subtree_clause(Region.path, self.region_path)

    async def overdue_visits(self, today: date) -> AsyncIterator[OverdueVisitRow]:
        """Open pairings of the region's households whose next visit was due before
        `today`, most overdue first."""
        stmt = (
            select(
                Household.id, Household.reg_no, Household.head_name, Region.path,
                Cadre.name, Cadre.code, Pairing.last_visit_on, Pairing.next_visit_due,
            )
            .select_from(Pairing)
            .join(Household, Household.id == Pairing.household_id)
            .join(Region, Region.id == Household.village_id)
            .join(Cadre, Cadre.id == Pairing.cadre_id)
            .where(Pairing.end_date.is_(None), Pairing.next_visit_due < today, self._in_region())
            .order_by(Pairing.next_visit_due, Household.reg_no)
        )
        async with _streamed(self.session, stmt) as result:
            async for hid, reg_no, head, path, cname, ccode, last, due in result:
                yield OverdueVisitRow(hid, reg_no, head, relative_path(path, self.region_path), cname,
                                      ccode, last, due, (today - due).days)

    async def overdue_milestones(self, today: date) -> AsyncIterator[OverdueMilestoneRow]:
        """Plan items of the region's households not done and due before `today`, most
        overdue first, with the household's current cadre."""
        stmt = (
            select(
                Milestone.id, Household.id, Household.reg_no, Household.head_name, Region.path,
                Milestone.category, Milestone.title, Milestone.due_date, Cadre.name, Cadre.code,
            )
            .select_from(Milestone)
            .join(Household, Household.id == Milestone.household_id)
            .join(Region, Region.id == Household.village_id)
            .outerjoin(Pairing, and_(Pairing.household_id == Household.id, Pairing.end_date.is_(None)))
            .outerjoin(Cadre, Cadre.id == Pairing.cadre_id)
            .where(Milestone.completed_at.is_(None), Milestone.due_date < today, self._in_region())
            .order_by(Milestone.due_date, Household.reg_no, Milestone.id)
        )
        async with _streamed(self.session, stmt) as result:
            async for mid, hid, reg_no, head, path, cat, title, due, cname, ccode in result:
                yield OverdueMilestoneRow(mid, hid, reg_no, head, relative_path(path, self.region_path),
                                          MilestoneCategory(cat), title, due, (today - due).days, cname, ccode)

    async def flagged_visits(self, since: date, until: date) -> AsyncIterator[FlaggedVisitRow]:
        """Flagged visits (denied by the household, or unanswered in time) to the region's
        households, visited from `since` to `until` (both included), oldest first."""
        stmt = (
            select(
                Visit.id, Visit.visited_on, Household.id, Household.reg_no, Household.head_name,
                Region.path, Cadre.name, Cadre.code, Visit.confirmation, Visit.flagged_at,
            )
            .select_from(Visit)
            .join(Household, Household.id == Visit.household_id)
            .join(Region, Region.id == Household.village_id)
            .join(Cadre, Cadre.id == Visit.cadre_id)
            .where(Visit.flagged.is_(True), Visit.visited_on >= since, Visit.visited_on <= until,
                   self._in_region())
            .order_by(Visit.visited_on, Visit.id)
        )
        async with _streamed(self.session, stmt) as result:
            async for vid, on, hid, reg_no, head, path, cname, ccode, conf, at in result:
                yield FlaggedVisitRow(vid, on, hid, reg_no, head, relative_path(path, self.region_path),
                                      cname, ccode, VisitConfirmation(conf), at)

    async def cadre_loads(self, today: date) -> AsyncIterator[CadreLoadRow]:
        """One row per cadre with open pairings to households of the region (by cadre code):
        how many, how many overdue, the overdue milestones of those households and the
        latest visit among those pairings."""
        village = aliased(Region)
        overdue_ms = (
            select(Milestone.household_id, func.count().label("n"))
            .join(Household, Household.id == Milestone.household_id)
            .join(Region, Region.id == Household.village_id)
            .where(Milestone.completed_at.is_(None), Milestone.due_date < today, self._in_region())
            .group_by(Milestone.household_id)
            .subquery()
        )
        stmt = (
            select(
                Cadre.id, Cadre.code, Cadre.name, Cadre.unit, Cadre.post, Region.path,
                func.count(Pairing.id),
                func.coalesce(func.sum(case((Pairing.next_visit_due < today, 1), else_=0)), 0),
                func.coalesce(func.sum(overdue_ms.c.n), 0),
                func.max(Pairing.last_visit_on),
            )
            .select_from(Pairing)
            .join(Household, Household.id == Pairing.household_id)
            .join(village, village.id == Household.village_id)
            .join(Cadre, Cadre.id == Pairing.cadre_id)
            .join(Region, Region.id == Cadre.region_id)
            .outerjoin(overdue_ms, overdue_ms.c.household_id == Household.id)
            .where(Pairing.end_date.is_(None), subtree_clause(village.path, self.region_path))
            .group_by(Cadre.id, Cadre.code, Cadre.name, Cadre.unit, Cadre.post, Region.path)
            .order_by(Cadre.code)
        )
        async with _streamed(self.session, stmt) as result:
            async for cid, code, name, unit, post, path, n, overdue, ms, last in result:
                region = path.split(SEPARATOR, 1)[1] if SEPARATOR in path else path
                yield CadreLoadRow(cid, code, name, unit or "", post or "", region, int(n), int(overdue),
                                   int(ms), last)
