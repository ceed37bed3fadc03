"""Aggregate SQL for the admin reports (issue #6): figures per village of a region's subtree.

Every query joins the rows to the village of their household (`households.village_id`)
and restricts it to the region's subtree with the path-prefix condition on `regions.path`
(`ix_regions_path_prefix`); the rows are grouped by village id, so what comes back is one
row per village (about 9,000 for the province), never one per household. bot/reports/
figures.py folds the villages into the child regions.

A join is used rather than `village_id IN (subquery)`: on PostgreSQL the join lets the
planner start from the few villages of a county and probe the per-household indexes
(BENCHMARKS.md, "Visit cadence"). For the province the join is left out (every household
is in it), only flagged or rated visits are joined, and on PostgreSQL the transaction's
work_mem is raised so that hashing a million households stays in memory (BENCHMARKS.md,
"Admin reports": 3.3 s for the province over a million households).

Results are plain dicts keyed by the field names of `bot.reports.figures.Figures`, so that
storage/ does not depend on bot/.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import HouseholdStatus, RegionLevel, Role
from storage.models import Account, Cadre, Household, Milestone, Pairing, Region, Visit
from storage.repositories.regions import PROVINCE_NAME, SEPARATOR, normalize_path, subtree_clause

WORK_MEM = "64MB"  # PostgreSQL, during the report's transaction
VillageFigures = dict[str, int]  # figure name -> value, for one village

STATUS_FIGURE = {
    HouseholdStatus.NOT_LIFTED: "not_lifted",
    HouseholdStatus.LIFTED: "lifted",
    HouseholdStatus.RETURNED: "returned",
}


@dataclass(frozen=True, slots=True)
class RegionNode:
    id: int
    name: str
    path: str
    level: RegionLevel


@dataclass(frozen=True, slots=True)
class RegionTree:
    """A region, its children (by name) and, for every village of its subtree, the child
    it lies under (None when the region is that village itself)."""

    region: RegionNode
    children: list[RegionNode]
    village_child: dict[int, int | None]
    child_by_path: dict[str, int]

    def child_of_path(self, path: str) -> int | None:
        """The id of the child whose subtree holds `path`; None for the region itself or
        a path outside the children (a cadre attached to the region counts in the total)."""
        depth = self.region.path.count(SEPARATOR)
        parts = path.split(SEPARATOR)
        if len(parts) <= depth + 1 or SEPARATOR.join(parts[: depth + 1]) != self.region.path:
            return None
        return self.child_by_path.get(SEPARATOR.join(parts[: depth + 2]))


def _node(row) -> RegionNode:
    return RegionNode(id=row.id, name=row.name, path=row.path, level=RegionLevel(row.level))


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def region_tree(self, raw_path: str) -> RegionTree | None:
        """The region at `raw_path` (None if unknown), its children and the village → child
        mapping of its subtree: one query over the subtree's children and villages."""
        path = normalize_path(raw_path)
        stmt = (
            select(Region.id, Region.name, Region.path, Region.level, Region.parent_id)
            .where(subtree_clause(Region.path, path))
            .where(
                or_(
                    Region.path == path,
                    Region.level == RegionLevel.VILLAGE,
                    Region.parent_id == select(Region.id).where(Region.path == path).scalar_subquery(),
                )
            )
        )
        rows = (await self.session.execute(stmt)).all()
        region_row = next((r for r in rows if r.path == path), None)
        if region_row is None:
            return None
        region = _node(region_row)
        children = sorted(
            (_node(r) for r in rows if r.parent_id == region.id), key=lambda n: (n.name, n.id)
        )
        by_path = {c.path: c.id for c in children}
        depth = path.count(SEPARATOR)
        village_child: dict[int, int | None] = {}
        for r in rows:
            if RegionLevel(r.level) != RegionLevel.VILLAGE:
                continue
            if r.id == region.id:
                village_child[r.id] = None
                continue
            prefix = SEPARATOR.join(r.path.split(SEPARATOR)[: depth + 2])
            village_child[r.id] = by_path.get(prefix)
        return RegionTree(region=region, children=children, village_child=village_child, child_by_path=by_path)

    # -- per-village aggregates -------------------------------------------------------------

    async def village_figures(self, path: str, today: date, period_start: date) -> dict[int, VillageFigures]:
        """Every figure but the cadres', per village id of the subtree of `path` (a canonical
        path). Villages without any household, pairing, ... are absent."""
        if (await self.session.connection()).dialect.name == "postgresql":
            # The province's joins hash a million households: keep the hash tables in memory
            # rather than in temporary files (for this transaction only).
            await self.session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        out: dict[int, VillageFigures] = defaultdict(dict)

        def add(village_id: int, name: str, value: int | None) -> None:
            if value:
                figures = out[village_id]
                figures[name] = figures.get(name, 0) + int(value)

        for village_id, status, n in await self._rows(self._households_stmt(path)):
            add(village_id, "households", n)
            add(village_id, STATUS_FIGURE[HouseholdStatus(status)], n)
        for village_id, n, overdue in await self._rows(self._pairings_stmt(path, today)):
            add(village_id, "pairings", n)
            add(village_id, "overdue_visits", overdue)
            add(village_id, "visited_in_cadence", n - (overdue or 0))
        for village_id, n in await self._rows(self._milestones_stmt(path, today)):
            add(village_id, "overdue_milestones", n)
        for village_id, flagged, ratings, rating_sum in await self._rows(
            self._visits_stmt(path, today, period_start)
        ):
            add(village_id, "flagged_visits", flagged)
            add(village_id, "ratings", ratings)
            add(village_id, "rating_sum", rating_sum)
        for village_id, n in await self._rows(self._bound_households_stmt(path)):
            add(village_id, "bound_households", n)
        return dict(out)

    async def bound_cadres_by_region(self, path: str) -> dict[str, int]:
        """Cadres with an active bound account whose own region lies in the subtree of
        `path`: count per region path (the caller folds them by path prefix)."""
        stmt = (
            select(Region.path, func.count(func.distinct(Cadre.id)))
            .select_from(Cadre)
            .join(Region, Region.id == Cadre.region_id)
            .join(Account, Account.cadre_id == Cadre.id)
            .where(subtree_clause(Region.path, path))
            .where(Account.role == Role.CADRE, Account.is_active.is_(True))
            .group_by(Region.path)
        )
        return {p: int(n) for p, n in await self._rows(stmt)}

    async def _rows(self, stmt: Select) -> list:
        return list((await self.session.execute(stmt)).tuples())

    # -- statements ---------------------------------------------------------------------

    @staticmethod
    def _in_subtree(stmt: Select, path: str) -> Select:
        if path == PROVINCE_NAME:  # every household: no join with the regions
            return stmt
        return stmt.join(Region, Region.id == Household.village_id).where(subtree_clause(Region.path, path))

    def _households_stmt(self, path: str) -> Select:
        stmt = select(Household.village_id, Household.status, func.count()).select_from(Household)
        return self._in_subtree(stmt, path).group_by(Household.village_id, Household.status)

    def _pairings_stmt(self, path: str, today: date) -> Select:
        stmt = (
            select(
                Household.village_id,
                func.count(),
                func.count().filter(Pairing.next_visit_due < today),
            )
            .select_from(Pairing)
            .join(Household, Household.id == Pairing.household_id)
            .where(Pairing.end_date.is_(None))
        )
        return self._in_subtree(stmt, path).group_by(Household.village_id)

    def _milestones_stmt(self, path: str, today: date) -> Select:
        stmt = (
            select(Household.village_id, func.count())
            .select_from(Milestone)
            .join(Household, Household.id == Milestone.household_id)
            .where(Milestone.completed_at.is_(None), Milestone.due_date < today)
        )
        return self._in_subtree(stmt, path).group_by(Household.village_id)

    def _visits_stmt(self, path: str, today: date, period_start: date) -> Select:
        stmt = (
            select(
                Household.village_id,
                func.count().filter(Visit.flagged.is_(True)),
                func.count(Visit.rating),
                func.coalesce(func.sum(Visit.rating), 0),
            )
            .select_from(Visit)
            .join(Household, Household.id == Visit.household_id)
            .where(Visit.visited_on >= period_start, Visit.visited_on <= today)
            # only these rows change a figure: the join skips the unflagged, unrated majority
            .where(or_(Visit.flagged.is_(True), Visit.rating.is_not(None)))
        )
        return self._in_subtree(stmt, path).group_by(Household.village_id)

    def _bound_households_stmt(self, path: str) -> Select:
        stmt = (
            select(Household.village_id, func.count(func.distinct(Account.household_id)))
            .select_from(Account)
            .join(Household, Household.id == Account.household_id)
            .where(Account.role == Role.HOUSEHOLD, Account.is_active.is_(True))
        )
        return self._in_subtree(stmt, path).group_by(Household.village_id)
