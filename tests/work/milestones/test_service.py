"""The milestone service and repository (no Telegram): rules, authorization, the
conditional completion, the plan's order and the audit log. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from bot.work.milestones import (
    AddStatus,
    DoneStatus,
    DueProblem,
    MilestoneService,
    Status,
    TitleProblem,
    add_months,
    clean_title,
    due_problem,
    latest_due,
    preset_due,
    read_due,
    status_of,
    title_problem,
)
from storage.enums import MilestoneCategory
from storage.models import Account, AuditLog, Cadre, Milestone
from storage.repositories.milestones import MilestoneRepository

TODAY = date(2026, 11, 29)
NOW = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)
ACCOUNT = 777  # an account id only goes into created_by / the audit actor


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 29), 1) == date(2026, 12, 29)
    assert add_months(date(2026, 11, 29), 3) == date(2027, 2, 28)
    assert latest_due(date(2028, 2, 29)) == date(2033, 2, 28)


def test_presets_and_due_rules() -> None:
    assert preset_due("1m", TODAY) == date(2026, 12, 29)
    assert preset_due("3m", TODAY) == date(2027, 2, 28)
    assert preset_due("6m", TODAY) == date(2027, 5, 29)
    assert preset_due("eoy", TODAY) == date(2026, 12, 31)
    assert preset_due("eoy", date(2026, 12, 31)) == date(2026, 12, 31)  # today is still allowed
    assert preset_due("10y", TODAY) is None
    assert due_problem(TODAY, TODAY) is None
    assert due_problem(date(2026, 11, 28), TODAY) is DueProblem.PAST
    assert due_problem(date(2031, 11, 29), TODAY) is None
    assert due_problem(date(2031, 11, 30), TODAY) is DueProblem.TOO_FAR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", (date(2026, 12, 1), None)),
        ("12月1日", (date(2026, 12, 1), None)),
        ("1月5日", (date(2027, 1, 5), None)),  # a month-day without year: the next one
        ("6月30日", (date(2027, 6, 30), None)),  # a deadline: next June, not last
        ("明天", (date(2026, 11, 30), None)),
        ("내일", (date(2026, 11, 30), None)),
        ("今天", (TODAY, None)),
        ("昨天", (None, DueProblem.PAST)),
        ("2020-01-01", (None, DueProblem.PAST)),
        ("2035-01-01", (None, DueProblem.TOO_FAR)),
        ("下个世纪吧", (None, DueProblem.UNREADABLE)),
        ("2026-02-30", (None, DueProblem.UNREADABLE)),
        ("???", (None, DueProblem.UNREADABLE)),
    ],
)
def test_read_due(text: str, expected: tuple) -> None:
    assert read_due(text, TODAY) == expected


def test_title_rules() -> None:
    assert clean_title("  完成\n危房   改造 ") == "完成 危房 改造"
    assert title_problem("") is TitleProblem.EMPTY
    assert title_problem(clean_title("   ")) is TitleProblem.EMPTY
    assert title_problem("字" * 200) is None
    assert title_problem("字" * 201) is TitleProblem.TOO_LONG


def _item(due: date, done: bool = False) -> Milestone:
    return Milestone(household_id=1, category=MilestoneCategory.OTHER, title="t", due_date=due,
                     completed_at=NOW if done else None)


def test_status_is_derived() -> None:
    assert status_of(_item(date(2026, 11, 28)), TODAY) is Status.OVERDUE
    assert status_of(_item(TODAY), TODAY) is Status.OPEN  # due today is not overdue yet
    assert status_of(_item(date(2026, 11, 28), done=True), TODAY) is Status.DONE


async def _add(service: MilestoneService, cadre: int, household: int, title: str = "办理医疗保险",
               due: date = date(2027, 1, 15), category=MilestoneCategory.MEDICAL_INSURANCE):
    return await service.add(cadre_id=cadre, account_id=ACCOUNT, household_id=household, category=category,
                             title=title, due_date=due, today=TODAY)


async def test_add_saves_and_audits(people, sessionmaker) -> None:
    async with sessionmaker() as s:
        outcome = await _add(MilestoneService(s), people.cadre, people.h1, title="  办理  医疗保险 ")
    assert outcome.status is AddStatus.SAVED
    async with sessionmaker() as s:
        row = await s.get(Milestone, outcome.milestone_id)
        assert (row.household_id, row.title, row.category, row.due_date, row.created_by, row.completed_at) == (
            people.h1, "办理 医疗保险", MilestoneCategory.MEDICAL_INSURANCE, date(2027, 1, 15),
            f"account:{ACCOUNT}", None)
        [audit] = (await s.scalars(select(AuditLog))).all()
        assert (audit.actor, audit.action, audit.region_id, audit.object_type, audit.object_id) == (
            f"account:{ACCOUNT}", "milestone.add", people.village_1, "milestone", str(row.id))
        assert audit.details == {"household_id": people.h1, "category": "medical_insurance",
                                 "due_date": "2027-01-15"}
        assert "医疗" not in str(audit.details)  # no free text in the audit details


async def test_add_refusals_write_nothing(people, sessionmaker) -> None:
    async with sessionmaker() as s:
        service = MilestoneService(s)
        assert (await _add(service, people.cadre, people.h1)).status is AddStatus.SAVED
        assert (await _add(service, people.cadre, people.h1)).status is AddStatus.DUPLICATE
        assert (await _add(service, people.cadre, people.h1, title=" 办理医疗保险\n")).status is AddStatus.DUPLICATE
        # the same title for another household is fine
        assert (await _add(service, people.cadre, people.h2)).status is AddStatus.SAVED
        assert (await _add(service, people.cadre, people.h5, title="x")).status is AddStatus.FORBIDDEN
        assert (await _add(service, people.cadre_ko, people.h1, title="x")).status is AddStatus.FORBIDDEN
        assert (await _add(service, None, people.h1, title="x")).status is AddStatus.FORBIDDEN
        assert (await _add(service, people.cadre, 999_999, title="x")).status is AddStatus.FORBIDDEN
        assert (await _add(service, people.cadre, 10**20, title="x")).status is AddStatus.FORBIDDEN
        assert (await _add(service, people.cadre, people.h1, title="字" * 201)).status is AddStatus.BAD_TITLE
        assert (await _add(service, people.cadre, people.h1, title=" ")).status is AddStatus.BAD_TITLE
        assert (await _add(service, people.cadre, people.h1, title="y", due=date(2026, 11, 28))).status \
            is AddStatus.BAD_DATE
        assert (await _add(service, people.cadre, people.h1, title="y", due=date(2032, 1, 1))).status \
            is AddStatus.BAD_DATE
    async with sessionmaker() as s:
        assert len((await s.scalars(select(Milestone))).all()) == 2
        assert len((await s.scalars(select(AuditLog))).all()) == 2


async def test_leader_of_a_village_may_add_there(people, sessionmaker) -> None:
    async with sessionmaker() as s:
        supervisor = await s.get(Cadre, people.supervisor)
        supervisor.leader_village_id = people.village_2
        await s.commit()
        service = MilestoneService(s)
        assert (await _add(service, people.supervisor, people.h5)).status is AddStatus.SAVED
        assert (await _add(service, people.supervisor, people.h1)).status is AddStatus.FORBIDDEN


async def _done(service, cadre, milestone_id, text="已办理", photo=None):
    return await service.mark_done(cadre_id=cadre, account_id=ACCOUNT, milestone_id=milestone_id,
                                   evidence_text=text, evidence_photo_file_id=photo, now=NOW)


async def test_mark_done_once(people, sessionmaker) -> None:
    async with sessionmaker() as s:
        service = MilestoneService(s)
        item_id = (await _add(service, people.cadre, people.h1)).milestone_id
        other_id = (await _add(service, people.cadre_ko, people.h5)).milestone_id
        assert (await _done(service, people.cadre, item_id, text=None)).status is DoneStatus.NO_EVIDENCE
        assert (await _done(service, people.cadre, item_id, text="  ")).status is DoneStatus.NO_EVIDENCE
        assert (await _done(service, people.cadre, other_id)).status is DoneStatus.FORBIDDEN
        assert (await _done(service, people.cadre, 999_999)).status is DoneStatus.FORBIDDEN
        assert (await _done(service, people.cadre, 10**20)).status is DoneStatus.FORBIDDEN
        assert (await _done(service, None, item_id)).status is DoneStatus.FORBIDDEN
        outcome = await _done(service, people.cadre, item_id, text=" 已办理 ", photo="PHOTO1")
        assert (outcome.status, outcome.household_id, outcome.title) == (DoneStatus.DONE, people.h1, "办理医疗保险")
        second = await _done(service, people.cadre, item_id, text="again", photo="PHOTO2")
        assert second.status is DoneStatus.ALREADY
    async with sessionmaker() as s:
        row = await s.get(Milestone, item_id)
        assert (row.completed_at, row.completed_by, row.evidence_text, row.evidence_photo_file_id) == (
            NOW, f"account:{ACCOUNT}", "已办理", "PHOTO1")
        assert (await s.get(Milestone, other_id)).completed_at is None
        done = (await s.scalars(select(AuditLog).where(AuditLog.action == "milestone.done"))).all()
        assert [(a.object_id, a.region_id, a.details) for a in done] == [
            (str(item_id), people.village_1, {"household_id": people.h1, "has_text": True, "has_photo": True})]


async def test_conditional_update_loses_the_race(people, sessionmaker) -> None:
    """Two devices: the item is loaded as open, then completed elsewhere before the UPDATE."""
    async with sessionmaker() as s:
        item_id = (await _add(MilestoneService(s), people.cadre, people.h1)).milestone_id
    async with sessionmaker() as first, sessionmaker() as second:
        repo_1, repo_2 = MilestoneRepository(first), MilestoneRepository(second)
        assert (await repo_1.get(item_id)).completed_at is None
        assert (await repo_2.get(item_id)).completed_at is None
        assert await repo_1.mark_done(item_id, completed_at=NOW, completed_by="account:1",
                                      evidence_text="a", evidence_photo_file_id=None)
        await first.commit()
        assert not await repo_2.mark_done(item_id, completed_at=NOW, completed_by="account:2",
                                          evidence_text="b", evidence_photo_file_id=None)
        await second.commit()
    async with sessionmaker() as s:
        row = await s.get(Milestone, item_id)
        assert (row.completed_by, row.evidence_text) == ("account:1", "a")


async def test_plan_order_and_counts(people, sessionmaker) -> None:
    async with sessionmaker() as s:
        s.add_all([
            Milestone(household_id=people.h1, category=MilestoneCategory.HOUSING, title="later",
                      due_date=date(2027, 3, 1)),
            Milestone(household_id=people.h1, category=MilestoneCategory.INCOME, title="done early",
                      due_date=date(2026, 10, 1), completed_at=NOW),
            Milestone(household_id=people.h1, category=MilestoneCategory.EDUCATION, title="soon",
                      due_date=date(2026, 12, 1)),
            Milestone(household_id=people.h1, category=MilestoneCategory.OTHER, title="overdue 2",
                      due_date=date(2026, 11, 28)),
            Milestone(household_id=people.h1, category=MilestoneCategory.OTHER, title="overdue 1",
                      due_date=date(2026, 9, 1)),
            Milestone(household_id=people.h2, category=MilestoneCategory.OTHER, title="h2 overdue",
                      due_date=date(2026, 9, 1)),
        ])
        await s.commit()
        plan = await MilestoneService(s).plan(people.h1, TODAY)
        assert [m.title for m in plan] == ["overdue 1", "overdue 2", "done early", "soon", "later"]
        assert await MilestoneService(s).plan(people.h3, TODAY) == []
        repo = MilestoneRepository(s)
        ids = [people.h1, people.h2, people.h3]
        assert await repo.overdue_counts(ids, TODAY) == {people.h1: 2, people.h2: 1}
        assert await repo.open_counts(ids) == {people.h1: 4, people.h2: 1}
        assert await repo.open_counts([]) == {}
        choices = await MilestoneService(s).households(people.cadre)
        assert {c.id: c.open_items for c in choices} == {people.h1: 4, people.h2: 1, people.h3: 0}
        open_items = await MilestoneService(s).open_items(people.cadre, people.h1)
        assert [m.title for m in open_items] == ["overdue 1", "overdue 2", "soon", "later"]
        assert await MilestoneService(s).open_items(people.cadre_ko, people.h1) is None


async def test_no_account_needed_for_created_by(people, sessionmaker) -> None:
    async with sessionmaker() as s:
        account = (await s.scalars(select(Account).where(Account.cadre_id == people.cadre))).one()
        outcome = await MilestoneService(s).add(
            cadre_id=people.cadre, account_id=account.id, household_id=people.h3,
            category=MilestoneCategory.OTHER, title="x", due_date=TODAY, today=TODAY)
        assert (await s.get(Milestone, outcome.milestone_id)).created_by == f"account:{account.id}"
