"""The demo county: loads, is 'live' relative to today, and is idempotent."""

from __future__ import annotations

from datetime import date, timedelta

from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main_group
from bot.demo import COUNTY_PATH, load_demo_data
from storage.enums import HouseholdStatus, HousingGrade, PovertyCause
from storage.models import Cadre, HardshipRequest, Household, Milestone, Pairing, Region, Visit

TODAY = date(2026, 11, 29)


async def _count(session, model, *where) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_loads_fictional_county(session):
    summary = await load_demo_data(session, TODAY)
    assert summary.households == await _count(session, Household) == 20
    assert summary.cadres == await _count(session, Cadre) == 5
    assert summary.townships == 3 and summary.villages == 6
    county = await session.scalar(select(Region).where(Region.path == COUNTY_PATH))
    assert county is not None and county.level == "county" and "示范" in county.name
    households = list(await session.scalars(select(Household)))
    assert all(h.id_hash is None and h.id_last4 is None for h in households)
    assert {h.status for h in households} == set(HouseholdStatus)
    assert {HousingGrade.C, HousingGrade.D} <= {h.housing_grade for h in households}
    assert any(h.dibao for h in households) and any(h.students for h in households)
    assert any(h.disabled for h in households)
    assert any(PovertyCause.ILLNESS in h.causes and PovertyCause.LACK_FUNDS in h.causes for h in households)
    cadres = {c.code: c for c in await session.scalars(select(Cadre))}
    boss = cadres["DEMO-C01"]
    assert boss.supervisor_id is None
    assert all(c.supervisor_id == boss.id for code, c in cadres.items() if code != "DEMO-C01")
    assert len({c.level for c in cadres.values()}) >= 3


async def test_pairings_milestones_visits_are_live(session):
    summary = await load_demo_data(session, TODAY)
    pairings = list(await session.scalars(select(Pairing)))
    ended = [p for p in pairings if p.end_date is not None]
    assert len(ended) == 1 and ended[0].end_date < TODAY
    open_households = {p.household_id for p in pairings if p.end_date is None}
    assert 15 <= len(open_households) < 20  # most paired, some waiting
    assert summary.active_pairings == len(open_households)
    milestones = list(await session.scalars(select(Milestone)))
    overdue = [m for m in milestones if m.is_overdue(TODAY)]
    due_soon = [m for m in milestones if not m.is_done and TODAY <= m.due_date <= TODAY + timedelta(days=7)]
    done = [m for m in milestones if m.is_done]
    assert overdue and due_soon and done
    assert summary.overdue_milestones == len(overdue)
    assert len({m.category for m in milestones}) >= 7
    assert await _count(session, Visit) == summary.visits >= 3
    # the cadre-work views have something to show: flagged visits, hardship requests in
    # each state, and every open pairing's next visit due
    assert await _count(session, Visit, Visit.flagged.is_(True)) >= 2
    assert await _count(session, HardshipRequest) == 3
    assert await _count(session, HardshipRequest, HardshipRequest.resolved_at.is_not(None)) == 1
    assert await _count(session, Pairing, Pairing.end_date.is_(None), Pairing.next_visit_due.is_(None)) == 0


async def test_idempotent_and_refreshes(session):
    first = await load_demo_data(session, TODAY)
    assert first.created > 0
    counts = [await _count(session, m) for m in (Region, Household, Cadre, Pairing, Milestone, Visit, HardshipRequest)]
    second = await load_demo_data(session, TODAY)
    assert second.created == 0 and second.updated == 0
    assert counts == [await _count(session, m) for m in (Region, Household, Cadre, Pairing, Milestone, Visit, HardshipRequest)]
    # A day later: dates move with 'today', still no duplicates.
    later = await load_demo_data(session, TODAY + timedelta(days=1))
    assert later.created == 0 and later.updated > 0
    assert counts == [await _count(session, m) for m in (Region, Household, Cadre, Pairing, Milestone, Visit, HardshipRequest)]


async def test_keeps_a_household_repaired_since(session):
    summary = await load_demo_data(session, TODAY)
    hh_id = summary.household_ids["DEMO-H001"]
    pairing = await session.scalar(
        select(Pairing).where(Pairing.household_id == hh_id, Pairing.end_date.is_(None))
    )
    pairing.end_date = TODAY
    session.add(Pairing(household_id=hh_id, cadre_id=summary.cadre_ids["DEMO-C05"], start_date=TODAY))
    await session.commit()
    await load_demo_data(session, TODAY)  # must not violate 'one open pairing per household'
    open_rows = list(
        await session.scalars(select(Pairing).where(Pairing.household_id == hh_id, Pairing.end_date.is_(None)))
    )
    assert len(open_rows) == 1


def test_cli_refuses_unmigrated_then_upgrades(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    runner = CliRunner()
    result = runner.invoke(main_group, ["demo-data", "--database-url", url])
    assert result.exit_code == 2
    assert "not migrated" in result.output and "Traceback" not in result.output
    result = runner.invoke(main_group, ["demo-data", "--database-url", url, "--upgrade"])
    assert result.exit_code == 0, result.output
    assert "20 households" in result.output and "5 cadres" in result.output
    result = runner.invoke(main_group, ["demo-data", "--database-url", url])
    assert result.exit_code == 0 and "0 rows created" in result.output


def test_cli_on_migrated_db(db_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main_group, ["demo-data", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "20 households" in result.output


def test_cli_unreachable_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    for extra in ([], ["--upgrade"]):
        result = CliRunner().invoke(main_group, ["demo-data", "--database-url", url, *extra])
        assert result.exit_code == 2
        assert "unreachable" in result.output


def test_cli_bad_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main_group, ["demo-data", "--database-url", "mysql://x/y"])
    assert result.exit_code == 2 and "DATABASE_URL" in result.output
