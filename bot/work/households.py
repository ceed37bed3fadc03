"""Who sees which households, list pages, a household's card and a cadre's agenda (/today).

Plain async functions over a session, testable without Telegram: every one takes `today`
(and /today also `now`) from its caller, so tests pass a fixed day. The handlers get the
time from `current_time()`, the one clock of these features (tests monkeypatch it).

A cadre sees the households of their open pairings (the card also those of the village
they lead, as `PairingRepository.cadre_may_act` decides); an admin sees every household in
their region subtree; nobody else sees any.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.work import clock as work_clock
from bot.work.cadence import LeaderStatus, leader_reminder_due, leader_visit_status
from bot.work.rules import VisitRules
from storage.enums import Role
from storage.models import Cadre, Household, Milestone, Pairing, Visit
from storage.repositories.households import (
    DueMilestone,
    DueVisit,
    HouseholdLine,
    HouseholdRepository,
    OpenHardship,
    valid_id,
)
from storage.repositories.pairings import PairingRepository
from storage.repositories.regions import RegionRepository

PAGE_SIZE = 8  # households per list page
MAX_PAGE = 100_000  # beyond any real list (a page number in callback data is checked against it)
WEEK_DAYS = 7  # /today looks this many days ahead
CARD_MILESTONES = 12  # plan items shown on a card
CARD_VISITS = 5  # latest visits shown on a card
AGENDA_MILESTONES = 60  # milestone rows /today loads at most (it shows fewer, with a count)
AGENDA_HARDSHIP = 20


def current_time() -> datetime:
    """Now, aware UTC (bot/work/clock.py): /households and /today; e2e tests monkeypatch this."""
    return work_clock.now()


class MilestoneStatus(StrEnum):
    OPEN = "open"  # 未完成
    DONE = "done"  # 已完成
    OVERDUE = "overdue"  # 逾期


def milestone_status(milestone: Milestone, today: date) -> MilestoneStatus:
    """未完成 / 已完成 / 逾期, derived: not done and due before today → 逾期."""
    if milestone.completed_at is not None:
        return MilestoneStatus.DONE
    if milestone.due_date < today:
        return MilestoneStatus.OVERDUE
    return MilestoneStatus.OPEN


def days_overdue(due: date | None, today: date) -> int:
    """How many days past `due` today is (0 when due today, in the future or undated)."""
    if due is None or due >= today:
        return 0
    return (today - due).days


# ------------------------------------------------------------------------ scope


@dataclass(frozen=True, slots=True)
class Scope:
    """What a user may list: a cadre's pairings, or an admin's region subtree."""

    cadre_id: int | None = None
    region_path: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.region_path is not None


def scope_of(access: Access) -> Scope | None:
    """The list scope of this user; None for households, the public and broken bindings."""
    if access.role is Role.CADRE and access.cadre_id is not None:
        return Scope(cadre_id=access.cadre_id)
    if access.role is Role.ADMIN and access.region_path:
        return Scope(region_path=access.region_path)
    return None


async def may_view(session: AsyncSession, scope: Scope, household_id: int) -> bool:
    """Checked on every card press: the callback data may be forged or stale."""
    if not valid_id(household_id):
        return False
    pairings = PairingRepository(session)
    if scope.region_path is not None:
        return await pairings.household_in_scope(scope.region_path, household_id)
    if scope.cadre_id is not None:
        return await pairings.cadre_may_act(scope.cadre_id, household_id)
    return False


# ------------------------------------------------------------------------- list


@dataclass(frozen=True, slots=True)
class HouseholdPage:
    lines: list[HouseholdLine]
    page: int  # 0-based, within range
    pages: int
    total: int
    today: date
    is_admin: bool

    @property
    def first_number(self) -> int:
        return self.page * PAGE_SIZE + 1


def page_count(total: int) -> int:
    return max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)


async def list_page(session: AsyncSession, scope: Scope, page: int, today: date) -> HouseholdPage:
    """Page `page` of the scope's households (a page past the end shows the last one:
    the list may have shrunk since the buttons were drawn)."""
    repo = HouseholdRepository(session)
    if scope.region_path is not None:
        total = await repo.count_in_scope(scope.region_path)
    else:
        total = await repo.count_for_cadre(scope.cadre_id or 0)
    pages = page_count(total)
    page = min(max(page, 0), pages - 1)
    lines: list[HouseholdLine] = []
    if total:
        offset = page * PAGE_SIZE
        if scope.region_path is not None:
            lines = await repo.page_in_scope(scope.region_path, today, PAGE_SIZE, offset)
        else:
            lines = await repo.page_for_cadre(scope.cadre_id or 0, today, PAGE_SIZE, offset)
    return HouseholdPage(lines, page, pages, total, today, scope.is_admin)


def is_urgent(line: HouseholdLine, today: date) -> bool:
    """Listed first: an overdue visit or at least one overdue milestone."""
    return days_overdue(line.next_visit_due, today) > 0 or line.overdue_milestones > 0


# ------------------------------------------------------------------------- card


@dataclass(frozen=True, slots=True)
class HouseholdCard:
    household: Household  # with .village loaded
    pairing: Pairing | None  # the open one, with .cadre loaded
    milestones: Sequence[Milestone]
    milestone_total: int
    visits: Sequence[Visit]
    today: date

    @property
    def cadre(self) -> Cadre | None:
        return self.pairing.cadre if self.pairing is not None else None


async def household_card(session: AsyncSession, scope: Scope, household_id: int, today: date) -> HouseholdCard | None:
    """The card, or None when this user may not see the household (or it does not exist)."""
    if not await may_view(session, scope, household_id):
        return None
    repo = HouseholdRepository(session)
    household = await repo.household(household_id)
    if household is None:
        return None
    pairing = await PairingRepository(session).open_for_household(household_id)
    milestones = await repo.milestones(household_id, CARD_MILESTONES)
    total = len(milestones)
    if total >= CARD_MILESTONES:
        total = await repo.count_milestones(household_id)
    visits = await repo.recent_visits(household_id, CARD_VISITS)
    return HouseholdCard(household, pairing, milestones, total, visits, today)


# ----------------------------------------------------------------------- /today


@dataclass(frozen=True, slots=True)
class Agenda:
    today: date
    now: datetime
    visits_overdue: list[DueVisit]
    visits_today: list[DueVisit]
    visits_week: list[DueVisit]
    milestones_overdue: list[DueMilestone]
    milestones_today: list[DueMilestone]
    milestones_week: list[DueMilestone]
    milestones_not_shown: int  # beyond the rows loaded
    hardship: list[OpenHardship]
    has_households: bool
    # a unit leader's assigned village (联系点), when a visit there is overdue or due this week
    leader: LeaderStatus | None = None
    leader_village: str = ""

    @property
    def is_empty(self) -> bool:
        return not (
            self.visits_overdue or self.visits_today or self.visits_week or self.milestones_overdue
            or self.milestones_today or self.milestones_week or self.hardship or self.leader
        )


async def agenda(
    session: AsyncSession, cadre_id: int, today: date, now: datetime, rules: VisitRules | None = None
) -> Agenda:
    """What is due for the cadre: visits and milestones overdue, due today and in the next
    WEEK_DAYS days, hardship requests of their households not yet acknowledged, and (with
    `rules`, for unit leaders) the visit to their assigned village when due this week, or
    overdue with no visit in the current part of the year yet (`leader_reminder_due`)."""
    repo = HouseholdRepository(session)
    until = today + timedelta(days=WEEK_DAYS)
    leader = await leader_visit_status(session, cadre_id, today, rules) if rules is not None else None
    if leader is not None and not leader_reminder_due(leader, until):
        leader = None
    village = await RegionRepository(session).get(leader.village_id) if leader is not None else None
    visits = await repo.visits_due(cadre_id, until)
    milestones = await repo.milestones_due(cadre_id, until, AGENDA_MILESTONES)
    not_shown = 0
    if len(milestones) >= AGENDA_MILESTONES:
        not_shown = await repo.count_milestones_due(cadre_id, until) - len(milestones)
    hardship = await repo.unacknowledged_hardship(cadre_id, AGENDA_HARDSHIP)
    has_households = bool(visits or milestones or hardship) or await repo.count_for_cadre(cadre_id) > 0
    return Agenda(
        today=today,
        now=now,
        visits_overdue=[v for v in visits if v.due < today],
        visits_today=[v for v in visits if v.due == today],
        visits_week=[v for v in visits if v.due > today],
        milestones_overdue=[m for m in milestones if m.due < today],
        milestones_today=[m for m in milestones if m.due == today],
        milestones_week=[m for m in milestones if m.due > today],
        milestones_not_shown=max(not_shown, 0),
        hardship=hardship,
        has_households=has_households or leader is not None,
        leader=leader,
        leader_village=village.name if village is not None else "",
    )
