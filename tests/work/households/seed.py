"""Visits, milestones and due dates on top of tests/work/people.py, for the household tests.

TODAY is 2026-11-29. Cadre 刘's households: H2 is overdue for a visit (due 11-25), H3 has
two overdue milestones (one done, one due today, one next week besides), H1 is due for a
visit today (not overdue). Next visit due and last visit are set directly (bot/work/cadence.py
keeps them in production).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update

from storage.enums import HardshipCategory, MilestoneCategory, VisitConfirmation, VisitKind
from storage.models import Cadre, HardshipRequest, Household, Milestone, Pairing, Visit
from tests.work.people import WorkPeople

TODAY = date(2026, 11, 29)
# 2026-11-29 09:00 in Asia/Shanghai
NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


async def set_due(session, household_id: int, next_due: date | None, last: date | None = None) -> None:
    await session.execute(
        update(Pairing)
        .where(Pairing.household_id == household_id, Pairing.end_date.is_(None))
        .values(next_visit_due=next_due, last_visit_on=last)
    )


def milestone(household_id: int, title: str, due: date, done: bool = False,
              category: MilestoneCategory = MilestoneCategory.HOUSING) -> Milestone:
    return Milestone(household_id=household_id, title=title, due_date=due, category=category,
                     completed_at=datetime(2026, 11, 2, tzinfo=UTC) if done else None)


async def seed_due(sessionmaker, people: WorkPeople) -> None:
    async with sessionmaker() as s:
        await set_due(s, people.h1, TODAY, date(2026, 10, 30))
        await set_due(s, people.h2, date(2026, 11, 25))
        await set_due(s, people.h3, date(2026, 12, 20), date(2026, 11, 20))
        await set_due(s, people.h5, date(2026, 12, 2))  # 朴's: not 刘's
        s.add_all([
            milestone(people.h3, "危房改造<C级>", date(2026, 11, 20)),
            milestone(people.h3, "办理医保", date(2026, 11, 28), category=MilestoneCategory.MEDICAL_INSURANCE),
            milestone(people.h3, "已办完的事", date(2026, 11, 1), done=True),
            milestone(people.h3, "今天到期", TODAY),
            milestone(people.h3, "下周到期", TODAY + timedelta(days=7)),
            milestone(people.h3, "下月到期", TODAY + timedelta(days=8)),
            milestone(people.h5, "别人的事项", date(2026, 11, 1)),
        ])
        s.add_all([
            Visit(cadre_id=people.cadre, household_id=people.h3, visited_on=date(2026, 11, 20),
                  kind=VisitKind.HOME, confirmation=VisitConfirmation.CONFIRMED, rating=5),
            Visit(cadre_id=people.cadre, household_id=people.h3, visited_on=date(2026, 11, 10),
                  kind=VisitKind.PHONE, confirmation=VisitConfirmation.DENIED, flagged=True,
                  flagged_at=datetime(2026, 11, 11, tzinfo=UTC)),
        ])
        await s.commit()


async def add_hardship(sessionmaker, household_id: int, cadre_id: int | None, *, acknowledged: bool = False,
                       ack_due: datetime = NOW + timedelta(days=1)) -> None:
    async with sessionmaker() as s:
        s.add(HardshipRequest(
            household_id=household_id, cadre_id=cadre_id, category=HardshipCategory.ILLNESS, text="住院了",
            created_at=NOW - timedelta(days=1), ack_due_at=ack_due, outcome_due_at=NOW + timedelta(days=30),
            acknowledged_at=NOW if acknowledged else None,
        ))
        await s.commit()


async def add_households(sessionmaker, people: WorkPeople, count: int, *, cadre_id: int | None,
                         village_id: int | None = None) -> list[int]:
    """`count` more households (reg_no X001...), paired with `cadre_id` when given."""
    async with sessionmaker() as s:
        rows = [Household(reg_no=f"X{i:03d}", head_name=f"户{i:03d}", village_id=village_id or people.village_1)
                for i in range(1, count + 1)]
        s.add_all(rows)
        await s.flush()
        if cadre_id is not None:
            s.add_all([Pairing(cadre_id=cadre_id, household_id=h.id, start_date=date(2026, 11, 1),
                               next_visit_due=date(2026, 12, 1) + timedelta(days=i))
                       for i, h in enumerate(rows)])
        await s.commit()
        return [h.id for h in rows]


async def cadre_name(session, cadre_id: int) -> str:
    return (await session.get(Cadre, cadre_id)).name
