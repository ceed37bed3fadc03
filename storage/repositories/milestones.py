"""Plan milestones (帮扶计划事项): reads and writes of the `milestones` table.

Status is derived, never stored: done (completed_at set), overdue (open and due_date <
today), else open. Completion is a conditional UPDATE (`completed_at IS NULL`), so a
second press or a second device cannot complete an item twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import MilestoneCategory
from storage.models import Milestone


def overdue_clause(today: date):
    """SQL condition: the milestone is open and past its due date (逾期)."""
    return and_(Milestone.completed_at.is_(None), Milestone.due_date < today)


class MilestoneRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, milestone_id: int) -> Milestone | None:
        return await self.session.get(Milestone, milestone_id)

    async def title_taken(self, household_id: int, title: str) -> bool:
        return bool(
            await self.session.scalar(
                select(exists().where(Milestone.household_id == household_id, Milestone.title == title))
            )
        )

    async def add(
        self,
        *,
        household_id: int,
        category: MilestoneCategory,
        title: str,
        due_date: date,
        created_by: str,
    ) -> Milestone:
        """Insert and flush (the caller commits); IntegrityError on a duplicate title."""
        row = Milestone(
            household_id=household_id, category=category, title=title, due_date=due_date, created_by=created_by
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def for_household(self, household_id: int, today: date) -> Sequence[Milestone]:
        """The household's whole plan: overdue items first, then by due date."""
        stmt = (
            select(Milestone)
            .where(Milestone.household_id == household_id)
            .order_by(case((overdue_clause(today), 0), else_=1), Milestone.due_date, Milestone.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def open_for_household(self, household_id: int) -> Sequence[Milestone]:
        """Items not yet done, by due date (overdue ones come first by nature)."""
        stmt = (
            select(Milestone)
            .where(Milestone.household_id == household_id, Milestone.completed_at.is_(None))
            .order_by(Milestone.due_date, Milestone.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def open_counts(self, household_ids: Iterable[int]) -> dict[int, int]:
        """Open (not done) items per household, for the given households (absent: none)."""
        return await self._counts(household_ids, Milestone.completed_at.is_(None))

    async def overdue_counts(self, household_ids: Iterable[int], today: date) -> dict[int, int]:
        """Overdue items per household, for the given households (absent: none)."""
        return await self._counts(household_ids, overdue_clause(today))

    async def _counts(self, household_ids: Iterable[int], condition) -> dict[int, int]:
        ids = sorted(set(household_ids))
        if not ids:
            return {}
        stmt = (
            select(Milestone.household_id, func.count())
            .where(Milestone.household_id.in_(ids), condition)
            .group_by(Milestone.household_id)
        )
        return {hh: n for hh, n in (await self.session.execute(stmt)).all()}

    async def mark_done(
        self,
        milestone_id: int,
        *,
        completed_at: datetime,
        completed_by: str,
        evidence_text: str | None,
        evidence_photo_file_id: str | None,
    ) -> bool:
        """Complete an open item; False (nothing changed) when it is done already or gone."""
        result = await self.session.execute(
            update(Milestone)
            .where(Milestone.id == milestone_id, Milestone.completed_at.is_(None))
            .values(
                completed_at=completed_at,
                completed_by=completed_by,
                evidence_text=evidence_text,
                evidence_photo_file_id=evidence_photo_file_id,
                updated_at=completed_at,
            )
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1
