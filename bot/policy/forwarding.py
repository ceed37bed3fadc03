"""A household's question forwarded to its paired cadre, and the cadre's reply back.

`ForwardingService.ask` stores the question in `cadre_questions` and sends it, in each
receiver's own language, to the Telegram account(s) bound to the cadre of the household's
open pairing, with a 回复 button. `reply` stores the cadre's answer and delivers it to the
household's account(s), in their language. Both commit before sending, so a receiver who
presses a button at once finds the row. Logs carry row ids only, never names or text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import normalize_locale
from bot.policy import render
from storage.models import Account, CadreQuestion, PolicyQuestion
from storage.repositories.accounts import AccountRepository
from storage.repositories.policy import PolicyRepository

log = logging.getLogger(__name__)

ANSWER_MAX = 3000  # characters of a cadre's reply kept and delivered


class ForwardStatus(StrEnum):
    SENT = "sent"
    ALREADY = "already"  # this question was forwarded before
    NO_CADRE = "no_cadre"  # the household has no open pairing
    UNREACHABLE = "unreachable"  # the cadre has no bound account, or every send failed


@dataclass(frozen=True, slots=True)
class ForwardOutcome:
    status: ForwardStatus
    cadre_name: str | None = None


class ReplyStatus(StrEnum):
    DELIVERED = "delivered"
    NOT_DELIVERED = "not_delivered"  # stored, but no household account received it
    ALREADY_ANSWERED = "already_answered"
    INVALID = "invalid"  # unknown row or not this cadre's


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    status: ReplyStatus
    head_name: str | None = None


def locale_of(account: Account, i18n: I18n) -> str:
    """The interface language of an account that is not the current user (as LocaleMiddleware)."""
    if account.language in i18n.available_locales:
        return account.language
    locale = normalize_locale(account.telegram_language)
    if locale in i18n.available_locales:
        return locale
    return i18n.default_locale


class ForwardingService:
    def __init__(self, session: AsyncSession, bot: Bot, i18n: I18n) -> None:
        self.session = session
        self.bot = bot
        self.i18n = i18n
        self.repo = PolicyRepository(session)
        self.accounts = AccountRepository(session)

    async def can_ask_cadre(self, household_id: int | None) -> bool:
        """Whether to offer 问我的帮扶干部: the household has an open pairing."""
        return household_id is not None and await self.repo.paired_cadre(household_id) is not None

    async def ask(self, account: Account, household_id: int, question: PolicyQuestion) -> ForwardOutcome:
        if await self.repo.forwarded(question.id) is not None:
            return ForwardOutcome(ForwardStatus.ALREADY)
        cadre = await self.repo.paired_cadre(household_id)
        household = await self.repo.household(household_id)
        if cadre is None or household is None:
            return ForwardOutcome(ForwardStatus.NO_CADRE)
        receivers = await self.accounts.active_for_cadre(cadre.id)
        if not receivers:
            return ForwardOutcome(ForwardStatus.UNREACHABLE)
        row = await self.repo.forward(
            household_id=household_id,
            cadre_id=cadre.id,
            account_id=account.id,
            question=question.question,
            policy_question_id=question.id,
        )
        head_name, reg_no, text, cadre_name = household.head_name, household.reg_no, row.question, cadre.name
        await self.session.commit()
        delivered = 0
        for receiver in receivers:
            with self.i18n.use_locale(locale_of(receiver, self.i18n)):
                body = render.cadre_question_text(head_name, reg_no, text)
                markup = render.cadre_question_keyboard(row.id)
            delivered += await self._send(receiver.chat_id, receiver.id, [body], markup)
        log.info("cadre question %s forwarded to %s of %s account(s)", row.id, delivered, len(receivers))
        if not delivered:
            return ForwardOutcome(ForwardStatus.UNREACHABLE)
        return ForwardOutcome(ForwardStatus.SENT, cadre_name)

    async def question_for_cadre(self, cadre_question_id: int | None, cadre_id: int | None) -> CadreQuestion | None:
        """The forwarded question if it was sent to this cadre (else None: forged or stale)."""
        if cadre_question_id is None or cadre_id is None:
            return None
        row = await self.repo.cadre_question(cadre_question_id)
        if row is None or row.cadre_id != cadre_id:
            return None
        return row

    async def reply(
        self, account: Account, cadre_id: int | None, cadre_question_id: int | None, answer: str
    ) -> ReplyOutcome:
        row = await self.question_for_cadre(cadre_question_id, cadre_id)
        if row is None:
            return ReplyOutcome(ReplyStatus.INVALID)
        household = await self.repo.household(row.household_id)
        head_name = household.head_name if household else ""
        if row.answered_at is not None:
            return ReplyOutcome(ReplyStatus.ALREADY_ANSWERED, head_name)
        answer = answer.strip()[:ANSWER_MAX]
        await self.repo.answer(row, answer, account.id)
        receivers = await self.accounts.active_for_household(row.household_id)
        row_id, question = row.id, row.question
        await self.session.commit()
        delivered = 0
        for receiver in receivers:
            with self.i18n.use_locale(locale_of(receiver, self.i18n)):
                pieces = render.plain_messages(render.household_reply_plain(answer, question))
            delivered += await self._send(receiver.chat_id, receiver.id, pieces, None)
        log.info("cadre question %s answered, delivered to %s account(s)", row_id, delivered)
        status = ReplyStatus.DELIVERED if delivered else ReplyStatus.NOT_DELIVERED
        return ReplyOutcome(status, head_name)

    async def _send(
        self, chat_id: int, account_id: int, pieces: list[str], markup: InlineKeyboardMarkup | None
    ) -> int:
        try:
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                await self.bot.send_message(chat_id, piece, reply_markup=markup if last else None)
        except TelegramAPIError as exc:
            log.warning("could not deliver to account %s: %s", account_id, type(exc).__name__)
            return 0
        return 1
