"""refresh_pairings (one UPDATE) agrees with the pure rule on SQLite and PostgreSQL; the
rules are re-applied at start when they change; the due/overdue queries."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select

from bot.work.cadence import (
    RULES_META_KEY,
    ensure_rules_applied,
    leader_visit_status,
    next_visit_due,
    refresh_pairings,
)
from bot.work.rules import VisitRules
from storage.enums import CadreLevel, VisitKind
from storage.models import AppMeta, Cadre, Household, Pairing, Visit
from storage.repositories.cadence import CadenceRepository
from storage.repositories.regions import RegionRepository
from tests.work.people import COUNTY, PAIRED_SINCE, VILLAGE_1

RULES = VisitRules()


def _visit(cadre_id: int, household_id: int, day: date) -> Visit:
    return Visit(cadre_id=cadre_id, household_id=household_id, visited_on=day, kind=VisitKind.HOME)


async def _pairings(session) -> dict[int, Pairing]:
    session.expire_all()
    return {p.id: p for p in (await session.scalars(select(Pairing))).all()}


async def _random_registry(session, rng: random.Random, count: int) -> list[tuple[int, int, date, date | None]]:
    """`count` households each with an open pairing (and some with an ended one before it),
    random visits by the paired cadre, by another cadre, and before the pairing started."""
    village = await RegionRepository(session).ensure_chain([*VILLAGE_1])
    cadres = [Cadre(code=f"R{i}", name=f"干部{i}", level=CadreLevel.VILLAGE, region_id=village.id) for i in range(4)]
    session.add_all(cadres)
    households = [Household(reg_no=f"RH{i:04d}", head_name=f"户{i}", village_id=village.id) for i in range(count)]
    session.add_all(households)
    await session.flush()
    expected: list[tuple[int, int, date, date | None]] = []
    for hh in households:
        cadre, other = rng.sample(cadres, 2)
        start = date(2027, 1, 1) + timedelta(days=rng.randrange(0, 500))  # spans 2028-02-29
        if rng.random() < 0.3:
            old = Pairing(cadre_id=other.id, household_id=hh.id, start_date=start - timedelta(days=200),
                          end_date=start)
            session.add(old)
        pairing = Pairing(cadre_id=cadre.id, household_id=hh.id, start_date=start)
        session.add(pairing)
        days = [start + timedelta(days=rng.randrange(0, 120)) for _ in range(rng.randrange(0, 4))]
        if rng.random() < 0.2:
            days.append(start)  # on the start day
        for day in days:
            session.add(_visit(cadre.id, hh.id, day))
        session.add(_visit(other.id, hh.id, start + timedelta(days=rng.randrange(0, 200))))  # another cadre
        session.add(_visit(cadre.id, hh.id, start - timedelta(days=rng.randrange(1, 30))))  # before the start
        await session.flush()
        last = max(days, default=None)
        expected.append((pairing.id, hh.id, start, last))
    return expected


async def test_refresh_equals_the_pure_rule(session) -> None:
    rng = random.Random(20261129)
    expected = await _random_registry(session, rng, 40)
    await session.commit()
    updated = await refresh_pairings(session, RULES)
    await session.commit()
    assert updated == 40  # the open pairings only
    pairings = await _pairings(session)
    for pairing_id, _hh, start, last in expected:
        p = pairings[pairing_id]
        assert p.last_visit_on == last
        assert p.next_visit_due == next_visit_due(start, last, RULES)
    for p in pairings.values():
        if p.end_date is not None:
            assert p.last_visit_on is None and p.next_visit_due is None  # ended pairings untouched
    # other rules give the other pure results
    other = VisitRules(every_days=45, first_contact_days=3)
    await refresh_pairings(session, other)
    await session.commit()
    pairings = await _pairings(session)
    for pairing_id, _hh, start, last in expected:
        assert pairings[pairing_id].next_visit_due == next_visit_due(start, last, other)


async def test_refresh_of_some_households_and_pending_visit(session, people) -> None:
    await refresh_pairings(session, RULES)
    await session.commit()
    p1 = await session.get(Pairing, people.pairing_h1)
    assert p1.next_visit_due == PAIRED_SINCE + timedelta(days=7) and p1.last_visit_on is None
    # a visit added in the same transaction counts (pending changes are flushed)
    session.add(_visit(people.cadre, people.h1, date(2026, 11, 5)))
    session.add(_visit(people.cadre, people.h2, date(2026, 11, 6)))
    assert await refresh_pairings(session, RULES, household_ids=[people.h1]) == 1
    assert p1.last_visit_on == date(2026, 11, 5)  # the loaded object sees the new values
    assert p1.next_visit_due == date(2026, 12, 5)
    p2 = await session.get(Pairing, people.pairing_h2)
    assert p2.last_visit_on is None  # not in the list: not recomputed
    assert await refresh_pairings(session, RULES, household_ids=[]) == 0
    assert await refresh_pairings(session, RULES, household_ids=[people.h2, people.h3, 999999]) == 2
    assert p2.last_visit_on == date(2026, 11, 6)
    await session.commit()


async def test_refresh_only_missing(session, people) -> None:
    await refresh_pairings(session, RULES)
    session.add(_visit(people.cadre, people.h1, date(2026, 11, 5)))
    await session.execute(Pairing.__table__.update().where(Pairing.id == people.pairing_h2).values(next_visit_due=None))
    assert await refresh_pairings(session, RULES, only_missing=True) == 1
    await session.commit()
    p1 = await session.get(Pairing, people.pairing_h1)
    assert p1.last_visit_on is None  # had a due date: left alone


async def test_rules_applied_at_start_and_on_change(session, people) -> None:
    assert await ensure_rules_applied(session, RULES) == 5  # first start: every open pairing
    assert (await session.get(AppMeta, RULES_META_KEY)).value
    p1 = await session.get(Pairing, people.pairing_h1)
    assert p1.next_visit_due == date(2026, 11, 8)
    assert await ensure_rules_applied(session, RULES) == 0  # same rules: nothing to do
    assert await ensure_rules_applied(session, VisitRules(leader_visits_per_year=3)) == 0  # not stored
    changed = VisitRules(first_contact_days=10)
    assert await ensure_rules_applied(session, changed) == 5
    await session.refresh(p1)
    assert p1.next_visit_due == date(2026, 11, 11)
    assert await ensure_rules_applied(session, changed) == 0


async def _start_bot(settings, emulator, policy, cadence_file=None) -> None:
    """One bot start-up (on_startup) against the emulator, then shut down."""
    from bot.app import build_application
    from bot.config import load_settings
    from bot.runner import on_startup

    run_settings = load_settings(
        database_url=settings.database_url, bot_token=settings.bot_token,
        telegram_api_url=emulator.base_url, cadence_file=cadence_file,
    )
    app = build_application(run_settings, policy=policy)
    try:
        await on_startup(app)
    finally:
        await app.close()


async def test_bot_start_applies_the_rules(settings, sessionmaker, people, emulator, shipped_policy,
                                           tmp_path) -> None:
    async def due_h3() -> date:
        async with sessionmaker() as s:
            return (await s.get(Pairing, people.pairing_h3)).next_visit_due

    assert await due_h3() is None  # seeded without due dates
    await _start_bot(settings, emulator, shipped_policy)
    assert await due_h3() == date(2026, 11, 8)
    # the operator changes the rules: the next start recomputes every pairing
    rules_file = tmp_path / "cadence.yaml"
    rules_file.write_text("visits:\n  first_contact_days: 3\n", encoding="utf-8")
    await _start_bot(settings, emulator, shipped_policy, rules_file)
    assert await due_h3() == date(2026, 11, 4)
    # and back
    await _start_bot(settings, emulator, shipped_policy)
    assert await due_h3() == date(2026, 11, 8)


async def test_due_and_overdue_queries(session, people) -> None:
    session.add(_visit(people.cadre, people.h1, date(2026, 11, 20)))  # h1 due 12-20
    session.add(_visit(people.cadre, people.h2, date(2026, 11, 2)))  # h2 due 12-02
    # h3, h4, h5: first contact due 11-08
    await refresh_pairings(session, RULES)
    await session.commit()
    repo = CadenceRepository(session)
    cadre_due = await repo.due_pairings(people.cadre, date(2026, 12, 2))
    assert [d.household_id for d in cadre_due] == [people.h3, people.h2]
    assert cadre_due[0].reg_no == "W0003" and cadre_due[0].next_visit_due == date(2026, 11, 8)
    assert [d.household_id for d in await repo.due_pairings(people.cadre, date(2026, 12, 31))] == [
        people.h3, people.h2, people.h1]
    assert await repo.due_pairings(people.cadre, date(2026, 11, 7)) == []
    page = await repo.due_pairings(people.cadre, date(2026, 12, 31), limit=1, offset=1)
    assert [d.household_id for d in page] == [people.h2]
    assert await repo.count_overdue(people.cadre, date(2026, 11, 8)) == 0  # due today: in time
    assert await repo.count_overdue(people.cadre, date(2026, 11, 9)) == 1
    assert await repo.count_overdue(people.cadre, date(2026, 12, 3)) == 2
    assert await repo.count_due(people.cadre, date(2026, 12, 2)) == 2
    # all cadres, and a region scope
    everyone = await repo.due_pairings(None, date(2026, 11, 8))
    assert {d.household_id for d in everyone} == {people.h3, people.h4, people.h5}
    county = "/".join(COUNTY)
    assert await repo.count_overdue(None, date(2026, 11, 9), region_path=county) == 3
    assert await repo.count_overdue(None, date(2026, 11, 9), region_path=county + "/示范镇/二村") == 1
    assert await repo.count_overdue(None, date(2026, 11, 9), region_path="吉林省/示范市/邻县") == 0
    assert await repo.count_overdue(None, date(2026, 11, 9), region_path="吉林省") == 3  # the whole province
    assert len(await repo.due_pairings(None, date(2026, 11, 9), region_path="吉林省")) == 3
    village_2 = await repo.due_pairings(None, date(2026, 12, 31), region_path=county + "/示范镇/二村")
    assert [d.household_id for d in village_2] == [people.h5]
    # an ended pairing is never listed
    await session.execute(
        Pairing.__table__.update().where(Pairing.id == people.pairing_h3).values(end_date=date(2026, 11, 30))
    )
    assert people.h3 not in {d.household_id for d in await repo.due_pairings(None, date(2026, 12, 31))}
    assert await repo.count_overdue(people.cadre, date(2026, 11, 9)) == 0


async def test_leader_visit_status(session, people) -> None:
    assert await leader_visit_status(session, people.cadre, date(2026, 3, 1), RULES) is None  # not a leader
    assert await leader_visit_status(session, 999999, date(2026, 3, 1), RULES) is None
    leader = await session.get(Cadre, people.supervisor)
    leader.leader_village_id = people.village_1
    session.add_all([
        _visit(people.supervisor, people.h4, date(2026, 2, 10)),
        _visit(people.supervisor, people.h1, date(2026, 2, 10)),  # same day: one visit day
        _visit(people.supervisor, people.h5, date(2026, 8, 1)),  # another village: not counted
        _visit(people.supervisor, people.h1, date(2025, 12, 30)),  # last year: not counted
        _visit(people.cadre, people.h1, date(2026, 8, 2)),  # another cadre: not counted
    ])
    await session.commit()
    status = await leader_visit_status(session, people.supervisor, date(2026, 9, 1), RULES)
    assert status.village_id == people.village_1 and status.year == 2026
    assert [p.visits for p in status.parts] == [1, 0]
    assert status.current == 1 and status.due == date(2026, 12, 31) and not status.overdue
    assert status.last_visit_on == date(2026, 2, 10)
    status = await leader_visit_status(session, people.supervisor, date(2027, 7, 2), RULES)
    assert status.overdue and status.visits_this_year == 0 and status.due == date(2027, 12, 31)
