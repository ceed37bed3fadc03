"""/visit (cadre): the guided dialog that logs a visit; the household's confirmation
(yes / no, rating 1-5); /flags (admin, supervisors): flagged visits in scope.

Thin: parse, call bot/work/visits.py, reply with bot/work/visits_render.py. The dialog's
state data is JSON only (ids, ISO dates, floats, file ids) so it survives a restart in
SQL or Redis FSM storage. Every button press re-checks in the database.

The 登记走访 button of a visit reminder or overdue alert (`VisitStartCB`) starts the dialog
already on its household, at the date step; like /visit, it replaces any dialog in progress.
A press the cadre may not make (not theirs, forged, household lifted) gets an alert and
leaves the current dialog alone.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access, RoleFilter
from bot.config import Settings
from bot.work import clock as work_clock
from bot.work import visits_render as render
from bot.work.rules import local_today
from bot.work.visits import (
    NOTES_MAX,
    PICKER_PAGE,
    AnswerStatus,
    DateProblem,
    RateStatus,
    SaveStatus,
    StartStatus,
    VisitDraft,
    answer_visit,
    ask_household,
    cadre_name,
    check_start,
    check_visit_date,
    earliest_visit_date,
    expire_confirmations,
    flagged_page,
    flags_viewer,
    rate_visit,
    read_visit_date,
    save_visit,
)
from bot.work.visits_render import ConfirmCB, FlagsCB, RateCB, VisitStartCB, VisitStepCB
from storage.enums import Role, VisitKind
from storage.models import Account
from storage.repositories.pairings import PairingRepository
from storage.repositories.visits import VisitRepository

router = Router(name="visits")


Send = Callable[..., Awaitable[Any]]  # message.answer, or bot.send_message bound to a chat
NOT_COMMAND = ~F.text.startswith("/")  # true for media too (no text)


def clock() -> datetime:
    """Now, aware UTC (bot/work/clock.py); tests of this module monkeypatch this function."""
    return work_clock.now()


class VisitDialog(StatesGroup):
    household = State()
    visited_on = State()
    kind = State()
    notes = State()
    location = State()
    photo = State()
    confirm = State()


# ------------------------------------------------------------------ small helpers


def _today(settings: Settings) -> date:
    return local_today(settings.tz, clock())


async def _picker(
    session: AsyncSession, cadre_id: int, nonce: str, page: int = 0
) -> tuple[str, InlineKeyboardMarkup] | None:
    """The household picker (page `page`); None when the cadre has no household at all."""
    choices, total = await VisitRepository(session).household_choices(
        cadre_id, page * PICKER_PAGE, PICKER_PAGE
    )
    if total == 0:
        return None
    pages = -(-total // PICKER_PAGE)
    return render.pick_household_text(), render.picker_keyboard(nonce, choices, page, pages)


async def _ask_date(send: Send, session: AsyncSession, data: dict[str, Any], settings: Settings,
                    locale: str) -> None:
    choice = await VisitRepository(session).household_choice(int(data["household_id"]))
    if choice is None:  # cannot happen for a chosen id; be safe
        await send(render.stale_dialog_text())
        return
    earliest = earliest_visit_date(_today(settings), settings.rules.visits.backdate_days)
    await send(render.ask_date_text(choice, earliest, locale), reply_markup=render.date_keyboard(data["dialog"]))


async def _progress(session: AsyncSession, state: FSMContext, step: State | None, **changes: Any) -> dict[str, Any]:
    """Record the dialog's next step (None: the dialog ends) and commit it before the next
    prompt goes out: the user may answer at once, and the FSM state may be written in this
    update's transaction. Returns the dialog's data."""
    if step is None:
        await state.clear()
    else:
        if changes:
            await state.update_data(**changes)
        await state.set_state(step)
    await session.commit()
    return await state.get_data()


async def _date_chosen(send: Send, session: AsyncSession, state: FSMContext, value: date) -> None:
    data = await _progress(session, state, VisitDialog.kind, visited_on=value.isoformat())
    await send(render.ask_kind_text(), reply_markup=render.kind_keyboard(data["dialog"]))


async def _send_summary(send: Send, session: AsyncSession, state: FSMContext, locale: str) -> None:
    data = await state.get_data()
    draft = VisitDraft.from_state(data)
    choice = await VisitRepository(session).household_choice(draft.household_id) if draft else None
    if draft is None or choice is None:
        await _progress(session, state, None)
        await send(render.stale_dialog_text())
        return
    await send(
        render.summary_text(
            choice, draft.visited_on, draft.kind, draft.notes,
            has_location=draft.latitude is not None, has_photo=draft.photo_file_id is not None, locale=locale,
        ),
        reply_markup=render.summary_keyboard(data["dialog"]),
    )


def _date_problem_text(problem: DateProblem, value: date | None, settings: Settings, locale: str) -> str:
    if problem is DateProblem.FUTURE and value is not None:
        return render.date_future_text(value, locale)
    if problem is DateProblem.TOO_OLD and value is not None:
        return render.date_too_old_text(value, settings.rules.visits.backdate_days, locale)
    return render.date_unreadable_text()


# ------------------------------------------------------------------ /cancel and /visit


@router.message(StateFilter(VisitDialog), Command("cancel"))
async def on_cancel(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await _progress(session, state, None)
    await message.answer(render.cancelled_text())


@router.message(Command("visit"), RoleFilter(Role.CADRE))
async def cmd_visit(message: Message, session: AsyncSession, access: Access, state: FSMContext) -> None:
    await _progress(session, state, None)  # whatever dialog was open ends here
    if access.cadre_id is None:
        await message.answer(render.no_households_text())
        return
    nonce = secrets.token_hex(4)
    picker = await _picker(session, access.cadre_id, nonce)
    if picker is None:
        await message.answer(render.no_households_text())
        return
    # the state first, then the prompt: the next update may come as soon as it is shown
    await state.set_data({"dialog": nonce})
    await _progress(session, state, VisitDialog.household)
    text, markup = picker
    await message.answer(text, reply_markup=markup)


@router.callback_query(VisitStartCB.filter())
async def on_start_button(
    query: CallbackQuery,
    callback_data: VisitStartCB,
    session: AsyncSession,
    access: Access,
    account: Account | None,
    state: FSMContext,
    settings: Settings,
    i18n: I18n,
    bot: Bot,
) -> None:
    """登记走访 under a reminder: the dialog on that household, at the date step."""
    cadre_id = access.cadre_id if access.role is Role.CADRE else None
    status = await check_start(session, cadre_id, callback_data.household_id)
    if status is not StartStatus.OK or account is None:
        refusal = render.start_lifted_text() if status is StartStatus.LIFTED else render.start_forbidden_text()
        await query.answer(refusal, show_alert=True)
        return
    # a new dialog (new nonce) replaces whatever was open, as /visit does
    await state.set_data({"dialog": secrets.token_hex(4), "household_id": callback_data.household_id})
    data = await _progress(session, state, VisitDialog.visited_on)
    await query.answer()
    await _ask_date(partial(bot.send_message, account.chat_id), session, data, settings, i18n.current_locale)


# ------------------------------------------------------------------ dialog buttons

_BUTTON_STATES = {
    "h": {VisitDialog.household.state},
    "p": {VisitDialog.household.state},
    "d": {VisitDialog.visited_on.state},
    "k": {VisitDialog.kind.state},
    "skip": {VisitDialog.location.state, VisitDialog.photo.state},
    "save": {VisitDialog.confirm.state},
    "cancel": {s.state for s in VisitDialog.__all_states__},
}


@router.callback_query(VisitStepCB.filter())
async def on_step(
    query: CallbackQuery,
    callback_data: VisitStepCB,
    session: AsyncSession,
    access: Access,
    account: Account | None,
    state: FSMContext,
    settings: Settings,
    i18n: I18n,
    bot: Bot,
) -> None:
    data = await state.get_data()
    current = await state.get_state()
    action = callback_data.action
    if (
        access.role is not Role.CADRE
        or access.cadre_id is None
        or account is None
        or query.message is None
        or data.get("dialog") != callback_data.d
        or current not in _BUTTON_STATES.get(action, set())
    ):
        await query.answer(render.stale_dialog_text(), show_alert=True)
        return
    send: Send = partial(bot.send_message, account.chat_id)
    locale = i18n.current_locale
    cadre_id = access.cadre_id
    if action == "cancel":
        await _progress(session, state, None)
        await query.answer()
        await send(render.cancelled_text())
    elif action == "p":
        await _on_page(query, session, bot, account.chat_id, cadre_id, data["dialog"], callback_data.v)
    elif action == "h":
        household_id = int(callback_data.v) if callback_data.v.isdigit() else 0
        if not household_id or not await PairingRepository(session).cadre_may_act(cadre_id, household_id):
            await query.answer(render.forbidden_household_text(), show_alert=True)
            return
        data = await _progress(session, state, VisitDialog.visited_on, household_id=household_id)
        await query.answer()
        await _ask_date(send, session, data, settings, locale)
    elif action == "d":
        if callback_data.v not in ("0", "1", "2"):
            await query.answer(render.stale_dialog_text(), show_alert=True)
            return
        today = _today(settings)
        value = today - timedelta(days=int(callback_data.v))
        problem = check_visit_date(value, today, settings.rules.visits.backdate_days)
        if problem is not None:
            await query.answer(_date_problem_text(problem, value, settings, locale), show_alert=True)
            return
        await query.answer()
        await _date_chosen(send, session, state, value)
    elif action == "k":
        if callback_data.v not in {k.value for k in VisitKind}:
            await query.answer(render.stale_dialog_text(), show_alert=True)
            return
        await _progress(session, state, VisitDialog.notes, kind=callback_data.v)
        await query.answer()
        await send(render.ask_notes_text(NOTES_MAX))
    elif action == "skip":
        await query.answer()
        if current == VisitDialog.location.state:
            await _progress(session, state, VisitDialog.photo, latitude=None, longitude=None)
            await send(render.ask_photo_text(), reply_markup=render.skip_keyboard(data["dialog"]))
        else:
            await _progress(session, state, VisitDialog.confirm, photo=None)
            await _send_summary(send, session, state, locale)
    elif action == "save":
        await _on_save(query, session, access, account, state, settings, i18n, bot, data)


async def _on_page(
    query: CallbackQuery, session: AsyncSession, bot: Bot, chat_id: int, cadre_id: int, nonce: str, raw: str
) -> None:
    page = int(raw) if raw.isdigit() else 0
    choices, total = await VisitRepository(session).household_choices(cadre_id, page * PICKER_PAGE, PICKER_PAGE)
    pages = max(1, -(-total // PICKER_PAGE))
    if not choices and page > 0:  # the list shrank: back to the first page
        page = 0
        choices, total = await VisitRepository(session).household_choices(cadre_id, 0, PICKER_PAGE)
    await query.answer()
    if query.message is None:
        return
    try:
        await bot.edit_message_reply_markup(
            chat_id=chat_id, message_id=query.message.message_id,
            reply_markup=render.picker_keyboard(nonce, choices, page, pages),
        )
    except TelegramBadRequest:  # "message is not modified": a double press
        pass


async def _on_save(
    query: CallbackQuery,
    session: AsyncSession,
    access: Access,
    account: Account,
    state: FSMContext,
    settings: Settings,
    i18n: I18n,
    bot: Bot,
    data: dict[str, Any],
) -> None:
    draft = VisitDraft.from_state(data)
    cadre_id = access.cadre_id
    chat_id = account.chat_id
    if draft is None or cadre_id is None:
        await _progress(session, state, None)
        await query.answer(render.stale_dialog_text(), show_alert=True)
        return
    outcome = await save_visit(session, settings.rules, i18n, cadre_id, draft, clock(), settings.tz)
    await _progress(session, state, None)
    await query.answer()
    if outcome.status is SaveStatus.FORBIDDEN:
        await bot.send_message(chat_id, render.save_forbidden_text())
        return
    if outcome.status is SaveStatus.BAD_DATE:
        await bot.send_message(chat_id, render.save_bad_date_text(settings.rules.visits.backdate_days))
        return
    delivered = await ask_household(bot, i18n, outcome, await cadre_name(session, cadre_id))
    await bot.send_message(chat_id, render.saved_text(outcome.household_name, bool(outcome.receivers), delivered))


# ------------------------------------------------------------------ dialog messages

cadre_only = RoleFilter(Role.CADRE)


@router.message(VisitDialog.household, cadre_only, NOT_COMMAND)
async def on_household_input(message: Message, session: AsyncSession, access: Access, state: FSMContext) -> None:
    data = await state.get_data()
    picker = None if access.cadre_id is None else await _picker(session, access.cadre_id, data.get("dialog", ""))
    if picker is None:
        await _progress(session, state, None)
        await message.answer(render.no_households_text())
        return
    text, markup = picker
    await message.answer(render.buttons_expected_text() + "\n" + text, reply_markup=markup)


@router.message(VisitDialog.visited_on, cadre_only, F.text, NOT_COMMAND)
async def on_date_text(
    message: Message, session: AsyncSession, state: FSMContext, settings: Settings, i18n: I18n
) -> None:
    value, problem = read_visit_date(message.text or "", _today(settings), settings.rules.visits.backdate_days)
    if problem is not None or value is None:
        data = await state.get_data()
        text = _date_problem_text(problem or DateProblem.UNREADABLE, value, settings, i18n.current_locale)
        await message.answer(text, reply_markup=render.date_keyboard(data.get("dialog", "")))
        return
    await _date_chosen(message.answer, session, state, value)


@router.message(VisitDialog.visited_on, cadre_only, NOT_COMMAND)
async def on_date_not_text(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await message.answer(render.date_unreadable_text(), reply_markup=render.date_keyboard(data.get("dialog", "")))


@router.message(VisitDialog.kind, cadre_only, NOT_COMMAND)
async def on_kind_input(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await message.answer(render.ask_kind_text(), reply_markup=render.kind_keyboard(data.get("dialog", "")))


@router.message(VisitDialog.notes, cadre_only, F.text, NOT_COMMAND)
async def on_notes(message: Message, session: AsyncSession, state: FSMContext) -> None:
    notes = (message.text or "").strip()
    if not notes:
        await message.answer(render.notes_not_text_text())
        return
    if len(notes) > NOTES_MAX:
        await message.answer(render.notes_too_long_text(len(notes), NOTES_MAX))
        return
    data = await _progress(session, state, VisitDialog.location, notes=notes)
    await message.answer(render.ask_location_text(), reply_markup=render.skip_keyboard(data["dialog"]))


@router.message(VisitDialog.notes, cadre_only, NOT_COMMAND)
async def on_notes_not_text(message: Message) -> None:
    await message.answer(render.notes_not_text_text())


@router.message(VisitDialog.location, cadre_only, F.location)
async def on_location(message: Message, session: AsyncSession, state: FSMContext) -> None:
    location = message.location
    if location is None:  # pragma: no cover - the filter guarantees it
        return
    data = await _progress(session, state, VisitDialog.photo, latitude=float(location.latitude),
                           longitude=float(location.longitude))
    await message.answer(render.ask_photo_text(), reply_markup=render.skip_keyboard(data["dialog"]))


@router.message(VisitDialog.location, cadre_only, NOT_COMMAND)
async def on_location_other(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await message.answer(render.location_expected_text(), reply_markup=render.skip_keyboard(data.get("dialog", "")))


@router.message(VisitDialog.photo, cadre_only, F.photo)
async def on_photo(message: Message, session: AsyncSession, state: FSMContext, i18n: I18n) -> None:
    largest = max(message.photo or [], key=lambda p: p.width * p.height)
    await _progress(session, state, VisitDialog.confirm, photo=largest.file_id)
    await _send_summary(message.answer, session, state, i18n.current_locale)


@router.message(VisitDialog.photo, cadre_only, NOT_COMMAND)
async def on_photo_other(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await message.answer(render.photo_expected_text(), reply_markup=render.skip_keyboard(data.get("dialog", "")))


@router.message(VisitDialog.confirm, cadre_only, NOT_COMMAND)
async def on_confirm_input(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await message.answer(render.buttons_expected_text(), reply_markup=render.summary_keyboard(data.get("dialog", "")))


# ------------------------------------------------------------ the household's answer


@router.callback_query(ConfirmCB.filter())
async def on_household_answer(
    query: CallbackQuery, callback_data: ConfirmCB, session: AsyncSession, access: Access,
    account: Account | None, bot: Bot,
) -> None:
    if callback_data.yes not in (0, 1) or account is None:
        await query.answer(render.stale_dialog_text(), show_alert=True)
        return
    chat_id = account.chat_id
    status = await answer_visit(session, access, callback_data.id, callback_data.yes == 1, clock())
    if status is AnswerStatus.FORBIDDEN:
        await query.answer(render.not_your_visit_text(), show_alert=True)
    elif status is AnswerStatus.ALREADY:
        await query.answer(render.already_answered_text(), show_alert=True)
    elif status is AnswerStatus.CONFIRMED:
        await query.answer()
        await bot.send_message(chat_id, render.ask_rating_text(), reply_markup=render.rating_keyboard(callback_data.id))
    else:
        await query.answer()
        await bot.send_message(chat_id, render.denied_text())


@router.callback_query(RateCB.filter())
async def on_rating(
    query: CallbackQuery, callback_data: RateCB, session: AsyncSession, access: Access,
    account: Account | None, bot: Bot,
) -> None:
    if account is None:
        await query.answer(render.stale_dialog_text(), show_alert=True)
        return
    chat_id = account.chat_id
    status = await rate_visit(session, access, callback_data.id, callback_data.stars)
    if status is RateStatus.RATED:
        await query.answer()
        await bot.send_message(chat_id, render.rated_text(callback_data.stars))
        return
    text = {
        RateStatus.FORBIDDEN: render.not_your_visit_text,
        RateStatus.OUT_OF_RANGE: render.rating_range_text,
        RateStatus.ALREADY: render.already_rated_text,
        RateStatus.NOT_CONFIRMED: render.rate_after_confirm_text,
    }[status]()
    await query.answer(text, show_alert=True)


# ------------------------------------------------------------------------- /flags


async def _flags_reply(session: AsyncSession, access: Access, settings: Settings, locale: str,
                       page: int) -> tuple[str, Any] | None:
    viewer = await flags_viewer(session, access)
    if viewer is None:
        return None
    await expire_confirmations(session, clock())
    await session.commit()
    result = await flagged_page(session, viewer, page)
    if result.total == 0:
        return render.no_flags_text(), None
    days = settings.rules.confirmation.answer_within_days
    return (
        render.flags_text(result.rows, result.total, result.page, result.pages, days, locale),
        render.flags_keyboard(result.page, result.pages),
    )


@router.message(Command("flags"))
async def cmd_flags(message: Message, session: AsyncSession, access: Access, settings: Settings,
                    i18n: I18n) -> None:
    reply = await _flags_reply(session, access, settings, i18n.current_locale, 0)
    if reply is None:
        await message.answer(render.flags_refused_text())
        return
    text, markup = reply
    await message.answer(text, reply_markup=markup)


@router.callback_query(FlagsCB.filter())
async def on_flags_page(query: CallbackQuery, callback_data: FlagsCB, session: AsyncSession, access: Access,
                        settings: Settings, i18n: I18n, bot: Bot) -> None:
    reply = await _flags_reply(session, access, settings, i18n.current_locale, callback_data.page)
    if reply is None or query.message is None:
        await query.answer(render.flags_refused_text(), show_alert=True)
        return
    text, markup = reply
    await query.answer()
    try:
        await bot.edit_message_text(text, chat_id=query.message.chat.id, message_id=query.message.message_id,
                                    reply_markup=markup)
    except TelegramBadRequest:  # not modified (a double press)
        pass
