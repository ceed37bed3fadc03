"""Free text is a policy question (when no dialog waits for input): cited answer or refusal.

Also the buttons under answers: 原文 (the section's original text), 👍/👎 (feedback) and
问我的帮扶干部 (forward to the household's cadre). Every question is logged in
policy_questions; the Python log gets ids and scores only, never the question.
"""

from __future__ import annotations

import logging
import unicodedata

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.policy import render
from bot.policy.forwarding import ForwardingService, ForwardStatus
from bot.policy.render import QuestionCB, SectionCB
from bot.policy.service import PolicyService
from storage.enums import Role
from storage.models import Account
from storage.repositories.policy import PolicyRepository, clip

log = logging.getLogger(__name__)
router = Router(name="policy")


def looks_like_words(text: str) -> bool:
    """At least one letter (any script): digits, punctuation and emoji alone are no question."""
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def _household_id(access: Access) -> int | None:
    return access.household_id if access.role is Role.HOUSEHOLD else None


@router.message(StateFilter(None), F.chat.type == ChatType.PRIVATE, F.text, ~F.text.startswith("/"))
async def on_question(
    message: Message,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    i18n: I18n,
    bot: Bot,
    policy: PolicyService,
) -> None:
    if account is None:
        return
    locale = i18n.current_locale
    question = clip((message.text or "").strip())
    repo = PolicyRepository(session)
    if not looks_like_words(question):
        await repo.log_question(account.id, locale, question, section_number=None, score=None, answered=False)
        await session.commit()
        await message.answer(render.not_a_question_text())
        return
    engine = policy.engine  # one snapshot: a concurrent /reload_policy swaps engine and corpus together
    corpus = engine.corpus
    result = engine.ask(question)
    best = result.best
    answered = bool(result.answered and best is not None)
    row = await repo.log_question(
        account.id,
        locale,
        question,
        section_number=best.section.number if best else None,
        score=float(best.score) if best else None,
        answered=answered,
    )
    log.info(
        "policy question %s: answered=%s section=%s score=%.3f",
        row.id, answered, best.section.number if best else None, best.score if best else 0.0,
    )
    can_ask = await ForwardingService(session, bot, i18n).can_ask_cadre(_household_id(access))
    # Commit before replying: the buttons reference the row, and people press fast.
    await session.commit()
    if answered:
        await message.answer(
            render.answer_text(best.section, locale),
            reply_markup=render.answer_keyboard(
                row.id,
                best.section.number,
                can_ask_cadre=can_ask,
                related=[m.section for m in result.suggestions],
            ),
        )
    else:
        offered = [m.section for m in result.suggestions]
        await message.answer(
            render.refusal_text(corpus.document_title, can_ask_cadre=can_ask, has_suggestions=bool(offered)),
            reply_markup=render.refusal_keyboard(row.id, can_ask_cadre=can_ask, suggestions=offered),
        )


@router.callback_query(QuestionCB.filter(F.action.in_({"up", "down"})))
async def on_feedback(
    query: CallbackQuery, callback_data: QuestionCB, session: AsyncSession, account: Account | None
) -> None:
    repo = PolicyRepository(session)
    row = await repo.question_of(callback_data.id, account.id) if account is not None else None
    if row is None or not row.answered:
        await query.answer(render.stale_button_text(), show_alert=True)
        return
    await repo.set_feedback(row, helpful=callback_data.action == "up")
    await session.commit()
    await query.answer(render.feedback_thanks_text())


@router.callback_query(QuestionCB.filter(F.action == "ask"))
async def on_ask_cadre(
    query: CallbackQuery,
    callback_data: QuestionCB,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    i18n: I18n,
    bot: Bot,
) -> None:
    household_id = _household_id(access)
    repo = PolicyRepository(session)
    row = await repo.question_of(callback_data.id, account.id) if account is not None else None
    if row is None or household_id is None or account is None:
        await query.answer(render.stale_button_text(), show_alert=True)
        return
    chat_id = account.chat_id
    outcome = await ForwardingService(session, bot, i18n).ask(account, household_id, row)
    if outcome.status is ForwardStatus.SENT:
        text = render.forwarded_text(outcome.cadre_name or "")
        await query.answer(render.forwarded_toast_text())
    elif outcome.status is ForwardStatus.ALREADY:
        text = render.already_forwarded_text()
        await query.answer()
    elif outcome.status is ForwardStatus.NO_CADRE:
        text = render.no_cadre_text()
        await query.answer()
    else:
        text = render.cadre_unreachable_text()
        await query.answer()
    await bot.send_message(chat_id, text)


@router.callback_query(SectionCB.filter(F.action == "orig"))
async def on_original(
    query: CallbackQuery, callback_data: SectionCB, account: Account | None, bot: Bot, policy: PolicyService
) -> None:
    section = policy.corpus.sections.get(callback_data.n)
    if section is None or account is None:
        await query.answer(render.stale_button_text(), show_alert=True)
        return
    await query.answer()
    for piece in render.original_messages(section):
        await bot.send_message(account.chat_id, piece)


@router.callback_query(SectionCB.filter(F.action == "show"))
async def on_show_section(
    query: CallbackQuery,
    callback_data: SectionCB,
    account: Account | None,
    i18n: I18n,
    bot: Bot,
    policy: PolicyService,
) -> None:
    section = policy.corpus.sections.get(callback_data.n)
    if section is None or account is None:
        await query.answer(render.stale_button_text(), show_alert=True)
        return
    await query.answer()
    await bot.send_message(
        account.chat_id,
        render.answer_text(section, i18n.current_locale),
        reply_markup=render.section_keyboard(section.number),
    )
