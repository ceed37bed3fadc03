"""/audit (admin): the latest admin actions in the admin's scope, 10 per page, ◀/▶.

Thin: the page comes from bot/reports/audit.py. The command is guarded by `RoleFilter`
(others get the fallback's "no such command" like every admin command). A page press
re-checks the role and scope of the presser (callback data can be forged or outlive a
binding); a forged cursor restarts at the newest page and never leaves the scope.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access, RoleFilter
from bot.config import Settings
from bot.reports import audit as service
from bot.reports.audit import AuditPageCB
from handlers.replies import show_in_place
from storage.enums import Role
from storage.models import Account

router = Router(name="reports_audit")


@router.message(Command("audit"), RoleFilter(Role.ADMIN))
async def cmd_audit(message: Message, session: AsyncSession, access: Access, i18n: I18n, settings: Settings) -> None:
    page = await service.load_page(session, access.region_path, locale=i18n.current_locale, tz=settings.tz)
    await message.answer(service.page_text(page), reply_markup=service.page_keyboard(page))


@router.callback_query(AuditPageCB.filter())
async def on_page(
    query: CallbackQuery,
    callback_data: AuditPageCB,
    session: AsyncSession,
    access: Access,
    account: Account | None,
    i18n: I18n,
    bot: Bot,
    settings: Settings,
) -> None:
    if access.role is not Role.ADMIN or account is None or access.region_path is None:
        await query.answer(service.refusal_text(), show_alert=True)
        return
    cursor = service.decode_cursor(callback_data.at, callback_data.id)
    page = await service.load_page(
        session, access.region_path, locale=i18n.current_locale, tz=settings.tz,
        direction=callback_data.dir, cursor=cursor,
    )
    await show_in_place(query, bot, account, service.page_text(page), service.page_keyboard(page))
    await query.answer()  # after the edit: whoever waits for the answer sees the new page
