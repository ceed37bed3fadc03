"""Cadres answer questions forwarded by their households: 回复 → replying state → text → household.

The replying state owns the cadre's next text (it never reaches the policy engine);
/cancel leaves it. Every press and every reply re-checks that the question was sent to
this cadre.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.policy import render
from bot.policy.forwarding import ForwardingService, ReplyStatus
from bot.policy.render import CadreReplyCB
from storage.enums import Role
from storage.models import Account, Household

router = Router(name="cadre_questions")


class CadreReply(StatesGroup):
    waiting = State()


def _cadre_id(access: Access) -> int | None:
    return access.cadre_id if access.role is Role.CADRE else None


@router.callback_query(CadreReplyCB.filter())
async def on_reply_pressed(
    query: CallbackQuery,
    callback_data: CadreReplyCB,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    state: FSMContext,
    i18n: I18n,
    bot: Bot,
) -> None:
    service = ForwardingService(session, bot, i18n)
    row = await service.question_for_cadre(callback_data.id, _cadre_id(access))
    if row is None or account is None:
        await query.answer(render.stale_button_text(), show_alert=True)
        return
    if row.answered_at is not None:
        await query.answer(render.reply_already_answered_text(), show_alert=True)
        return
    household = await session.get(Household, row.household_id)
    await state.set_state(CadreReply.waiting)
    await state.update_data(cadre_question=row.id)
    await query.answer()
    await bot.send_message(
        account.chat_id,
        render.reply_prompt_text(household.head_name if household else "", household.reg_no if household else "",
                                 row.question),
    )


@router.message(CadreReply.waiting, Command("cancel"))
async def on_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(render.reply_cancelled_text())


@router.message(CadreReply.waiting, F.text, ~F.text.startswith("/"))
async def on_reply_text(
    message: Message,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    state: FSMContext,
    i18n: I18n,
    bot: Bot,
) -> None:
    if account is None:
        return
    data = await state.get_data()
    await state.clear()
    chat_id = account.chat_id
    outcome = await ForwardingService(session, bot, i18n).reply(
        account, _cadre_id(access), data.get("cadre_question"), message.text or ""
    )
    if outcome.status is ReplyStatus.DELIVERED:
        text = render.reply_sent_text(outcome.head_name or "")
    elif outcome.status is ReplyStatus.NOT_DELIVERED:
        text = render.reply_saved_not_delivered_text()
    elif outcome.status is ReplyStatus.ALREADY_ANSWERED:
        text = render.reply_already_answered_text()
    else:
        text = render.stale_button_text()
    await bot.send_message(chat_id, text)


@router.message(CadreReply.waiting, ~F.text)
async def on_reply_not_text(message: Message) -> None:
    await message.answer(render.reply_text_only_text())
