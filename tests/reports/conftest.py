"""A small registry for the report tests (issue #6), and an independent count of its figures.

Regions (below 吉林省):

    甲市 / 甲县 / 甲一镇 / 甲一村, 甲二村      甲市 / 乙县 / 乙一镇 / 乙一村, 乙二村
    甲市 / 甲县 / 甲二镇 / 甲三村              甲市 / 乙县 / 乙二镇 (no villages)
    甲市 / 空县 / 空镇 / 空村 (no households)  丙市 / 丙县 / 丙镇 / 丙村

Every village with households has some in every status; pairings open (overdue, due today,
due later, no due date) and closed; milestones overdue, due today, done late, in the future;
visits this year and last year, flagged and not, rated and not; household accounts active,
inactive, unbound and doubled; cadres at the province, 市, 县, 乡镇 and 村 levels with active,
inactive, doubled and no accounts. Admins: one per county, one for the province.

`expected_figures(people, path)` counts a region's figures in Python over the records kept
at seeding time (no SQL), for comparison with `build_report`. Other report tests (chart,
export) may import `seed_reports`, `expected_figures` and the constants from here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from bot.reports.figures import Figures
from storage.enums import CadreLevel, HouseholdStatus, MilestoneCategory, Role, VisitConfirmation, VisitKind
from storage.models import Account, Cadre, Household, Milestone, Pairing, Visit, utcnow
from storage.repositories.regions import RegionRepository

TODAY = date(2026, 11, 29)
PERIOD_START = date(2026, 1, 1)

PROVINCE = "吉林省"
CITY_A = "吉林省/甲市"
COUNTY_A = "吉林省/甲市/甲县"
TOWNSHIP_A1 = "吉林省/甲市/甲县/甲一镇"
VILLAGE_A1 = "吉林省/甲市/甲县/甲一镇/甲一村"
VILLAGE_A2 = "吉林省/甲市/甲县/甲一镇/甲二村"
TOWNSHIP_A2 = "吉林省/甲市/甲县/甲二镇"
VILLAGE_A3 = "吉林省/甲市/甲县/甲二镇/甲三村"
COUNTY_B = "吉林省/甲市/乙县"
TOWNSHIP_B1 = "吉林省/甲市/乙县/乙一镇"
VILLAGE_B1 = "吉林省/甲市/乙县/乙一镇/乙一村"
VILLAGE_B2 = "吉林省/甲市/乙县/乙一镇/乙二村"
TOWNSHIP_B2 = "吉林省/甲市/乙县/乙二镇"  # a township without villages
EMPTY_COUNTY = "吉林省/甲市/空县"
EMPTY_TOWNSHIP = "吉林省/甲市/空县/空镇"
EMPTY_VILLAGE = "吉林省/甲市/空县/空镇/空村"
CITY_C = "吉林省/丙市"
COUNTY_C = "吉林省/丙市/丙县"
VILLAGE_C = "吉林省/丙市/丙县/丙镇/丙村"

VILLAGES = [VILLAGE_A1, VILLAGE_A2, VILLAGE_A3, VILLAGE_B1, VILLAGE_B2, VILLAGE_C]
LEAVES = [*VILLAGES, TOWNSHIP_B2, EMPTY_VILLAGE]

# Telegram user ids of the admins (for end-to-end report tests)
PROVINCE_ADMIN_USER = 6201  # admin_region_id NULL: the whole province
COUNTY_A_ADMIN_USER = 6202  # 甲县
COUNTY_B_ADMIN_USER = 6203  # 乙县
ADMINS = {PROVINCE_ADMIN_USER: None, COUNTY_A_ADMIN_USER: COUNTY_A, COUNTY_B_ADMIN_USER: COUNTY_B}


@dataclass(frozen=True)
class HouseholdRec:
    id: int
    village: str  # path
    status: HouseholdStatus


@dataclass(frozen=True)
class PairingRec:
    household_id: int
    end_date: date | None
    next_visit_due: date | None


@dataclass(frozen=True)
class MilestoneRec:
    household_id: int
    due_date: date
    done: bool


@dataclass(frozen=True)
class VisitRec:
    household_id: int
    visited_on: date
    flagged: bool
    rating: int | None


@dataclass(frozen=True)
class AccountRec:
    role: Role | None
    is_active: bool
    household_id: int | None = None
    cadre_id: int | None = None


@dataclass
class ReportPeople:
    """What was seeded: region ids by path and plain records of every row that counts."""

    regions: dict[str, int]  # path -> id, every region created
    region_paths: dict[int, str] = field(default_factory=dict)
    households: list[HouseholdRec] = field(default_factory=list)
    pairings: list[PairingRec] = field(default_factory=list)
    milestones: list[MilestoneRec] = field(default_factory=list)
    visits: list[VisitRec] = field(default_factory=list)
    accounts: list[AccountRec] = field(default_factory=list)
    cadres: dict[int, str] = field(default_factory=dict)  # cadre id -> its region's path

    def children(self, path: str) -> list[str]:
        """The paths of the regions directly under `path`, by name."""
        depth = path.count("/")
        kids = [p for p in self.regions if p.startswith(path + "/") and p.count("/") == depth + 1]
        return sorted(kids, key=lambda p: p.rsplit("/", 1)[-1])


def in_subtree(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def expected_figures(people: ReportPeople, root: str, today: date = TODAY) -> Figures:
    """The figures of the subtree of `root`, counted over the seeded records."""
    start = date(today.year, 1, 1)
    village_of = {h.id: h.village for h in people.households}
    mine = [h for h in people.households if in_subtree(h.village, root)]
    ids = {h.id for h in mine}
    open_pairings = [p for p in people.pairings if p.household_id in ids and p.end_date is None]
    overdue = [p for p in open_pairings if p.next_visit_due is not None and p.next_visit_due < today]
    visits = [v for v in people.visits if v.household_id in ids and start <= v.visited_on <= today]
    rated = [v.rating for v in visits if v.rating is not None]
    bound_households = {
        a.household_id for a in people.accounts
        if a.role == Role.HOUSEHOLD and a.is_active and a.household_id in ids
    }
    bound_cadres = {
        a.cadre_id for a in people.accounts
        if a.role == Role.CADRE and a.is_active and a.cadre_id is not None
        and in_subtree(people.cadres[a.cadre_id], root)
    }
    assert all(in_subtree(village_of[h], root) for h in bound_households)
    return Figures(
        households=len(mine),
        not_lifted=sum(h.status == HouseholdStatus.NOT_LIFTED for h in mine),
        lifted=sum(h.status == HouseholdStatus.LIFTED for h in mine),
        returned=sum(h.status == HouseholdStatus.RETURNED for h in mine),
        pairings=len(open_pairings),
        visited_in_cadence=len(open_pairings) - len(overdue),
        overdue_visits=len(overdue),
        overdue_milestones=sum(
            1 for m in people.milestones if m.household_id in ids and not m.done and m.due_date < today
        ),
        flagged_visits=sum(v.flagged for v in visits),
        ratings=len(rated),
        rating_sum=sum(rated),
        bound_households=len(bound_households),
        bound_cadres=len(bound_cadres),
    )


async def seed_reports(sessionmaker, seed: int = 6) -> ReportPeople:
    rng = random.Random(seed)
    now = utcnow()
    async with sessionmaker() as s:
        repo = RegionRepository(s)
        for leaf in [*LEAVES, CITY_C]:
            await repo.ensure_chain(leaf.split("/"))
        regions: dict[str, int] = {}
        for path in {"/".join(leaf.split("/")[: i + 1]) for leaf in LEAVES for i in range(leaf.count("/") + 1)}:
            regions[path] = (await repo.by_path(path)).id
        people = ReportPeople(regions=regions, region_paths={v: k for k, v in regions.items()})

        cadre_specs = [  # (code, region path, level, accounts: list of (role, active))
            ("RC01", PROVINCE, CadreLevel.PROVINCE, [(Role.CADRE, True)]),
            ("RC02", CITY_A, CadreLevel.CITY, [(Role.CADRE, True)]),
            ("RC03", COUNTY_A, CadreLevel.COUNTY, [(Role.CADRE, True)]),
            ("RC04", TOWNSHIP_A1, CadreLevel.TOWNSHIP, [(Role.CADRE, True)]),
            ("RC05", TOWNSHIP_A1, CadreLevel.TOWNSHIP, [(Role.CADRE, False)]),  # blocked the bot
            ("RC06", TOWNSHIP_A1, CadreLevel.TOWNSHIP, []),  # never bound
            ("RC07", VILLAGE_A1, CadreLevel.VILLAGE, [(Role.CADRE, True)]),
            ("RC08", VILLAGE_A3, CadreLevel.VILLAGE, [(None, True)]),  # account without a role
            ("RC09", COUNTY_B, CadreLevel.COUNTY, [(Role.CADRE, True)]),
            ("RC10", TOWNSHIP_B1, CadreLevel.TOWNSHIP, [(Role.CADRE, True), (Role.CADRE, True)]),  # two
            ("RC11", TOWNSHIP_B2, CadreLevel.TOWNSHIP, [(Role.CADRE, True)]),
            ("RC12", EMPTY_COUNTY, CadreLevel.COUNTY, [(Role.CADRE, False)]),
            ("RC13", VILLAGE_C, CadreLevel.VILLAGE, [(Role.CADRE, True)]),
        ]
        cadres: list[Cadre] = []
        for code, path, level, _ in cadre_specs:
            cadres.append(Cadre(code=code, name=f"干部{code}", level=level, region_id=regions[path]))
        s.add_all(cadres)
        await s.flush()
        user = 6000
        accounts: list[Account] = []
        for cadre, (_, path, _, specs) in zip(cadres, cadre_specs, strict=True):
            people.cadres[cadre.id] = path
            for role, active in specs:
                user += 1
                accounts.append(Account(telegram_user_id=user, chat_id=user, role=role, cadre_id=cadre.id,
                                        is_active=active))
                people.accounts.append(AccountRec(role=role, is_active=active, cadre_id=cadre.id))

        statuses = [HouseholdStatus.NOT_LIFTED, HouseholdStatus.LIFTED, HouseholdStatus.RETURNED]
        households: list[Household] = []
        n = 0
        for village in VILLAGES:
            for i in range(rng.randint(5, 8)):
                n += 1
                status = statuses[i % 3] if i < 3 else rng.choice(statuses)
                households.append(Household(reg_no=f"R{n:05d}", head_name=f"户主{n}",
                                            village_id=regions[village], status=status))
        s.add_all(households)
        await s.flush()
        for h in households:
            people.households.append(HouseholdRec(h.id, people.region_paths[h.village_id], h.status))

        dues = [TODAY - timedelta(days=3), TODAY, TODAY + timedelta(days=10), None, TODAY - timedelta(days=40)]
        for i, h in enumerate(households):
            cadre = cadres[i % len(cadres)]
            if i % 7 != 6:  # most households have an open pairing
                due = dues[i % len(dues)]
                s.add(Pairing(cadre_id=cadre.id, household_id=h.id, start_date=date(2026, 3, 1),
                              next_visit_due=due))
                people.pairings.append(PairingRec(h.id, None, due))
            if i % 4 == 0:  # an ended pairing with a stale overdue date: never counted
                end, due = date(2026, 2, 28), date(2026, 2, 1)
                s.add(Pairing(cadre_id=cadre.id, household_id=h.id, start_date=date(2025, 1, 1),
                              end_date=end, next_visit_due=due))
                people.pairings.append(PairingRec(h.id, end, due))

            for k in range(rng.randint(0, 3)):
                due_date = rng.choice([TODAY - timedelta(days=rng.randint(1, 200)), TODAY,
                                       TODAY + timedelta(days=rng.randint(1, 60))])
                done = rng.random() < 0.4
                s.add(Milestone(household_id=h.id, category=MilestoneCategory.HOUSING, title=f"事项{k}",
                                due_date=due_date, completed_at=now if done else None))
                people.milestones.append(MilestoneRec(h.id, due_date, done))

            for _ in range(rng.randint(0, 4)):
                visited_on = rng.choice([
                    TODAY - timedelta(days=rng.randint(0, 300)),  # this year
                    date(2025, rng.randint(1, 12), rng.randint(1, 28)),  # last year
                    PERIOD_START, date(2025, 12, 31),  # the edges of the period
                ])
                flagged = rng.random() < 0.3
                rating = rng.choice([None, None, 1, 2, 3, 4, 5])
                s.add(Visit(cadre_id=cadre.id, household_id=h.id, visited_on=visited_on, kind=VisitKind.HOME,
                            confirmation=VisitConfirmation.DENIED if flagged else VisitConfirmation.CONFIRMED,
                            flagged=flagged, rating=rating))
                people.visits.append(VisitRec(h.id, visited_on, flagged, rating))

            kind = i % 5
            specs: list[tuple[Role | None, bool]] = {
                0: [(Role.HOUSEHOLD, True)],
                1: [(Role.HOUSEHOLD, False)],  # blocked the bot
                2: [],
                3: [(Role.HOUSEHOLD, True), (Role.HOUSEHOLD, True)],  # two family members
                4: [(None, True)] if i % 2 else [],  # unbound account still pointing at it
            }[kind]
            for role, active in specs:
                user += 1
                accounts.append(Account(telegram_user_id=user, chat_id=user, role=role, household_id=h.id,
                                        is_active=active))
                people.accounts.append(AccountRec(role=role, is_active=active, household_id=h.id))

        for tg_user, path in ADMINS.items():
            accounts.append(Account(telegram_user_id=tg_user, chat_id=tg_user, role=Role.ADMIN,
                                    admin_region_id=regions[path] if path else None))
        s.add_all(accounts)
        await s.commit()
        return people


@pytest.fixture
async def report_people(sessionmaker) -> ReportPeople:
    """The report registry (no bot): region ids by path and the seeded records."""
    return await seed_reports(sessionmaker)
