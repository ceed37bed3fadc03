"""The report's figures (issue #6 parts 1 and 4, data): `build_report` against a count in
Python over the seeded records, for every row of every level, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

import pytest

from bot.reports.figures import Figures, RegionNotFound, build_report
from storage.enums import RegionLevel
from storage.repositories.reports import ReportRepository
from tests.reports.conftest import (
    CITY_A,
    COUNTY_A,
    COUNTY_B,
    EMPTY_COUNTY,
    EMPTY_TOWNSHIP,
    EMPTY_VILLAGE,
    PERIOD_START,
    PROVINCE,
    TODAY,
    TOWNSHIP_A1,
    TOWNSHIP_B1,
    TOWNSHIP_B2,
    VILLAGE_A1,
    VILLAGE_C,
    ReportPeople,
    expected_figures,
)

LEVEL_OF_DEPTH = [RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY, RegionLevel.TOWNSHIP,
                  RegionLevel.VILLAGE]


def _assert_report(report, people: ReportPeople, path: str, today: date = TODAY) -> None:
    assert report.path == path
    assert report.region_id == people.regions[path]
    assert report.name == path.rsplit("/", 1)[-1]
    assert report.level == LEVEL_OF_DEPTH[path.count("/")]
    assert report.as_of == today
    assert report.period_start == date(today.year, 1, 1)
    assert asdict(report.total) == asdict(expected_figures(people, path, today))
    children = people.children(path)
    assert [row.path for row in report.rows] == children
    for row in report.rows:
        assert row.region_id == people.regions[row.path]
        assert row.name == row.path.rsplit("/", 1)[-1]
        assert row.level == LEVEL_OF_DEPTH[row.path.count("/")]
        assert row.has_children == (row.level != RegionLevel.VILLAGE)
        assert asdict(row.figures) == asdict(expected_figures(people, row.path, today)), row.path


@pytest.mark.parametrize("path", [PROVINCE, CITY_A, COUNTY_A, COUNTY_B, TOWNSHIP_A1, TOWNSHIP_B1, VILLAGE_C])
async def test_every_figure_of_every_row_equals_a_direct_count(session, report_people, path):
    report = await build_report(session, path, TODAY)
    _assert_report(report, report_people, path)
    assert report.has_data


async def test_the_seed_covers_every_case(report_people):
    """The comparison means something only if every figure is non-zero somewhere and the
    excluded cases (closed pairings, last year's visits, inactive accounts) exist."""
    total = expected_figures(report_people, PROVINCE)
    assert all(value > 0 for value in asdict(total).values()), total
    assert any(p.end_date is not None for p in report_people.pairings)
    assert any(v.visited_on < PERIOD_START and v.flagged for v in report_people.visits)
    assert any(v.visited_on < PERIOD_START and v.rating for v in report_people.visits)
    assert any(m.done and m.due_date < TODAY for m in report_people.milestones)
    assert any(not a.is_active for a in report_people.accounts)


async def test_cadres_are_attributed_to_the_child_holding_their_region(session, report_people):
    """A county report: the county cadre counts in the total only; a township cadre in
    its township; a village cadre in its village's township."""
    report = await build_report(session, COUNTY_A, TODAY)
    rows = {row.name: row.figures for row in report.rows}
    assert rows["甲一镇"].bound_cadres == 2  # RC04 (township) + RC07 (village 甲一村); RC05, RC06 not
    assert rows["甲二镇"].bound_cadres == 0  # RC08's account has no role
    assert report.total.bound_cadres == 3  # + RC03, attached to the county itself
    city = await build_report(session, CITY_A, TODAY)
    city_rows = {row.name: row.figures for row in city.rows}
    assert city_rows["甲县"].bound_cadres == 3
    assert city_rows["乙县"].bound_cadres == 3  # RC09, RC10 (two accounts, one cadre), RC11
    assert city.total.bound_cadres == 7  # + RC02 (city level)
    province = await build_report(session, PROVINCE, TODAY)
    assert province.total.bound_cadres == 9  # + RC01 (province level) + RC13 (丙村)
    assert sum(row.figures.bound_cadres for row in province.rows) == 8


async def test_a_village_report_has_no_rows_and_its_total(session, report_people):
    report = await build_report(session, VILLAGE_A1, TODAY)
    assert report.rows == []
    assert report.level == RegionLevel.VILLAGE
    _assert_report(report, report_people, VILLAGE_A1)
    assert report.total.bound_cadres == 1  # RC07
    assert report.has_data


async def test_a_region_without_households_has_zero_rows_and_no_data(session, report_people):
    report = await build_report(session, EMPTY_COUNTY, TODAY)
    assert [row.path for row in report.rows] == [EMPTY_TOWNSHIP]
    assert report.rows[0].figures == Figures()
    assert report.rows[0].has_children
    assert report.total == Figures()  # RC12's account is inactive
    assert not report.has_data
    village = await build_report(session, EMPTY_VILLAGE, TODAY)
    assert village.rows == [] and village.total == Figures() and not village.has_data


async def test_a_township_without_villages_but_with_a_cadre(session, report_people):
    report = await build_report(session, TOWNSHIP_B2, TODAY)
    assert report.rows == []
    assert report.total == Figures(bound_cadres=1)
    assert report.has_data  # a bound cadre is data, even without households
    county = await build_report(session, COUNTY_B, TODAY)
    assert {row.name: row.figures for row in county.rows}["乙二镇"] == Figures(bound_cadres=1)


async def test_unknown_paths_raise_region_not_found(session, report_people):
    # LIKE wildcards are escaped: '甲%' or '_县' match nothing
    for path in ["吉林省/不存在市", "吉林省/甲市/甲县/甲一", "吉林省/甲市/甲%", "吉林省/甲市/_县", "辽宁省"]:
        with pytest.raises(RegionNotFound):
            await build_report(session, path, TODAY)


async def test_paths_are_normalised(session, report_people):
    """Operators type paths without the province; the empty path is the province."""
    report = await build_report(session, "甲市/甲县", TODAY)
    assert report.path == COUNTY_A
    assert (await build_report(session, "", TODAY)).path == PROVINCE


async def test_another_day_moves_the_overdue_and_period_figures(session, report_people):
    """As of an earlier day (or the next year) the same data give other figures, still
    equal to the direct count: due dates and the period follow `today`."""
    for day in [date(2026, 6, 30), date(2027, 1, 5), TODAY.replace(day=30)]:
        report = await build_report(session, COUNTY_A, day)
        _assert_report(report, report_people, COUNTY_A, day)


async def test_an_empty_registry(session):
    with pytest.raises(RegionNotFound):
        await build_report(session, PROVINCE, TODAY)


async def test_the_tree_maps_each_village_to_its_child(session, report_people):
    tree = await ReportRepository(session).region_tree(CITY_A)
    assert tree is not None
    by_id = report_people.region_paths
    for village_id, child_id in tree.village_child.items():
        village, child = by_id[village_id], by_id[child_id]
        assert village.startswith(child + "/"), (village, child)
    # only the villages of the subtree: 丙村 (another city) is not read
    assert report_people.regions[VILLAGE_C] not in tree.village_child
    assert {by_id[v] for v in tree.village_child} == {
        p for p in report_people.regions if p.startswith(CITY_A + "/") and p.count("/") == 4
    }
    assert [c.path for c in tree.children] == report_people.children(CITY_A)
