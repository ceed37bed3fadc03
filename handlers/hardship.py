"""/hardship (household reports a sudden difficulty), the cadre's acknowledgement and
outcome, /requests (household, cadre and admin views with states).

The /hardship dialog: category (buttons) → description (text, ≤ 2000 characters) →
optional photo (or 跳过) → summary with 提交 / 取消. State data is JSON only (strings).
/cancel leaves it at any step; starting /hardship clears any other dialog first. The
cadre's 记录结果 opens a one-step dialog for the outcome text. Every button press is
re-checked in the database (callback data can be forged); the clock is
`bot.work.hardship.clock` (monkeypatched by tests).

State writes join the update's session (bot/fsm_storage.py); every step commits before it
replies, so the user's next message (sent as soon as the reply arrives) finds the new step.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.config import Settings
from bot.work import hardship as service
from bot.work import hardship_render as render
from bot.work.hardship import ActionStatus, HardshipService
from bot.work.hardship_render import (
    HardshipActionCB,
    HardshipCategoryCB,
    HardshipStepCB,
    RequestsPageCB,
)
from storage.enums import HardshipCategory, Role
from storage.models import Account

router = Router(name="hardship")


class HardshipDialog(StatesGroup):
    category = State()
    text = State()
    photo = State()
    confirm = State()


class HardshipOutcome(StatesGroup):
    text = State()


def _service(session: AsyncSession, bot: Bot, i18n: I18n, settings: Settings) -> HardshipService:
    return HardshipService(session, bot, i18n, settings.rules.hardship, settings.tz)


def _cadre_id(access: Access) -> int | None:
    return access.cadre_id if access.role is Role.CADRE else None


# ------------------------------------------------------------- /cancel in a dialog


@router.message(StateFilter(HardshipDialog), Command("cancel"))
async def on_cancel(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await state.clear()
    await session.commit()
    await message.answer(render.cancelled_text())


@router.message(HardshipOutcome.text, Command("cancel"))
async def on_outcome_cancel(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await state.clear()
    await session.commit()
    await message.answer(render.outcome_cancelled_text())


# ------------------------------------------------------------------- /hardship


@router.message(Command("hardship"))
async def cmd_hardship(message: Message, session: AsyncSession, access: Access, state: FSMContext) -> None:
    if access.role is None:
        await message.answer(render.not_bound_text())
        return
    if access.role is not Role.HOUSEHOLD or access.household_id is None:
        await message.answer(render.households_only_text())
        return
    await state.clear()  # leave any other dialog
    await state.set_state(HardshipDialog.category)
    await session.commit()
    await message.answer(render.ask_category_text(), reply_markup=render.category_keyboard())


@router.callback_query(StateFilter(HardshipDialog), HardshipStepCB.filter(F.action == "cancel"))
async def on_cancel_pressed(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    await state.clear()
    await session.commit()
    await query.answer()
    if query.message is not None:
        await query.message.answer(render.cancelled_text())


@router.callback_query(HardshipDialog.category, HardshipCategoryCB.filter())
async def on_category(
    query: CallbackQuery, callback_data: HardshipCategoryCB, session: AsyncSession, access: Access, state: FSMContext
) -> None:
    if access.role is not Role.HOUSEHOLD or callback_data.cat not in set(HardshipCategory):
        await query.answer(render.stale_step_text(), show_alert=True)
        return
    await state.update_data(hs_category=callback_data.cat)
    await state.set_state(HardshipDialog.text)
    await session.commit()
    await query.answer()
    if query.message is not None:
        await query.message.answer(render.ask_text_text(callback_data.cat))


@router.message(HardshipDialog.category, ~F.text.startswith("/"))
async def on_category_expected(message: Message) -> None:
    await message.answer(render.category_expected_text(), reply_markup=render.category_keyboard())


@router.message(HardshipDialog.text, F.text, ~F.text.startswith("/"))
async def on_text(message: Message, session: AsyncSession, state: FSMContext) -> None:
    text, length = service.validate_text(message.text, render.TEXT_MAX)
    if text is None:
        await message.answer(render.text_too_long_text(length) if length else render.text_expected_text())
        return
    await state.update_data(hs_text=text)
    await state.set_state(HardshipDialog.photo)
    await session.commit()
    await message.answer(render.ask_photo_text(), reply_markup=render.skip_keyboard())


@router.message(HardshipDialog.text, ~F.text)
async def on_text_expected(message: Message) -> None:
    await message.answer(render.text_expected_text())


@router.message(HardshipDialog.photo, F.photo)
async def on_photo(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await state.update_data(hs_photo=message.photo[-1].file_id)
    await _show_summary(message, session, state)


@router.callback_query(HardshipDialog.photo, HardshipStepCB.filter(F.action == "skip"))
async def on_skip_photo(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    if query.message is None:
        await query.answer(render.stale_step_text(), show_alert=True)
        return
    await state.update_data(hs_photo=None)
    await query.answer()
    await _show_summary(query.message, session, state)


@router.message(HardshipDialog.photo, F.text, ~F.text.startswith("/"))
async def on_photo_text(message: Message, session: AsyncSession, state: FSMContext) -> None:
    if (message.text or "").strip().lower() in {_("跳过").lower(), "跳过"}:
        await state.update_data(hs_photo=None)
        await _show_summary(message, session, state)
        return
    await message.answer(render.photo_expected_text(), reply_markup=render.skip_keyboard())


@router.message(HardshipDialog.photo, ~F.text)
async def on_photo_expected(message: Message) -> None:
    await message.answer(render.photo_expected_text(), reply_markup=render.skip_keyboard())


async def _show_summary(message: Message, session: AsyncSession, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_state(HardshipDialog.confirm)
    await session.commit()
    await message.answer(
        render.summary_text(data.get("hs_category", ""), data.get("hs_text", ""), bool(data.get("hs_photo"))),
        reply_markup=render.confirm_keyboard(),
    )


@router.message(HardshipDialog.confirm, ~F.text.startswith("/"))
async def on_confirm_expected(message: Message) -> None:
    await message.answer(render.confirm_expected_text(), reply_markup=render.confirm_keyboard())


@router.callback_query(HardshipDialog.confirm, HardshipStepCB.filter(F.action == "submit"))
async def on_submit(
    query: CallbackQuery,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    state: FSMContext,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    data = await state.get_data()
    await state.clear()  # first: a second press of 提交 finds no dialog
    category, text = data.get("hs_category"), data.get("hs_text")
    if (
        account is None
        or access.role is not Role.HOUSEHOLD
        or access.household_id is None
        or category not in set(HardshipCategory)
        or not text
    ):
        await session.commit()
        await query.answer(render.stale_step_text(), show_alert=True)
        return
    await query.answer()
    chat_id, locale = account.chat_id, i18n.current_locale
    filed = await _service(session, bot, i18n, settings).file(
        account, access.household_id, HardshipCategory(category), text, data.get("hs_photo"), service.clock()
    )
    ack_due = render.local_date(filed.ack_due_at, locale, settings.tz)
    outcome_due = render.local_date(filed.outcome_due_at, locale, settings.tz)
    if filed.cadre_name is not None:
        reply = render.filed_text(filed.request_id, filed.cadre_name, ack_due, outcome_due)
    else:
        reply = render.filed_no_cadre_text(filed.request_id, ack_due, outcome_due)
    await bot.send_message(chat_id, reply)


@router.callback_query(HardshipStepCB.filter())
async def on_stale_step(query: CallbackQuery) -> None:
    """skip/submit/cancel outside the step they belong to (an old message, or forged)."""
    await query.answer(render.stale_step_text(), show_alert=True)


@router.callback_query(HardshipCategoryCB.filter())
async def on_stale_category(query: CallbackQuery) -> None:
    await query.answer(render.stale_step_text(), show_alert=True)


# -------------------------------------------------------- the cadre's buttons


def _refusal(status: ActionStatus) -> str:
    if status is ActionStatus.ALREADY_ACKNOWLEDGED:
        return render.already_acknowledged_text()
    if status is ActionStatus.NOT_ACKNOWLEDGED:
        return render.not_acknowledged_yet_text()
    if status is ActionStatus.ALREADY_RESOLVED:
        return render.already_resolved_text()
    return render.not_yours_text()


@router.callback_query(HardshipActionCB.filter(F.action == "ack"))
async def on_acknowledge(
    query: CallbackQuery,
    callback_data: HardshipActionCB,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    if account is None or _cadre_id(access) is None:
        await query.answer(render.not_yours_text(), show_alert=True)
        return
    chat_id, locale = account.chat_id, i18n.current_locale
    result = await _service(session, bot, i18n, settings).acknowledge(
        account, _cadre_id(access), callback_data.id, service.clock()
    )
    if result.status is not ActionStatus.DONE or result.request is None:
        await query.answer(_refusal(result.status), show_alert=True)
        return
    await query.answer(render.acknowledged_toast())
    outcome_due = render.local_date(result.request.outcome_due_at, locale, settings.tz)
    await bot.send_message(
        chat_id,
        render.acknowledged_text(result.request.id, outcome_due),
        reply_markup=render.outcome_keyboard(result.request.id),
    )


@router.callback_query(HardshipActionCB.filter(F.action == "out"))
async def on_outcome_pressed(
    query: CallbackQuery,
    callback_data: HardshipActionCB,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    state: FSMContext,
    bot: Bot,
) -> None:
    if account is None or _cadre_id(access) is None:
        await query.answer(render.not_yours_text(), show_alert=True)
        return
    checked = await service.check_action(session, callback_data.id, _cadre_id(access), "out")
    if checked.status is not ActionStatus.DONE or checked.request is None:
        await query.answer(_refusal(checked.status), show_alert=True)
        return
    await state.clear()
    await state.set_state(HardshipOutcome.text)
    await state.update_data(hs_request=checked.request.id)
    await session.commit()
    await query.answer()
    await bot.send_message(
        account.chat_id, render.ask_outcome_text(checked.request.id, checked.request.household.head_name)
    )


@router.callback_query(HardshipActionCB.filter())
async def on_unknown_action(query: CallbackQuery) -> None:
    await query.answer(render.not_yours_text(), show_alert=True)


@router.message(HardshipOutcome.text, F.text, ~F.text.startswith("/"))
async def on_outcome_text(
    message: Message,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    state: FSMContext,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    if account is None:
        return
    outcome, length = service.validate_text(message.text, render.OUTCOME_MAX)
    if outcome is None:
        await message.answer(render.outcome_too_long_text(length) if length else render.outcome_expected_text())
        return
    data = await state.get_data()
    await state.clear()
    await session.commit()  # the service commits again with the outcome
    chat_id = account.chat_id
    request_id = data.get("hs_request")
    if not isinstance(request_id, int):
        await bot.send_message(chat_id, render.not_yours_text())
        return
    result = await _service(session, bot, i18n, settings).resolve(
        account, _cadre_id(access), request_id, outcome, service.clock()
    )
    if result.status is not ActionStatus.DONE:
        await bot.send_message(chat_id, _refusal(result.status))
        return
    await bot.send_message(chat_id, render.outcome_saved_text(request_id, bool(result.delivered)))


@router.message(HardshipOutcome.text, ~F.text)
async def on_outcome_expected(message: Message) -> None:
    await message.answer(render.outcome_expected_text())


# ------------------------------------------------------------------- /requests


async def _requests_page(session: AsyncSession, access: Access, i18n: I18n, settings: Settings, page: int):
    now = service.clock()
    view = await service.requests_view(session, access, now, page)
    if view is None:
        return None
    text = render.requests_text(
        view.kind, view.items, view.total, view.page, view.pages, now, i18n.current_locale, settings.tz,
        own_ids=view.own_ids,
    )
    return text, render.requests_keyboard(view.actions, view.page, view.pages)


@router.message(Command("requests"))
async def cmd_requests(
    message: Message, session: AsyncSession, access: Access, i18n: I18n, settings: Settings
) -> None:
    shown = await _requests_page(session, access, i18n, settings, 0)
    if shown is None:
        await message.answer(render.not_bound_text())
        return
    text, markup = shown
    await message.answer(text, reply_markup=markup)


@router.callback_query(RequestsPageCB.filter())
async def on_requests_page(
    query: CallbackQuery,
    callback_data: RequestsPageCB,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    shown = await _requests_page(session, access, i18n, settings, callback_data.page)
    if shown is None or account is None or query.message is None:
        await query.answer(render.page_stale_text(), show_alert=True)
        return
    text, markup = shown
    await query.answer()
    try:
        await bot.edit_message_text(
            text=text, chat_id=account.chat_id, message_id=query.message.message_id, reply_markup=markup
        )
    except TelegramBadRequest:  # unchanged (pressed twice) or too old to edit: send it anew
        await bot.send_message(account.chat_id, text, reply_markup=markup)
