"""Policy answers in the chat: the question log, 👍/👎 feedback, questions forwarded to cadres."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Cadre,
    CadreQuestion,
    Household,
    Pairing,
    PolicyFeedback,
    PolicyQuestion,
    utcnow,
)

QUESTION_MAX = 1000  # characters of a question kept in the database


def clip(text: str, limit: int = QUESTION_MAX) -> str:
    return text if len(text) <= limit else text[:limit]


class PolicyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ----------------------------------------------------------------- questions

    async def log_question(
        self,
        account_id: int,
        locale: str,
        question: str,
        *,
        section_number: int | None,
        score: float | None,
        answered: bool,
    ) -> PolicyQuestion:
        row = PolicyQuestion(
            account_id=account_id,
            locale=locale,
            question=clip(question),
            section_number=section_number,
            score=score,
            answered=answered,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def question_of(self, question_id: int, account_id: int) -> PolicyQuestion | None:
        """The logged question if it was asked from this account (else None: forged or stale)."""
        row = await self.session.get(PolicyQuestion, question_id)
        if row is None or row.account_id != account_id:
            return None
        return row

    # ------------------------------------------------------------------ feedback

    async def set_feedback(self, question: PolicyQuestion, helpful: bool) -> PolicyFeedback:
        """Record 👍 (True) or 👎 (False); a second press updates the same row."""
        row = await self.session.scalar(
            select(PolicyFeedback).where(PolicyFeedback.question_id == question.id)
        )
        if row is None:
            row = PolicyFeedback(
                question_id=question.id,
                account_id=question.account_id,
                locale=question.locale,
                question=question.question,
                section_number=question.section_number,
                score=question.score,
                helpful=helpful,
            )
            self.session.add(row)
        else:
            row.helpful = helpful
            row.updated_at = utcnow()
        await self.session.flush()
        return row

    async def feedback(self) -> Sequence[PolicyFeedback]:
        return (await self.session.scalars(select(PolicyFeedback).order_by(PolicyFeedback.id))).all()

    # ------------------------------------------------------- cadre ↔ household

    async def paired_cadre(self, household_id: int) -> Cadre | None:
        """The cadre of the household's open pairing, if any."""
        return await self.session.scalar(
            select(Cadre)
            .join(Pairing, Pairing.cadre_id == Cadre.id)
            .where(Pairing.household_id == household_id, Pairing.end_date.is_(None))
        )

    async def household(self, household_id: int) -> Household | None:
        return await self.session.get(Household, household_id)

    async def cadre(self, cadre_id: int) -> Cadre | None:
        return await self.session.get(Cadre, cadre_id)

    async def forwarded(self, policy_question_id: int) -> CadreQuestion | None:
        return await self.session.scalar(
            select(CadreQuestion).where(CadreQuestion.policy_question_id == policy_question_id)
        )

    async def forward(
        self,
        *,
        household_id: int,
        cadre_id: int,
        account_id: int,
        question: str,
        policy_question_id: int | None,
    ) -> CadreQuestion:
        row = CadreQuestion(
            household_id=household_id,
            cadre_id=cadre_id,
            account_id=account_id,
            policy_question_id=policy_question_id,
            question=clip(question),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def cadre_question(self, cadre_question_id: int) -> CadreQuestion | None:
        return await self.session.get(CadreQuestion, cadre_question_id)

    async def answer(
        self, row: CadreQuestion, answer: str, account_id: int, at: datetime | None = None
    ) -> CadreQuestion:
        row.answer = answer
        row.answered_at = at or utcnow()
        row.answered_by_account_id = account_id
        await self.session.flush()
        return row

    async def open_for_cadre(self, cadre_id: int) -> Sequence[CadreQuestion]:
        return (
            await self.session.scalars(
                select(CadreQuestion)
                .where(CadreQuestion.cadre_id == cadre_id, CadreQuestion.answered_at.is_(None))
                .order_by(CadreQuestion.created_at)
            )
        ).all()
