"""/households (cadre: paired households; admin: households in scope), a household's card,
and /today (cadre: what is due today and this week). Thin: parse, call bot/work, reply.

Paging and the card edit the one list message. Every press re-checks in the database
that this user may see the household (callback data can be forged); households and the
public get /households and /today from the fallback router ("no such command"), like
every other role command.
"""

from __future__ import annotations

from datetime import date

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access, RoleFilter
from bot.config import Settings
from bot.work import households as service
from bot.work import households_render as render
from bot.work.households_render import HouseholdCardCB, HouseholdsPageCB
from bot.work.rules import local_today
from handlers.replies import show_in_place
from storage.enums import Role
from storage.models import Account

router = Router(name="households")


def _today(settings: Settings) -> date:
    return local_today(settings.tz, service.current_time())


@router.message(Command("households"), RoleFilter(Role.CADRE, Role.ADMIN))
async def cmd_households(
    message: Message, session: AsyncSession, access: Access, i18n: I18n, settings: Settings
) -> None:
    scope = service.scope_of(access)
    if scope is None:
        await message.answer(render.roles_only_text())
        return
    page = await service.list_page(session, scope, 0, _today(settings))
    await message.answer(render.list_text(page, i18n.current_locale), reply_markup=render.list_keyboard(page))


@router.callback_query(HouseholdsPageCB.filter())
async def on_page(
    query: CallbackQuery,
    callback_data: HouseholdsPageCB,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    scope = await _checked_scope(query, access, account, callback_data.page)
    if scope is None or account is None:
        return
    page = await service.list_page(session, scope, callback_data.page, _today(settings))
    await query.answer()
    await show_in_place(query, bot, account, render.list_text(page, i18n.current_locale), render.list_keyboard(page))


@router.callback_query(HouseholdCardCB.filter())
async def on_card(
    query: CallbackQuery,
    callback_data: HouseholdCardCB,
    session: AsyncSession,
    account: Account | None,
    access: Access,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    scope = await _checked_scope(query, access, account, callback_data.page)
    if scope is None or account is None:
        return
    card = await service.household_card(session, scope, callback_data.id, _today(settings))
    if card is None:
        await query.answer(render.not_allowed_text(), show_alert=True)
        return
    await query.answer()
    text = render.card_text(card, i18n.current_locale)
    await show_in_place(query, bot, account, text, render.card_keyboard(callback_data.page))


@router.message(Command("today"), RoleFilter(Role.CADRE))
async def cmd_today(message: Message, session: AsyncSession, access: Access, i18n: I18n, settings: Settings) -> None:
    now = service.current_time()
    today = local_today(settings.tz, now)
    if access.cadre_id is None:
        await message.answer(render.roles_only_text())
        return
    agenda = await service.agenda(session, access.cadre_id, today, now, settings.rules.visits)
    await message.answer(render.agenda_text(agenda, i18n.current_locale, settings.tz))


async def _checked_scope(
    query: CallbackQuery, access: Access, account: Account | None, page: int
) -> service.Scope | None:
    """The presser's scope, or None after alerting them (not a cadre or admin; a page
    number no list can have: forged)."""
    scope = service.scope_of(access)
    if scope is None or account is None:
        await query.answer(render.roles_only_text(), show_alert=True)
        return None
    if not 0 <= page <= service.MAX_PAGE:
        await query.answer(render.stale_text(), show_alert=True)
        return None
    return scope
