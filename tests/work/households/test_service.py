"""bot/work/households.py and storage/repositories/households.py on both databases:
scope, ordering, counts, paging with LIMIT/OFFSET, the card, the /today agenda."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from bot.access import Access
from bot.i18n import create_i18n
from bot.work import households as service
from bot.work.households import MilestoneStatus, Scope, milestone_status, scope_of
from bot.work.households_render import agenda_text
from bot.work.rules import VisitRules
from storage.enums import MilestoneCategory, Role, VisitKind
from storage.models import Cadre, Milestone, Visit
from tests.work.households.seed import NOW, TODAY, add_hardship, add_households, seed_due, set_due

COUNTY_PATH = "吉林省/示范市/示范县"
OTHER_PATH = "吉林省/示范市/邻县"


@pytest.fixture
async def due(people, sessionmaker):
    await seed_due(sessionmaker, people)
    return people


def _ids(page) -> list[int]:
    return [line.household_id for line in page.lines]


def test_scope_of_roles() -> None:
    assert scope_of(Access(role=Role.CADRE, account_id=1, cadre_id=7)) == Scope(cadre_id=7)
    assert scope_of(Access(role=Role.ADMIN, account_id=1, region_path=COUNTY_PATH)) == Scope(region_path=COUNTY_PATH)
    assert scope_of(Access(role=Role.HOUSEHOLD, account_id=1, household_id=3)) is None
    assert scope_of(Access(role=None)) is None
    assert scope_of(Access(role=Role.CADRE, account_id=1, cadre_id=None)) is None


def test_milestone_status_is_derived() -> None:
    def m(due: date, done: bool = False) -> Milestone:
        return Milestone(due_date=due, completed_at=NOW if done else None)

    assert milestone_status(m(TODAY - timedelta(days=1)), TODAY) is MilestoneStatus.OVERDUE
    assert milestone_status(m(TODAY), TODAY) is MilestoneStatus.OPEN  # due today: not yet overdue
    assert milestone_status(m(TODAY + timedelta(days=1)), TODAY) is MilestoneStatus.OPEN
    assert milestone_status(m(TODAY - timedelta(days=9), done=True), TODAY) is MilestoneStatus.DONE
    assert service.days_overdue(TODAY, TODAY) == 0
    assert service.days_overdue(TODAY - timedelta(days=4), TODAY) == 4
    assert service.days_overdue(None, TODAY) == 0


async def test_cadre_list_overdue_first_with_counts(due, session) -> None:
    page = await service.list_page(session, Scope(cadre_id=due.cadre), 0, TODAY)
    assert (page.total, page.pages, page.page, page.is_admin) == (3, 1, 0, False)
    # H2: visit overdue; H3: two overdue milestones (due later); H1: due today, nothing overdue
    assert _ids(page) == [due.h2, due.h3, due.h1]
    by_id = {line.household_id: line for line in page.lines}
    assert by_id[due.h3].overdue_milestones == 2
    assert by_id[due.h1].overdue_milestones == 0 and by_id[due.h2].overdue_milestones == 0
    assert by_id[due.h3].village == "一村"
    assert by_id[due.h3].last_visit_on == date(2026, 11, 20)
    assert by_id[due.h2].last_visit_on is None
    assert [service.is_urgent(line, TODAY) for line in page.lines] == [True, True, False]
    # The next day H1's visit is overdue too: it moves up, by its due date.
    later = await service.list_page(session, Scope(cadre_id=due.cadre), 0, TODAY + timedelta(days=1))
    assert _ids(later) == [due.h2, due.h1, due.h3]


async def test_admin_scope_and_ordering(due, session) -> None:
    page = await service.list_page(session, Scope(region_path=COUNTY_PATH), 0, TODAY)
    assert page.total == 5 and page.is_admin
    # urgent: H2 (visit 11-25), H5 (overdue milestone, visit 12-02), H3 (milestones, 12-20);
    # then H1 (due today) and H4 (no due date yet: last)
    assert _ids(page) == [due.h2, due.h5, due.h3, due.h1, due.h4]
    assert {line.household_id: line.overdue_milestones for line in page.lines}[due.h5] == 1
    other = await service.list_page(session, Scope(region_path=OTHER_PATH), 0, TODAY)
    assert (other.total, other.lines, other.pages) == (0, [], 1)
    village = await service.list_page(session, Scope(region_path=COUNTY_PATH + "/示范镇/二村"), 0, TODAY)
    assert _ids(village) == [due.h5]


async def test_paging_uses_limit_offset_and_clamps(due, session, sessionmaker) -> None:
    extra = await add_households(sessionmaker, due, 20, cadre_id=None, village_id=due.village_2)
    scope = Scope(region_path=COUNTY_PATH)
    pages = [await service.list_page(session, scope, n, TODAY) for n in range(4)]
    assert [p.total for p in pages] == [25] * 4 and pages[0].pages == 4
    assert [len(p.lines) for p in pages] == [8, 8, 8, 1]
    seen = [i for p in pages for i in _ids(p)]
    assert len(seen) == len(set(seen)) == 25 and set(extra) <= set(seen)
    assert seen[:3] == [due.h2, due.h5, due.h3]
    # the 20 unpaired households have no due date: last, with H4, by 户编号 (W0004 < X001)
    assert seen[3:6] == [due.h1, due.h4, extra[0]] and seen[-1] == extra[-1]
    assert pages[3].first_number == 25
    past_end = await service.list_page(session, scope, 99, TODAY)
    assert past_end.page == 3 and _ids(past_end) == _ids(pages[3])
    before = await service.list_page(session, scope, -3, TODAY)
    assert before.page == 0


async def test_a_page_is_two_statements(due, session, sessionmaker, engine) -> None:
    """One COUNT and one page query (with the overdue counts), however many households."""
    await add_households(sessionmaker, due, 12, cadre_id=due.cadre)
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        page = await service.list_page(session, Scope(cadre_id=due.cadre), 1, TODAY)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert page.total == 15 and len(page.lines) == 7
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) == 2, statements


async def test_may_view_rechecks_pairing_and_scope(due, session) -> None:
    cadre = Scope(cadre_id=due.cadre)
    assert await service.may_view(session, cadre, due.h3)
    assert not await service.may_view(session, cadre, due.h5)  # 朴's household
    assert not await service.may_view(session, cadre, due.h4)  # 孙's household
    admin = Scope(region_path=COUNTY_PATH)
    assert await service.may_view(session, admin, due.h5)
    assert not await service.may_view(session, Scope(region_path=OTHER_PATH), due.h1)
    for bad in (0, -1, 2**31, 10**20, 999_999):
        assert not await service.may_view(session, cadre, bad)
        assert not await service.may_view(session, admin, bad)
        assert await service.household_card(session, admin, bad, TODAY) is None
    assert await service.household_card(session, cadre, due.h5, TODAY) is None


async def test_card_contents(due, session, sessionmaker) -> None:
    card = await service.household_card(session, Scope(cadre_id=due.cadre), due.h3, TODAY)
    assert card is not None
    assert card.household.head_name == "王<小>二" and card.household.village.name == "一村"
    assert card.cadre.name == "刘干部" and card.pairing.start_date == date(2026, 11, 1)
    statuses = [(m.title, milestone_status(m, TODAY)) for m in card.milestones]
    assert statuses == [
        ("危房改造<C级>", MilestoneStatus.OVERDUE),
        ("办理医保", MilestoneStatus.OVERDUE),
        ("今天到期", MilestoneStatus.OPEN),
        ("下周到期", MilestoneStatus.OPEN),
        ("下月到期", MilestoneStatus.OPEN),
        ("已办完的事", MilestoneStatus.DONE),
    ]
    assert card.milestone_total == 6
    assert [v.visited_on for v in card.visits] == [date(2026, 11, 20), date(2026, 11, 10)]
    unpaired = await add_households(sessionmaker, due, 1, cadre_id=None)
    bare = await service.household_card(session, Scope(region_path=COUNTY_PATH), unpaired[0], TODAY)
    assert bare.pairing is None and bare.cadre is None and bare.milestones == [] and bare.visits == []


async def test_card_lists_at_most_twelve_milestones(people, session) -> None:
    session.add_all([
        Milestone(household_id=people.h1, title=f"事项{i:02d}", due_date=TODAY + timedelta(days=i),
                  category=MilestoneCategory.OTHER)
        for i in range(15)
    ])
    await session.commit()
    card = await service.household_card(session, Scope(cadre_id=people.cadre), people.h1, TODAY)
    assert len(card.milestones) == service.CARD_MILESTONES and card.milestone_total == 15


async def test_agenda_buckets(due, session, sessionmaker) -> None:
    await add_hardship(sessionmaker, due.h2, due.cadre)  # not acknowledged: listed
    await add_hardship(sessionmaker, due.h1, due.cadre, acknowledged=True)  # acknowledged: not listed
    await add_hardship(sessionmaker, due.h5, due.cadre_ko)  # another cadre's household
    agenda = await service.agenda(session, due.cadre, TODAY, NOW)
    assert [v.household_id for v in agenda.visits_overdue] == [due.h2]
    assert [v.household_id for v in agenda.visits_today] == [due.h1]
    assert agenda.visits_week == []  # H3 is due 12-20, beyond 7 days
    assert [m.title for m in agenda.milestones_overdue] == ["危房改造<C级>", "办理医保"]
    assert [m.title for m in agenda.milestones_today] == ["今天到期"]
    assert [m.title for m in agenda.milestones_week] == ["下周到期"]  # exactly 7 days ahead; 8 is not
    assert [h.household_id for h in agenda.hardship] == [due.h2]
    assert not agenda.is_empty and agenda.has_households and agenda.milestones_not_shown == 0
    ko = await service.agenda(session, due.cadre_ko, TODAY, NOW)
    assert [v.household_id for v in ko.visits_week] == [due.h5]
    assert [m.title for m in ko.milestones_overdue] == ["别人的事项"]
    assert [h.household_id for h in ko.hardship] == [due.h5]


async def test_agenda_nothing_due_and_no_households(people, session) -> None:
    for household in (people.h1, people.h2, people.h3):
        await set_due(session, household, TODAY + timedelta(days=20))
    await session.commit()
    agenda = await service.agenda(session, people.cadre, TODAY, NOW)
    assert agenda.is_empty and agenda.has_households
    lonely = await service.agenda(session, people.supervisor, TODAY, NOW)  # paired with nobody
    assert lonely.is_empty and not lonely.has_households


async def test_agenda_shows_a_leaders_village_visit(people, session) -> None:

    rules = VisitRules()
    supervisor = await session.get(Cadre, people.supervisor)
    supervisor.leader_village_id = people.village_2
    await session.commit()
    # no visit to 二村 this year: the first half went by without one
    agenda = await service.agenda(session, people.supervisor, TODAY, NOW, rules)
    assert agenda.leader is not None and agenda.leader.overdue and agenda.leader_village == "二村"
    assert not agenda.is_empty and agenda.has_households
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        text = agenda_text(agenda, "zh_Hans", ZoneInfo("Asia/Shanghai"))
    assert "联系点走访" in text and "二村" in text
    # a visit in each half of the year: the next is due next June, nothing to show this week
    for day in (date(2026, 3, 2), date(2026, 9, 1)):
        session.add(Visit(cadre_id=people.supervisor, household_id=people.h5, visited_on=day, kind=VisitKind.HOME))
    await session.commit()
    agenda = await service.agenda(session, people.supervisor, TODAY, NOW, rules)
    assert agenda.leader is None
    # a plain cadre has no village: nothing, with or without rules
    assert (await service.agenda(session, people.cadre, TODAY, NOW, rules)).leader is None


async def test_agenda_drops_an_overdue_leader_once_the_current_half_is_visited(people, session) -> None:
    """A leader who missed the first half is overdue all year; /today shows the village only
    while the second half has no visit yet."""
    rules = VisitRules()
    aug_1 = date(2026, 8, 1)
    supervisor = await session.get(Cadre, people.supervisor)
    supervisor.leader_village_id = people.village_2
    await session.commit()
    agenda = await service.agenda(session, people.supervisor, aug_1, NOW, rules)
    assert agenda.leader is not None and agenda.leader.overdue
    session.add(Visit(cadre_id=people.supervisor, household_id=people.h5, visited_on=date(2026, 7, 5),
                      kind=VisitKind.HOME))
    await session.commit()
    agenda = await service.agenda(session, people.supervisor, aug_1, NOW, rules)
    assert agenda.leader is None and agenda.is_empty
    # the day before the July visit it was still shown
    before = await service.agenda(session, people.supervisor, date(2026, 7, 4), NOW, rules)
    assert before.leader is not None and before.leader.overdue
