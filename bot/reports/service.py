"""What /report and /export do, without Telegram: find the region the admin asked for inside
their scope, and build its report (figures, chart) or export (workbook, CSV)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.reports.figures import Report, build_report
from storage.models import Region
from storage.repositories.regions import RegionRepository, within

MAX_REGION_ID = 2**31 - 1  # regions.id is a 32-bit integer column


@dataclass(frozen=True)
class RegionChoice:
    """The outcome of looking a region up: `region` set, or why not (`missing`, `ambiguous`)."""

    region: Region | None = None
    missing: bool = False
    ambiguous: int = 0


async def choose_region(session: AsyncSession, scope: str, name: str | None) -> RegionChoice:
    """The admin's own region when `name` is empty; else the region of that name (or path
    tail, e.g. 白山市/长白朝鲜族自治县) inside the scope. Regions outside the scope are
    reported as missing, never as existing elsewhere."""
    repo = RegionRepository(session)
    if not name or not name.strip():
        region = await repo.by_path(scope)
        return RegionChoice(region=region, missing=region is None)
    found = await repo.named_in_scope(name, scope)
    if not found:
        return RegionChoice(missing=True)
    if len(found) > 1:
        return RegionChoice(ambiguous=len(found))
    return RegionChoice(region=found[0])


async def region_in_scope(session: AsyncSession, scope: str, region_id: int) -> Region | None:
    """The region of a (possibly forged) id when it lies in the admin's scope, else None
    (also for an id no integer column can hold: PostgreSQL would refuse it)."""
    if not 1 <= region_id <= MAX_REGION_ID:
        return None
    region = await RegionRepository(session).get(region_id)
    if region is None or not within(region.path, scope):
        return None
    return region


@dataclass(frozen=True)
class ReportView:
    report: Report
    parent_id: int | None  # the 上一级 target: set while below the admin's own region


async def report_view(session: AsyncSession, scope: str, region: Region, today: date) -> ReportView:
    report = await build_report(session, region.path, today)
    parent_id = region.parent_id if region.path != scope and within(region.path, scope) else None
    return ReportView(report, parent_id)
