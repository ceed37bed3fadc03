"""/broadcast (admin): compose, choose the audience, preview, send now / later / to me
first, confirm; /broadcasts: the admin's broadcasts with progress and 取消.

The dialog: text (1–4096 characters; kept as the message's HTML so the admin's formatting
survives and the HTML is valid) → optional photo or document (跳过) → optional Korean and
English texts (下一步) → role → region (the admin's scope, drilled down by buttons, never
above it) → household filters (households only) → preview (the message as it will look and
the exact recipient count) → time (立即发送, 今天20:00, 明天08:00/09:00, a typed
`2026-12-01 09:00`, 先发给我测试, or 发给测试账号: typed Telegram ids / @usernames within the
scope, or 用上次的名单; the test goes to them and the admin, then back to the time) →
confirmation. The region step pages the children 20 at a time (上一页/下一页; a forged page
is clamped). State data is JSON only (strings, ints, ISO times). /cancel leaves it at any
step; /broadcast clears any other dialog first. Every press re-checks role and scope in the
database (callback data can be forged); the clock is `notifications.broadcasts.clock`
(monkeypatched by tests).
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

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
from notifications import broadcasts as service
from notifications import broadcasts_render as render
from notifications.broadcasts_render import (
    BcFilterCB,
    BcListCB,
    BcRegionCB,
    BcRegionPageCB,
    BcRoleCB,
    BcStepCB,
    BcWhenCB,
)
from storage.enums import HouseholdStatus, PovertyCause, Role
from storage.models import Account, Region
from storage.repositories.broadcasts import ROLES, Audience, AudienceError, BroadcastRepository

router = Router(name="broadcasts")

TIME_RE = re.compile(r"^\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?\s*(\d{1,2})[:：](\d{2})\s*$")
CAUSE_BITS = {int(cause) for cause in PovertyCause}


class BroadcastDialog(StatesGroup):
    text = State()
    media = State()
    langs = State()
    lang_text = State()
    role = State()
    region = State()
    filters = State()
    when = State()
    test_to = State()
    confirm = State()


def _is_admin(access: Access, account: Account | None) -> bool:
    return access.role is Role.ADMIN and account is not None and access.region_path is not None


# ------------------------------------------------------------------ /cancel, /broadcast


@router.message(StateFilter(BroadcastDialog), Command("cancel"))
async def on_cancel(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await state.clear()
    await session.commit()
    await message.answer(render.cancelled_text())


@router.callback_query(StateFilter(BroadcastDialog), BcStepCB.filter(F.action == "cancel"))
async def on_cancel_pressed(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    await state.clear()
    await session.commit()
    await query.answer()
    if query.message is not None:
        await query.message.answer(render.cancelled_text())


@router.message(Command("broadcast"))
async def cmd_broadcast(
    message: Message, session: AsyncSession, access: Access, account: Account | None, state: FSMContext
) -> None:
    if not _is_admin(access, account):
        await message.answer(render.admins_only_text())
        return
    await state.clear()  # leave any other dialog
    await state.set_state(BroadcastDialog.text)
    await session.commit()
    await message.answer(render.ask_text_text())


# -------------------------------------------------------------------------- text


@router.message(BroadcastDialog.text, F.text, ~F.text.startswith("/"))
async def on_text(message: Message, session: AsyncSession, state: FSMContext) -> None:
    text = message.text or ""
    if not text.strip():
        await message.answer(render.text_expected_text())
        return
    limit = service.text_problem(len(text), has_media=False)
    if limit is not None:
        await message.answer(render.text_too_long_text(len(text), limit))
        return
    await state.update_data(bc_texts={"zh_Hans": message.html_text}, bc_lens={"zh_Hans": len(text)})
    await state.set_state(BroadcastDialog.media)
    await session.commit()
    await message.answer(render.ask_media_text(), reply_markup=render.skip_keyboard())


@router.message(BroadcastDialog.text, ~F.text.startswith("/"))
async def on_text_expected(message: Message) -> None:
    await message.answer(render.text_expected_text())


# ------------------------------------------------------------------------- media


async def _set_media(message: Message, session: AsyncSession, state: FSMContext, photo: str | None,
                     document: str | None) -> None:
    data = await state.get_data()
    if any(service.text_problem(n, has_media=True) for n in (data.get("bc_lens") or {}).values()):
        await message.answer(render.caption_too_long_text(service.CAPTION_MAX), reply_markup=render.skip_keyboard())
        return
    await state.update_data(bc_photo=photo, bc_document=document)
    await _ask_languages(message, session, state)


@router.message(BroadcastDialog.media, F.photo)
async def on_photo(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await _set_media(message, session, state, message.photo[-1].file_id, None)


@router.message(BroadcastDialog.media, F.document)
async def on_document(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await _set_media(message, session, state, None, message.document.file_id)


@router.callback_query(BroadcastDialog.media, BcStepCB.filter(F.action == "skip"))
async def on_skip_media(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    await query.answer()
    if query.message is not None:
        await state.update_data(bc_photo=None, bc_document=None)
        await _ask_languages(query.message, session, state)


@router.message(BroadcastDialog.media, ~F.text.startswith("/"))
async def on_media_expected(message: Message, session: AsyncSession, state: FSMContext) -> None:
    if (message.text or "").strip() in {"跳过", _("跳过")}:
        await state.update_data(bc_photo=None, bc_document=None)
        await _ask_languages(message, session, state)
        return
    await message.answer(render.media_expected_text(), reply_markup=render.skip_keyboard())


# --------------------------------------------------------------------- languages


async def _ask_languages(message: Message, session: AsyncSession, state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_state(BroadcastDialog.langs)
    await session.commit()
    done = set(data.get("bc_texts") or {}) - {"zh_Hans"}
    await message.answer(render.ask_languages_text(), reply_markup=render.languages_keyboard(done))


@router.callback_query(BroadcastDialog.langs, BcStepCB.filter(F.action.in_({"lang_ko", "lang_en"})))
async def on_language(query: CallbackQuery, callback_data: BcStepCB, session: AsyncSession, state: FSMContext) -> None:
    code = callback_data.action.removeprefix("lang_")
    await state.update_data(bc_lang=code)
    await state.set_state(BroadcastDialog.lang_text)
    await session.commit()
    await query.answer()
    if query.message is not None:
        await query.message.answer(render.ask_language_text(code))


@router.message(BroadcastDialog.lang_text, F.text, ~F.text.startswith("/"))
async def on_language_text(message: Message, session: AsyncSession, state: FSMContext) -> None:
    data = await state.get_data()
    code = data.get("bc_lang")
    text = message.text or ""
    if code not in service.EXTRA_LOCALES or not text.strip():
        await message.answer(render.text_expected_text())
        return
    has_media = bool(data.get("bc_photo") or data.get("bc_document"))
    limit = service.text_problem(len(text), has_media)
    if limit is not None:
        await message.answer(render.text_too_long_text(len(text), limit))
        return
    texts = dict(data.get("bc_texts") or {})
    lens = dict(data.get("bc_lens") or {})
    texts[code], lens[code] = message.html_text, len(text)
    await state.update_data(bc_texts=texts, bc_lens=lens, bc_lang=None)
    await _ask_languages(message, session, state)


@router.message(BroadcastDialog.lang_text, ~F.text.startswith("/"))
async def on_language_text_expected(message: Message) -> None:
    await message.answer(render.text_expected_text())


@router.callback_query(BroadcastDialog.langs, BcStepCB.filter(F.action == "next"))
async def on_languages_done(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    await query.answer()
    if query.message is not None:
        await _ask_role(query.message, session, state)


@router.message(BroadcastDialog.langs, ~F.text.startswith("/"))
async def on_languages_expected(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    done = set(data.get("bc_texts") or {}) - {"zh_Hans"}
    await message.answer(render.role_expected_text(), reply_markup=render.languages_keyboard(done))


# ------------------------------------------------------------------ role, region


async def _ask_role(message: Message, session: AsyncSession, state: FSMContext) -> None:
    await state.set_state(BroadcastDialog.role)
    await session.commit()
    await message.answer(render.ask_role_text(), reply_markup=render.role_keyboard())


@router.callback_query(BroadcastDialog.role, BcRoleCB.filter())
async def on_role(
    query: CallbackQuery, callback_data: BcRoleCB, session: AsyncSession, access: Access,
    account: Account | None, state: FSMContext, settings: Settings,
) -> None:
    if not _is_admin(access, account) or callback_data.role not in ROLES or query.message is None:
        await query.answer(render.stale_text(), show_alert=True)
        return
    root = await BroadcastRepository(session).region_by_path(access.region_path)
    await state.update_data(bc_aud=Audience(role=callback_data.role, region_path=access.region_path).to_json(),
                            bc_region=root.id if root else 0)
    await query.answer()
    if root is None:  # the scope has no region row (an empty registry): use it as is
        await _after_region(query.message, session, access, state, settings)
        return
    await state.set_state(BroadcastDialog.region)
    await session.commit()
    shown = await service.region_page(session, root.id, 0)
    await query.message.answer(
        render.region_text(root.path, shown.page, shown.pages),
        reply_markup=render.region_keyboard(shown.children, False, root.id, shown.page, shown.pages),
    )


@router.message(BroadcastDialog.role, ~F.text.startswith("/"))
async def on_role_expected(message: Message) -> None:
    await message.answer(render.role_expected_text(), reply_markup=render.role_keyboard())


@router.callback_query(BroadcastDialog.region, BcRegionCB.filter())
async def on_region(
    query: CallbackQuery, callback_data: BcRegionCB, session: AsyncSession, access: Access,
    account: Account | None, state: FSMContext, bot: Bot, settings: Settings,
) -> None:
    if not _is_admin(access, account) or query.message is None:
        await query.answer(render.stale_text(), show_alert=True)
        return
    repo = BroadcastRepository(session)
    data = await state.get_data()
    current = await repo.region(int(data.get("bc_region") or 0))
    if current is None or not service.within(current.path, access.region_path):
        await query.answer(render.stale_text(), show_alert=True)
        return
    if callback_data.action == "ok":
        audience = Audience.from_json(data.get("bc_aud"))
        await state.update_data(bc_aud={**audience.to_json(), "region_path": current.path})
        await query.answer()
        await _after_region(query.message, session, access, state, settings)
        return
    if callback_data.action == "in":
        target = await repo.region(callback_data.id)
    elif callback_data.action == "up":
        target = await repo.region(current.parent_id) if current.parent_id else None
    else:
        target = None
    if target is None or not service.within(target.path, access.region_path):
        await query.answer(render.out_of_scope_text(), show_alert=True)
        return
    await _show_region(query, session, access, state, bot, target, 0)


@router.callback_query(BroadcastDialog.region, BcRegionPageCB.filter())
async def on_region_page(
    query: CallbackQuery, callback_data: BcRegionPageCB, session: AsyncSession, access: Access,
    account: Account | None, state: FSMContext, bot: Bot,
) -> None:
    """上一页/下一页 of the region picker; the region is re-checked, the page clamped."""
    if not _is_admin(access, account) or query.message is None:
        await query.answer(render.stale_text(), show_alert=True)
        return
    target = await BroadcastRepository(session).region(callback_data.id)
    if target is None or not service.within(target.path, access.region_path):
        await query.answer(render.out_of_scope_text(), show_alert=True)
        return
    await _show_region(query, session, access, state, bot, target, callback_data.page)


async def _show_region(query: CallbackQuery, session: AsyncSession, access: Access, state: FSMContext, bot: Bot,
                       target: Region, page: int) -> None:
    """Make `target` the current region and show a page of its children in place."""
    await state.update_data(bc_region=target.id)
    await session.commit()
    await query.answer()
    shown = await service.region_page(session, target.id, page)
    markup = render.region_keyboard(shown.children, target.path != access.region_path, target.id, shown.page,
                                    shown.pages)
    text = render.region_text(target.path, shown.page, shown.pages)
    try:
        await bot.edit_message_text(
            text=text, chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=markup,
        )
    except TelegramBadRequest as exc:
        if "message is not modified" not in str(exc):  # e.g. the same page again: nothing to show
            await query.message.answer(text, reply_markup=markup)


@router.message(BroadcastDialog.region, ~F.text.startswith("/"))
async def on_region_expected(message: Message) -> None:
    await message.answer(render.role_expected_text())


async def _after_region(
    message: Message, session: AsyncSession, access: Access, state: FSMContext, settings: Settings
) -> None:
    data = await state.get_data()
    audience = Audience.from_json(data.get("bc_aud"))
    if audience.role == "household":
        await state.set_state(BroadcastDialog.filters)
        await session.commit()
        await message.answer(render.ask_filters_text(), reply_markup=render.filters_keyboard(audience))
        return
    await _preview(message, session, access, state, settings)


# ----------------------------------------------------------------------- filters


@router.callback_query(BroadcastDialog.filters, BcFilterCB.filter())
async def on_filter(
    query: CallbackQuery, callback_data: BcFilterCB, session: AsyncSession, access: Access,
    account: Account | None, state: FSMContext, bot: Bot, settings: Settings,
) -> None:
    if not _is_admin(access, account) or query.message is None:
        await query.answer(render.stale_text(), show_alert=True)
        return
    data = await state.get_data()
    try:
        audience = Audience.from_json(data.get("bc_aud"))
    except AudienceError:
        await query.answer(render.stale_text(), show_alert=True)
        return
    fields = audience.to_json()
    kind, value = callback_data.kind, callback_data.value
    if kind == "done":
        await query.answer()
        await _preview(query.message, session, access, state, settings)
        return
    if kind == "stu":
        fields["students"] = not audience.students
    elif kind == "st" and (value == "any" or value in {s.value for s in HouseholdStatus}):
        fields["status"] = None if value == "any" else value
    elif kind == "c" and value.isdigit() and int(value) in CAUSE_BITS:
        fields["causes"] = audience.causes ^ int(value)
    else:
        await query.answer(render.stale_text(), show_alert=True)
        return
    audience = Audience.from_json(fields)
    await state.update_data(bc_aud=audience.to_json())
    await session.commit()
    await query.answer()
    try:
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id,
            reply_markup=render.filters_keyboard(audience),
        )
    except TelegramBadRequest:
        pass


@router.message(BroadcastDialog.filters, ~F.text.startswith("/"))
async def on_filters_expected(message: Message, state: FSMContext) -> None:
    audience = Audience.from_json((await state.get_data()).get("bc_aud"))
    await message.answer(render.role_expected_text(), reply_markup=render.filters_keyboard(audience))


# ----------------------------------------------------------------------- preview


async def _checked_audience(session: AsyncSession, access: Access, data: dict) -> Audience | None:
    """The dialog's audience, re-checked against the admin's scope now."""
    try:
        audience = Audience.from_json(data.get("bc_aud"))
    except AudienceError:
        return None
    if access.region_path is None or not service.within(audience.path, access.region_path):
        return None
    return audience


async def _preview(
    message: Message, session: AsyncSession, access: Access, state: FSMContext, settings: Settings
) -> None:
    data = await state.get_data()
    audience = await _checked_audience(session, access, data)
    if audience is None:
        await state.clear()
        await session.commit()
        await message.answer(render.out_of_scope_text())
        return
    count = await service.count_audience(session, audience)
    if count == 0:
        await state.set_state(BroadcastDialog.role)
        await session.commit()
        await message.answer(render.empty_audience_text(), reply_markup=render.role_keyboard())
        return
    await state.set_state(BroadcastDialog.when)
    await session.commit()
    texts = data.get("bc_texts") or {}
    html = texts.get("zh_Hans", "")
    if data.get("bc_photo"):
        await message.answer_photo(data["bc_photo"], caption=html)
    elif data.get("bc_document"):
        await message.answer_document(data["bc_document"], caption=html)
    else:
        await message.answer(html)
    languages = [code for code in service.EXTRA_LOCALES if code in texts]
    has_media = bool(data.get("bc_photo") or data.get("bc_document"))
    await message.answer(render.preview_text(audience, count, has_media, languages),
                         reply_markup=render.when_keyboard(_tonight_open(settings)))


def _tonight_open(settings: Settings) -> bool:
    return service.clock() < _local_at(0, 20, settings)


@router.callback_query(StateFilter(BroadcastDialog.when, BroadcastDialog.confirm), BcStepCB.filter(F.action == "back"))
async def on_back_to_role(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    await query.answer()
    if query.message is not None:
        await _ask_role(query.message, session, state)


# ------------------------------------------------------------------------ timing


def _local_at(day_offset: int, hour: int, settings: Settings) -> datetime:
    today = service.clock().astimezone(settings.tz).date() + timedelta(days=day_offset)
    return datetime.combine(today, time(hour, 0), tzinfo=settings.tz)


def parse_time(text: str, settings: Settings) -> datetime | None:
    match = TIME_RE.match(text or "")
    if match is None:
        return None
    year, month, day, hour, minute = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day, hour, minute, tzinfo=settings.tz)
    except ValueError:
        return None


async def _ask_confirm(message: Message, session: AsyncSession, access: Access, state: FSMContext,
                       settings: Settings, i18n: I18n, at: datetime | None) -> None:
    now = service.clock()
    if at is not None and at <= now:
        await message.answer(render.past_time_text(), reply_markup=render.when_keyboard(_tonight_open(settings)))
        return
    data = await state.get_data()
    audience = await _checked_audience(session, access, data)
    if audience is None:
        await message.answer(render.out_of_scope_text())
        return
    count = await service.count_audience(session, audience)
    moment = at or now
    held = service.release_time(moment, settings.quiet_hours, settings.tz) != moment
    await state.update_data(bc_at=at.isoformat() if at else None)
    await state.set_state(BroadcastDialog.confirm)
    await session.commit()
    when = render.when_text(at, i18n.current_locale, settings.tz) if at else None
    await message.answer(render.confirm_text(count, when, held), reply_markup=render.confirm_keyboard())


@router.callback_query(BroadcastDialog.when, BcWhenCB.filter())
async def on_when(
    query: CallbackQuery, callback_data: BcWhenCB, session: AsyncSession, access: Access,
    account: Account | None, state: FSMContext, settings: Settings, i18n: I18n,
) -> None:
    if not _is_admin(access, account) or query.message is None:
        await query.answer(render.stale_text(), show_alert=True)
        return
    choice = callback_data.when
    if choice == "test":
        await _send_test(query, session, access, account, state, settings)
        return
    if choice == "named":
        await query.answer()
        await _ask_test_names(query.message, session, access, account, state)
        return
    times = {"now": None, "t20": _local_at(0, 20, settings), "m08": _local_at(1, 8, settings),
             "m09": _local_at(1, 9, settings)}
    if choice not in times:
        await query.answer(render.stale_text(), show_alert=True)
        return
    await query.answer()
    await _ask_confirm(query.message, session, access, state, settings, i18n, times[choice])


@router.message(BroadcastDialog.when, F.text, ~F.text.startswith("/"))
async def on_typed_time(
    message: Message, session: AsyncSession, access: Access, state: FSMContext, settings: Settings, i18n: I18n
) -> None:
    at = parse_time(message.text or "", settings)
    if at is None:
        await message.answer(render.bad_time_text(), reply_markup=render.when_keyboard(_tonight_open(settings)))
        return
    await _ask_confirm(message, session, access, state, settings, i18n, at)


@router.message(BroadcastDialog.when, ~F.text)
async def on_time_expected(message: Message, settings: Settings) -> None:
    await message.answer(render.bad_time_text(), reply_markup=render.when_keyboard(_tonight_open(settings)))


@router.callback_query(StateFilter(BroadcastDialog.confirm, BroadcastDialog.test_to),
                       BcStepCB.filter(F.action == "when"))
async def on_back_to_when(query: CallbackQuery, session: AsyncSession, state: FSMContext, settings: Settings) -> None:
    from_test = await state.get_state() == BroadcastDialog.test_to.state
    await state.set_state(BroadcastDialog.when)
    await session.commit()
    await query.answer()
    if query.message is not None:
        text = render.ask_when_text() if from_test else render.bad_time_text()
        await query.message.answer(text, reply_markup=render.when_keyboard(_tonight_open(settings)))


@router.message(BroadcastDialog.confirm, ~F.text.startswith("/"))
async def on_confirm_expected(message: Message) -> None:
    await message.answer(render.role_expected_text(), reply_markup=render.confirm_keyboard())


async def _create(session: AsyncSession, access: Access, account: Account, data: dict, settings: Settings,
                  at: datetime | None, test_only: bool, test_account_ids: list[int] | None = None,
                  ) -> service.Created | str:
    """Create the broadcast of the dialog's data; a refusal text instead when it cannot be."""
    audience = await _checked_audience(session, access, data)
    texts = data.get("bc_texts") or {}
    if audience is None:
        return render.out_of_scope_text()
    if not texts.get("zh_Hans"):
        return render.stale_text()
    try:
        return await service.create_broadcast(
            session, texts=texts, audience=audience, created_by=f"account:{account.id}", now=service.clock(),
            send_at=at, admin_account_id=account.id, scope=access.region_path, photo=data.get("bc_photo"),
            document=data.get("bc_document"), test_only=test_only, test_account_ids=test_account_ids or (),
            quiet_hours=settings.quiet_hours, tz=settings.tz,
        )
    except service.BroadcastError as exc:
        await session.rollback()
        return render.empty_audience_text() if exc.code == "empty" else render.out_of_scope_text()


async def _send_test(query: CallbackQuery, session: AsyncSession, access: Access, account: Account,
                     state: FSMContext, settings: Settings) -> None:
    data = await state.get_data()
    created = await _create(session, access, account, data, settings, None, test_only=True)
    if isinstance(created, str):
        await query.answer(created, show_alert=True)
        return
    await session.commit()
    await query.answer()
    if query.message is not None:
        await query.message.answer(render.test_sent_text(created.broadcast_id),
                                   reply_markup=render.when_keyboard(_tonight_open(settings)))


# ------------------------------------------------------------ named test accounts


async def _ask_test_names(message: Message, session: AsyncSession, access: Access, account: Account,
                          state: FSMContext) -> None:
    remembered = await service.remembered_test_accounts(session, account.id, access.region_path)
    labels = [label for account_id, label in remembered.items() if account_id != account.id]
    await state.update_data(bc_last_test=bool(labels))
    await state.set_state(BroadcastDialog.test_to)
    await session.commit()
    await message.answer(render.ask_test_names_text(service.MAX_TEST_ACCOUNTS, labels),
                         reply_markup=render.test_names_keyboard(bool(labels)))


@router.message(BroadcastDialog.test_to, F.text, ~F.text.startswith("/"))
async def on_test_names(
    message: Message, session: AsyncSession, access: Access, account: Account | None, state: FSMContext,
    settings: Settings,
) -> None:
    if not _is_admin(access, account):
        await message.answer(render.admins_only_text())
        return
    names = service.split_names(message.text or "")
    limit = service.MAX_TEST_ACCOUNTS
    if not names:
        await message.answer(render.test_names_expected_text(limit), reply_markup=await _names_keyboard(state))
        return
    if len(names) > limit:
        await message.answer(render.too_many_names_text(limit), reply_markup=await _names_keyboard(state))
        return
    found = await service.resolve_test_names(session, names, access.region_path)
    await _send_named_test(message, session, access, account, state, settings, found)


@router.callback_query(BroadcastDialog.test_to, BcStepCB.filter(F.action == "last_test"))
async def on_last_test_names(
    query: CallbackQuery, session: AsyncSession, access: Access, account: Account | None, state: FSMContext,
    settings: Settings,
) -> None:
    if not _is_admin(access, account) or query.message is None:
        await query.answer(render.stale_text(), show_alert=True)
        return
    remembered = await service.remembered_test_accounts(session, account.id, access.region_path)
    remembered.pop(account.id, None)
    if not remembered:
        await query.answer(render.stale_text(), show_alert=True)
        return
    await query.answer()
    found = service.TestRecipients(accepted=remembered)
    await _send_named_test(query.message, session, access, account, state, settings, found)


@router.message(BroadcastDialog.test_to, ~F.text.startswith("/"))
async def on_test_names_expected(message: Message, state: FSMContext) -> None:
    limit = service.MAX_TEST_ACCOUNTS
    await message.answer(render.test_names_expected_text(limit), reply_markup=await _names_keyboard(state))


async def _names_keyboard(state: FSMContext):
    """The names step's buttons; 用上次的名单 when a list was remembered at the step's start."""
    return render.test_names_keyboard(bool((await state.get_data()).get("bc_last_test")))


async def _send_named_test(message: Message, session: AsyncSession, access: Access, account: Account,
                           state: FSMContext, settings: Settings, found: service.TestRecipients) -> None:
    """The test to the accepted accounts and the admin; the names not found are listed. When
    none is accepted nothing is sent and the names are asked again."""
    not_found = render.names_not_found_text(found.rejected) if found.rejected else ""
    if not found.accepted:
        text = not_found + "\n" + render.test_names_expected_text(service.MAX_TEST_ACCOUNTS)
        await message.answer(text, reply_markup=await _names_keyboard(state))
        return
    data = await state.get_data()
    others = {account_id: label for account_id, label in found.accepted.items() if account_id != account.id}
    created = await _create(session, access, account, data, settings, None, test_only=True,
                            test_account_ids=list(others))
    if isinstance(created, str):
        await message.answer(created, reply_markup=await _names_keyboard(state))
        return
    await state.set_state(BroadcastDialog.when)
    await session.commit()
    if others:
        text = render.named_test_sent_text(created.broadcast_id, list(others.values()))
    else:
        text = render.test_sent_text(created.broadcast_id)
    if not_found:
        text += "\n" + not_found
    await message.answer(text, reply_markup=render.when_keyboard(_tonight_open(settings)))


@router.callback_query(BroadcastDialog.confirm, BcStepCB.filter(F.action == "confirm"))
async def on_confirm(
    query: CallbackQuery, session: AsyncSession, access: Access, account: Account | None,
    state: FSMContext, settings: Settings, i18n: I18n, bot: Bot,
) -> None:
    if not _is_admin(access, account):
        await query.answer(render.stale_text(), show_alert=True)
        return
    data = await state.get_data()
    at = datetime.fromisoformat(data["bc_at"]) if data.get("bc_at") else None
    chat_id, locale = account.chat_id, i18n.current_locale
    created = await _create(session, access, account, data, settings, at, test_only=False)
    if isinstance(created, str):
        await state.set_state(BroadcastDialog.role)
        await session.commit()
        await query.answer()
        await bot.send_message(chat_id, created, reply_markup=render.role_keyboard())
        return
    await state.clear()
    await session.commit()
    await query.answer()
    started = created.state.value == "sending"
    when = None if started else render.when_text(created.send_at, locale, settings.tz)
    await bot.send_message(chat_id, render.created_text(created.broadcast_id, created.recipients, when))


@router.callback_query(BcStepCB.filter())
@router.callback_query(BcRoleCB.filter())
@router.callback_query(BcRegionCB.filter())
@router.callback_query(BcRegionPageCB.filter())
@router.callback_query(BcFilterCB.filter())
@router.callback_query(BcWhenCB.filter())
async def on_stale(query: CallbackQuery) -> None:
    """A dialog button outside its step (an old message, or forged)."""
    await query.answer(render.stale_text(), show_alert=True)


# -------------------------------------------------------------------- /broadcasts


async def _list(session: AsyncSession, access: Access, i18n: I18n, settings: Settings, page: int):
    repo = BroadcastRepository(session)
    total, items = await repo.page(access.region_path, page, render.PAGE_SIZE)
    pages = max(1, -(-total // render.PAGE_SIZE))
    if page >= pages and total:
        page = pages - 1
        total, items = await repo.page(access.region_path, page, render.PAGE_SIZE)
    counts = await repo.progress([b.id for b in items])
    text = render.list_text(items, counts, total, page, pages, i18n.current_locale, settings.tz)
    cancellable = [b.id for b in items if b.state.value in ("scheduled", "sending")]
    return text, render.list_keyboard(cancellable, page, pages)


@router.message(Command("broadcasts"))
async def cmd_broadcasts(
    message: Message, session: AsyncSession, access: Access, account: Account | None, i18n: I18n, settings: Settings
) -> None:
    if not _is_admin(access, account):
        await message.answer(render.admins_only_text())
        return
    text, markup = await _list(session, access, i18n, settings, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(BcListCB.filter())
async def on_list(
    query: CallbackQuery, callback_data: BcListCB, session: AsyncSession, access: Access,
    account: Account | None, i18n: I18n, settings: Settings, bot: Bot,
) -> None:
    if not _is_admin(access, account) or query.message is None:
        await query.answer(render.admins_only_text(), show_alert=True)
        return
    page = 0
    if callback_data.action == "cancel":
        done = await service.cancel_broadcast(
            session, callback_data.id, f"account:{account.id}", access.region_path, service.clock()
        )
        if not done:
            await session.rollback()
            await query.answer(render.cancel_refused_text(), show_alert=True)
            return
        await session.commit()
        await query.answer(render.cancel_done_text(callback_data.id))
    elif callback_data.action == "page" and 0 <= callback_data.id < 100_000:
        page = callback_data.id
        await query.answer()
    else:
        await query.answer(render.cancel_refused_text(), show_alert=True)
        return
    text, markup = await _list(session, access, i18n, settings, page)
    try:
        await bot.edit_message_text(text=text, chat_id=account.chat_id, message_id=query.message.message_id,
                                    reply_markup=markup)
    except TelegramBadRequest:
        await bot.send_message(account.chat_id, text, reply_markup=markup)
