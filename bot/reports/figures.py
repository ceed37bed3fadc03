"""The report's figures: per child region of a region in the admin's scope (issue #6).

`build_report(session, region_path, today)` returns a `Report`: one `RegionRow` per child
region (市州 under the province, 县市区 under a 市州, 乡镇 under a 县, 行政村 under a 乡镇;
none under a village) and the region's total. The figures are computed with aggregate SQL
grouped by village (storage/repositories/reports.py) and folded into the children here, so
the cost follows the number of regions, not of households, in memory.

Definitions (also the README's and the spreadsheet's):
- households: registered households whose village lies in the region, by status
  未脱贫 (not_lifted) / 已脱贫 (lifted) / 返贫 (returned);
- pairings: open pairings (no end date) of those households;
  visited_in_cadence: of them, not overdue (next_visit_due is today or later, or not set);
  overdue_visits: of them, next_visit_due before today;
- overdue_milestones: plan items not done whose due date is before today;
- flagged_visits: visits logged since `period_start` (1 January of `today`'s year) that
  are flagged (the household denied the visit, or did not answer in time);
- ratings / rating_sum: the satisfaction ratings (1–5) households gave to visits since
  `period_start`; avg_satisfaction is their mean (None without ratings);
- bound_households: households with an active bound Telegram account;
  bound_cadres: cadres of the region (by their own region) with an active bound account.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import RegionLevel
from storage.repositories.reports import ReportRepository


@dataclass(frozen=True)
class Figures:
    households: int = 0
    not_lifted: int = 0
    lifted: int = 0
    returned: int = 0
    pairings: int = 0
    visited_in_cadence: int = 0
    overdue_visits: int = 0
    overdue_milestones: int = 0
    flagged_visits: int = 0
    ratings: int = 0
    rating_sum: int = 0
    bound_households: int = 0
    bound_cadres: int = 0

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @property
    def avg_satisfaction(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None

    @property
    def coverage(self) -> float | None:
        """Share of open pairings visited within their cadence (None without pairings)."""
        return self.visited_in_cadence / self.pairings if self.pairings else None

    @property
    def bound_accounts(self) -> int:
        return self.bound_households + self.bound_cadres


@dataclass(frozen=True)
class RegionRow:
    region_id: int
    name: str
    path: str
    level: RegionLevel
    has_children: bool  # a drill-down button makes sense (not a village)
    figures: Figures


@dataclass(frozen=True)
class Report:
    region_id: int
    name: str
    path: str
    level: RegionLevel
    as_of: date  # the local day the figures are for
    period_start: date  # flagged visits and ratings are counted from this day
    rows: list[RegionRow] = field(default_factory=list)  # the child regions, by name
    total: Figures = field(default_factory=Figures)

    @property
    def has_data(self) -> bool:
        return self.total.households > 0 or self.total.bound_cadres > 0


class RegionNotFound(LookupError):
    """No region has the given path."""


def period_start_of(today: date) -> date:
    """Flagged visits and ratings are counted from 1 January of the report's year."""
    return date(today.year, 1, 1)


async def build_report(session: AsyncSession, region_path: str, today: date) -> Report:
    """The report of the region at `region_path` as of `today` (local date). The caller
    checks the admin's scope. Raises RegionNotFound for an unknown path."""
    repo = ReportRepository(session)
    tree = await repo.region_tree(region_path)
    if tree is None:
        raise RegionNotFound(region_path)
    region = tree.region
    period_start = period_start_of(today)

    per_child: dict[int, dict[str, int]] = {c.id: {} for c in tree.children}
    total: dict[str, int] = {}

    def add(target: dict[str, int], figures: dict[str, int]) -> None:
        for name, value in figures.items():
            target[name] = target.get(name, 0) + value

    for village_id, figures in (await repo.village_figures(region.path, today, period_start)).items():
        add(total, figures)
        child_id = tree.village_child.get(village_id)
        if child_id is not None:
            add(per_child[child_id], figures)
    for path, n in (await repo.bound_cadres_by_region(region.path)).items():
        add(total, {"bound_cadres": n})
        child_id = tree.child_of_path(path)
        if child_id is not None:
            add(per_child[child_id], {"bound_cadres": n})

    rows = [
        RegionRow(
            region_id=c.id,
            name=c.name,
            path=c.path,
            level=c.level,
            has_children=c.level != RegionLevel.VILLAGE,
            figures=Figures(**per_child[c.id]),
        )
        for c in tree.children
    ]
    return Report(
        region_id=region.id,
        name=region.name,
        path=region.path,
        level=region.level,
        as_of=today,
        period_start=period_start,
        rows=rows,
        total=Figures(**total),
    )
