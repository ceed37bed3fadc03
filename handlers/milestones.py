"""Plan milestones: /milestone (cadre adds one, or marks one done with evidence), /plan
(a household's own plan).

/milestone is a dialog (`MilestoneDialog`): menu → add: household → category → title →
due date → confirm; done: household → open item → evidence (text and/or photo) → confirm.
State data holds ids, short codes, ISO dates and text only (JSON: it may live in SQL).
Every press re-checks in the database that the cadre may act for the household; a
forged or stale press gets an alert and writes nothing. /cancel leaves at any step.

The 标记完成 button of a milestone reminder or overdue alert (`MsDoneStartCB`) enters the
done branch at the evidence step for its item, replacing any dialog in progress (as
/milestone does); an unknown, foreign or already done item gets an alert instead and
leaves the current dialog alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access, RoleFilter
from bot.config import Settings
from bot.work import clock as work_clock
from bot.work import milestones_render as render
from bot.work.milestones import (
    EVIDENCE_MAX,
    AddStatus,
    DoneStartStatus,
    DoneStatus,
    DueProblem,
    MilestoneService,
    TitleProblem,
    clean_title,
    due_problem,
    latest_due,
    preset_due,
    read_due,
    tell_household,
    title_problem,
)
from bot.work.milestones_render import (
    MsActionCB,
    MsCategoryCB,
    MsDoneCB,
    MsDoneStartCB,
    MsDueCB,
    MsHouseholdCB,
    MsMenuCB,
    MsPageCB,
    MsPickCB,
)
from bot.work.rules import local_today
from storage.enums import MilestoneCategory, Role
from storage.models import Account

router = Router(name="milestones")

IS_CADRE = RoleFilter(Role.CADRE)


def clock() -> datetime:
    """Now, aware UTC (bot/work/clock.py); tests of this feature monkeypatch this function."""
    return work_clock.now()


class MilestoneDialog(StatesGroup):
    menu = State()
    add_household = State()
    add_category = State()
    add_title = State()
    add_due = State()
    add_confirm = State()
    done_household = State()
    done_item = State()
    done_evidence = State()
    done_confirm = State()


BUTTON_STEPS = (
    MilestoneDialog.menu,
    MilestoneDialog.add_household,
    MilestoneDialog.add_category,
    MilestoneDialog.add_confirm,
    MilestoneDialog.done_household,
    MilestoneDialog.done_item,
    MilestoneDialog.done_confirm,
)


def _not_command(message: Message) -> bool:
    return not (message.text or "").startswith("/")


@dataclass
class _View:
    text: str
    markup: InlineKeyboardMarkup | None
    ends: bool = False  # the dialog cannot go on (nothing to choose, no longer allowed)


@dataclass
class _Dialog:
    """One update's view of the dialog: renders and (re-)asks the current step."""

    state: FSMContext
    session: AsyncSession
    access: Access
    settings: Settings
    i18n: I18n
    bot: Bot
    chat_id: int

    @property
    def cadre_id(self) -> int | None:
        return self.access.cadre_id if self.access.role is Role.CADRE else None

    @property
    def locale(self) -> str:
        return self.i18n.current_locale

    @property
    def service(self) -> MilestoneService:
        return MilestoneService(self.session)

    def today(self) -> date:
        return local_today(self.settings.tz, clock())

    async def view(self) -> _View:
        try:
            return await self._view()
        except (KeyError, TypeError, ValueError):  # state data not of this dialog's shape
            return _View(render.stale_text(), None, ends=True)

    async def _view(self) -> _View:
        current = await self.state.get_state()
        data = await self.state.get_data()
        service = self.service
        page = int(data.get("page", 0))
        if current == MilestoneDialog.menu.state:
            return _View(render.menu_text(), render.menu_keyboard())
        if current in (MilestoneDialog.add_household.state, MilestoneDialog.done_household.state):
            done = current == MilestoneDialog.done_household.state
            choices = await service.households(self.cadre_id) if self.cadre_id is not None else []
            if not choices:
                return _View(render.no_households_text(), None, ends=True)
            if done:
                choices = [c for c in choices if c.open_items]
                if not choices:
                    return _View(render.no_open_items_anywhere_text(), None, ends=True)
            return _View(render.choose_household_text(done), render.households_keyboard(choices, page, done=done))
        household = await service.household(self.cadre_id, data.get("hh"))
        if household is None:
            return _View(render.forbidden_text(), None, ends=True)
        if current == MilestoneDialog.add_category.state:
            return _View(render.choose_category_text(household.head_name), render.categories_keyboard())
        if current == MilestoneDialog.add_title.state:
            return _View(render.ask_title_text(MilestoneCategory(data["cat"])), render.cancel_keyboard())
        if current == MilestoneDialog.add_due.state:
            return _View(render.ask_due_text(data["title"]), render.due_keyboard(self.today(), self.locale))
        if current == MilestoneDialog.add_confirm.state:
            text = render.add_summary_text(
                household.head_name, MilestoneCategory(data["cat"]), data["title"],
                date.fromisoformat(data["due"]), self.locale,
            )
            return _View(text, render.add_confirm_keyboard())
        if current == MilestoneDialog.done_item.state:
            items = await service.open_items(self.cadre_id, household.id) or []
            if not items:
                return _View(render.household_no_open_items_text(), None, ends=True)
            return _View(render.choose_item_text(household.head_name),
                         render.items_keyboard(items, self.today(), self.locale, page))
        item = await service.item_for_cadre(self.cadre_id, data.get("ms"))
        if item is None:
            return _View(render.forbidden_text(), None, ends=True)
        if item.completed_at is not None:
            return _View(render.already_done_text(), None, ends=True)
        text_evidence, photo = data.get("text") or "", data.get("photo") or ""
        if current == MilestoneDialog.done_evidence.state:
            if text_evidence or photo:
                return _View(render.evidence_received_text(bool(text_evidence), bool(photo)),
                             render.evidence_keyboard())
            return _View(render.ask_evidence_text(item.title), render.cancel_keyboard())
        if current == MilestoneDialog.done_confirm.state:
            return _View(render.done_summary_text(household.head_name, item.title, text_evidence or None, bool(photo)),
                         render.done_confirm_keyboard(item.id))
        return _View(render.stale_text(), None, ends=True)

    async def ask(self, note: str | None = None) -> None:
        """Send the current step's prompt (after `note`, e.g. why the last input was refused)."""
        view = await self.view()
        if view.ends:
            await self.state.clear()
        # The state is written in this update's transaction (bot/fsm_storage.py): commit it
        # before the prompt is shown, as the next update may come as soon as it is.
        await self.session.commit()
        text = f"{note}\n\n{view.text}" if note else view.text
        await self.bot.send_message(self.chat_id, text, reply_markup=view.markup)

    async def go(self, step: State, note: str | None = None, **data: object) -> None:
        if data:
            await self.state.update_data(**data)
        await self.state.set_state(step)
        await self.ask(note)


async def _end(state: FSMContext, session: AsyncSession) -> None:
    """Leave the dialog, committed before anything is shown (see `_Dialog.ask`)."""
    await state.clear()
    await session.commit()


def _dialog(state: FSMContext, session: AsyncSession, access: Access, settings: Settings, i18n: I18n,
            bot: Bot, account: Account) -> _Dialog:
    return _Dialog(state, session, access, settings, i18n, bot, account.chat_id)


# ----------------------------------------------------------------- commands


@router.message(StateFilter(MilestoneDialog), Command("cancel"))
async def on_cancel(message: Message, state: FSMContext, session: AsyncSession) -> None:
    await _end(state, session)
    await message.answer(render.cancelled_text())


@router.message(Command("milestone"), IS_CADRE)
async def cmd_milestone(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    await state.clear()  # whatever dialog was open ends here
    await _dialog(state, session, access, settings, i18n, bot, account).go(MilestoneDialog.menu)


@router.message(Command("plan"), RoleFilter(Role.HOUSEHOLD))
async def cmd_plan(message: Message, session: AsyncSession, access: Access, settings: Settings, i18n: I18n) -> None:
    if access.household_id is None:
        return
    today = local_today(settings.tz, clock())
    locale = i18n.current_locale
    items = await MilestoneService(session).plan(access.household_id, today)
    if not items:
        await message.answer(render.no_plan_text())
        return
    texts = [
        render.plan_item_text(
            item, today, locale,
            item.completed_at.astimezone(settings.tz).date() if item.completed_at is not None else None,
        )
        for item in items
    ]
    for piece in render.plan_messages(texts):
        await message.answer(piece)


@router.message(Command("plan"), RoleFilter(Role.CADRE, Role.ADMIN))
async def cmd_plan_staff(message: Message) -> None:
    await message.answer(render.plan_hint_for_staff_text())


# ------------------------------------------------------------------ buttons


@router.callback_query(MsActionCB.filter(F.action == "cancel"), StateFilter(MilestoneDialog))
async def on_cancel_button(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, bot: Bot, account: Account
) -> None:
    await _end(state, session)
    await query.answer()
    await bot.send_message(account.chat_id, render.cancelled_text())


@router.callback_query(MsMenuCB.filter(), MilestoneDialog.menu, IS_CADRE)
async def on_menu(
    query: CallbackQuery, callback_data: MsMenuCB, state: FSMContext, session: AsyncSession, access: Access,
    settings: Settings, i18n: I18n, bot: Bot, account: Account,
) -> None:
    steps = {"add": MilestoneDialog.add_household, "done": MilestoneDialog.done_household}
    step = steps.get(callback_data.action)
    if step is None:
        await query.answer(render.invalid_choice_text(), show_alert=True)
        return
    await query.answer()
    await _dialog(state, session, access, settings, i18n, bot, account).go(step, page=0)


@router.callback_query(
    MsPageCB.filter(),
    StateFilter(MilestoneDialog.add_household, MilestoneDialog.done_household, MilestoneDialog.done_item),
    IS_CADRE,
)
async def on_page(
    query: CallbackQuery, callback_data: MsPageCB, state: FSMContext, session: AsyncSession, access: Access,
    settings: Settings, i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    await state.update_data(page=max(0, min(callback_data.page, 10_000)))
    view = await dialog.view()
    await session.commit()
    await query.answer()
    if view.ends or query.message is None:
        await dialog.ask()
        return
    await bot.edit_message_reply_markup(
        chat_id=account.chat_id, message_id=query.message.message_id, reply_markup=view.markup
    )


@router.callback_query(
    MsHouseholdCB.filter(), StateFilter(MilestoneDialog.add_household, MilestoneDialog.done_household), IS_CADRE
)
async def on_household(
    query: CallbackQuery, callback_data: MsHouseholdCB, state: FSMContext, session: AsyncSession,
    access: Access, settings: Settings, i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    household = await dialog.service.household(dialog.cadre_id, callback_data.id)
    if household is None:
        await query.answer(render.forbidden_text(), show_alert=True)
        return
    if await state.get_state() == MilestoneDialog.add_household.state:
        await query.answer()
        await dialog.go(MilestoneDialog.add_category, hh=household.id, page=0)
        return
    if not await dialog.service.open_items(dialog.cadre_id, household.id):
        await query.answer(render.household_no_open_items_text(), show_alert=True)
        return
    await query.answer()
    await dialog.go(MilestoneDialog.done_item, hh=household.id, page=0)


@router.callback_query(MsCategoryCB.filter(), MilestoneDialog.add_category, IS_CADRE)
async def on_category(
    query: CallbackQuery, callback_data: MsCategoryCB, state: FSMContext, session: AsyncSession,
    access: Access, settings: Settings, i18n: I18n, bot: Bot, account: Account,
) -> None:
    if callback_data.cat not in {c.value for c in MilestoneCategory}:
        await query.answer(render.invalid_choice_text(), show_alert=True)
        return
    await query.answer()
    await _dialog(state, session, access, settings, i18n, bot, account).go(
        MilestoneDialog.add_title, cat=callback_data.cat
    )


@router.callback_query(MsDueCB.filter(), MilestoneDialog.add_due, IS_CADRE)
async def on_due_preset(
    query: CallbackQuery, callback_data: MsDueCB, state: FSMContext, session: AsyncSession, access: Access,
    settings: Settings, i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    today = dialog.today()
    due = preset_due(callback_data.key, today)
    if due is None or due_problem(due, today) is not None:
        await query.answer(render.invalid_choice_text(), show_alert=True)
        return
    await query.answer()
    await dialog.go(MilestoneDialog.add_confirm, due=due.isoformat())


@router.callback_query(MsActionCB.filter(F.action == "save"), MilestoneDialog.add_confirm, IS_CADRE)
async def on_save(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    data = await state.get_data()
    try:
        category = MilestoneCategory(data.get("cat"))
        due = date.fromisoformat(data.get("due") or "")
    except ValueError:
        await _end(state, session)
        await query.answer(render.stale_text(), show_alert=True)
        return
    today = dialog.today()
    outcome = await dialog.service.add(
        cadre_id=dialog.cadre_id, account_id=account.id, household_id=data.get("hh"), category=category,
        title=data.get("title") or "", due_date=due, today=today,
    )
    if outcome.status is AddStatus.FORBIDDEN:
        await _end(state, session)
        await query.answer(render.forbidden_text(), show_alert=True)
        return
    await query.answer()
    if outcome.status is AddStatus.SAVED:
        await _end(state, session)
        await bot.send_message(account.chat_id, render.added_text(clean_title(data["title"]), due, dialog.locale))
    elif outcome.status is AddStatus.DUPLICATE:
        await dialog.go(MilestoneDialog.add_title, render.title_duplicate_text(clean_title(data["title"])))
    elif outcome.status is AddStatus.BAD_DATE:
        await dialog.go(MilestoneDialog.add_due, render.due_past_text(today, dialog.locale))
    else:
        await dialog.go(MilestoneDialog.add_title, render.title_empty_text())


@router.callback_query(MsPickCB.filter(), MilestoneDialog.done_item, IS_CADRE)
async def on_pick(
    query: CallbackQuery, callback_data: MsPickCB, state: FSMContext, session: AsyncSession, access: Access,
    settings: Settings, i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    item = await dialog.service.item_for_cadre(dialog.cadre_id, callback_data.id)
    if item is None or item.household_id != (await state.get_data()).get("hh"):
        await query.answer(render.forbidden_text(), show_alert=True)
        return
    if item.completed_at is not None:
        await query.answer(render.already_done_text(), show_alert=True)
        return
    await query.answer()
    await dialog.go(MilestoneDialog.done_evidence, ms=item.id, text="", photo="")


@router.callback_query(MsActionCB.filter(F.action == "finish"), MilestoneDialog.done_evidence, IS_CADRE)
async def on_finish_evidence(
    query: CallbackQuery, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    data = await state.get_data()
    if not (data.get("text") or data.get("photo")):
        await query.answer(render.evidence_missing_text(), show_alert=True)
        return
    await query.answer()
    await _dialog(state, session, access, settings, i18n, bot, account).go(MilestoneDialog.done_confirm)


@router.callback_query(MsDoneCB.filter(), IS_CADRE)
async def on_done(
    query: CallbackQuery, callback_data: MsDoneCB, state: FSMContext, session: AsyncSession, access: Access,
    settings: Settings, i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    data = await state.get_data()
    if await state.get_state() != MilestoneDialog.done_confirm.state or data.get("ms") != callback_data.id:
        # a press on an old confirmation (double press, second device): say what is true
        item = await dialog.service.item_for_cadre(dialog.cadre_id, callback_data.id)
        done = item is not None and item.completed_at is not None
        await query.answer(render.already_done_text() if done else render.stale_text(), show_alert=True)
        return
    now = clock()
    outcome = await dialog.service.mark_done(
        cadre_id=dialog.cadre_id, account_id=account.id, milestone_id=callback_data.id,
        evidence_text=data.get("text"), evidence_photo_file_id=data.get("photo"), now=now,
    )
    if outcome.status is DoneStatus.NO_EVIDENCE:
        await state.set_state(MilestoneDialog.done_evidence)
        await session.commit()
        await query.answer(render.evidence_missing_text(), show_alert=True)
        return
    await _end(state, session)
    if outcome.status is DoneStatus.ALREADY:
        await query.answer(render.already_done_text(), show_alert=True)
        return
    if outcome.status is not DoneStatus.DONE or outcome.household_id is None:
        await query.answer(render.forbidden_text(), show_alert=True)
        return
    await query.answer()
    title, completed_on = outcome.title or "", now.astimezone(settings.tz).date()
    told = await tell_household(
        session, bot, i18n, outcome.household_id,
        lambda locale: render.household_done_text(title, completed_on, locale),
    )
    await bot.send_message(account.chat_id, render.marked_done_text(title, told))


@router.callback_query(MsDoneStartCB.filter())
async def on_done_start(
    query: CallbackQuery, callback_data: MsDoneStartCB, state: FSMContext, session: AsyncSession,
    access: Access, settings: Settings, i18n: I18n, bot: Bot, account: Account | None,
) -> None:
    """标记完成 under a reminder: the done branch of the dialog at the evidence step."""
    cadre_id = access.cadre_id if access.role is Role.CADRE else None
    start = await MilestoneService(session).done_start(cadre_id, callback_data.id)
    item = start.item
    if start.status is DoneStartStatus.UNKNOWN:
        await query.answer(render.done_start_unknown_text(), show_alert=True)
        return
    if start.status is DoneStartStatus.ALREADY and item is not None and item.completed_at is not None:
        completed_on = item.completed_at.astimezone(settings.tz).date()
        await query.answer(render.done_start_already_text(item.title, completed_on, i18n.current_locale),
                           show_alert=True)
        return
    household = start.household
    if start.status is not DoneStartStatus.OK or item is None or household is None or account is None:
        await query.answer(render.forbidden_text(), show_alert=True)
        return
    await query.answer()
    await state.clear()  # whatever dialog was open ends here, as with /milestone
    await _dialog(state, session, access, settings, i18n, bot, account).go(
        MilestoneDialog.done_evidence, render.household_line_text(household.head_name),
        hh=item.household_id, ms=item.id, text="", photo="", page=0,
    )


for _factory in (MsMenuCB, MsHouseholdCB, MsPageCB, MsCategoryCB, MsDueCB, MsPickCB, MsActionCB, MsDoneCB):

    @router.callback_query(_factory.filter())
    async def on_stale(query: CallbackQuery) -> None:
        """A button of this dialog pressed at the wrong step (old message, forged, not a cadre)."""
        await query.answer(render.stale_text(), show_alert=True)


# ------------------------------------------------------------- typed input


@router.message(MilestoneDialog.add_title, F.text, _not_command, IS_CADRE)
async def on_title(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    title = clean_title(message.text)
    problem = title_problem(title)
    if problem is None:
        household_id = (await state.get_data()).get("hh")
        if household_id is not None and await dialog.service.title_taken(household_id, title):
            problem = TitleProblem.DUPLICATE
    if problem is TitleProblem.EMPTY:
        await dialog.ask(render.title_empty_text())
    elif problem is TitleProblem.TOO_LONG:
        await dialog.ask(render.title_too_long_text(len(title)))
    elif problem is TitleProblem.DUPLICATE:
        await dialog.ask(render.title_duplicate_text(title))
    else:
        await dialog.go(MilestoneDialog.add_due, title=title)


@router.message(MilestoneDialog.add_title, ~F.text, IS_CADRE)
async def on_title_not_text(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    await _dialog(state, session, access, settings, i18n, bot, account).ask(render.title_not_text_text())


@router.message(MilestoneDialog.add_due, F.text, _not_command, IS_CADRE)
async def on_due_text(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    today = dialog.today()
    due, problem = read_due(message.text or "", today)
    if problem is DueProblem.PAST:
        await dialog.ask(render.due_past_text(today, dialog.locale))
    elif problem is DueProblem.TOO_FAR:
        await dialog.ask(render.due_too_far_text(latest_due(today), dialog.locale))
    elif due is None:
        await dialog.ask(render.due_unreadable_text())
    else:
        await dialog.go(MilestoneDialog.add_confirm, due=due.isoformat())


@router.message(MilestoneDialog.add_due, ~F.text, IS_CADRE)
async def on_due_not_text(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    await _dialog(state, session, access, settings, i18n, bot, account).ask(render.due_not_text_text())


@router.message(MilestoneDialog.done_evidence, F.text | F.photo, _not_command, IS_CADRE)
async def on_evidence(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    dialog = _dialog(state, session, access, settings, i18n, bot, account)
    data = await state.get_data()
    text, photo = data.get("text") or "", data.get("photo") or ""
    added = (message.text if message.photo is None else message.caption) or ""
    added = added.strip()
    if added:
        text = f"{text}\n{added}" if text else added
    if len(text) > EVIDENCE_MAX:
        await dialog.ask(render.evidence_too_long_text())
        return
    if message.photo:
        photo = message.photo[-1].file_id  # the largest size
    await state.update_data(text=text, photo=photo)
    await dialog.ask()


@router.message(MilestoneDialog.done_evidence, ~F.text, IS_CADRE)
async def on_evidence_other(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    await _dialog(state, session, access, settings, i18n, bot, account).ask(render.evidence_bad_text())


@router.message(StateFilter(*BUTTON_STEPS), _not_command, IS_CADRE)
async def on_button_step_input(
    message: Message, state: FSMContext, session: AsyncSession, access: Access, settings: Settings,
    i18n: I18n, bot: Bot, account: Account,
) -> None:
    """Text or media where a button is expected: show the step's buttons again."""
    await _dialog(state, session, access, settings, i18n, bot, account).ask(render.use_buttons_text())
