"""/report and /export (admins): a region's figures as a chart, and as a spreadsheet.

- `/report [地区]`: the chart of the admin's region (or of the named region inside their
  scope, e.g. `/report 白山市`) with the headline figures as caption and buttons to drill
  down 市州 → 县市区 → 乡镇, go back up (never above the admin's own region) or export.
- `/export [xlsx|csv] [地区]`: the workbook (default) or a zip of CSV files.

Every press re-checks the role and the scope in the database: a forged region id outside
the scope gets the same reply as one that does not exist. Non-admins typing the commands
get the generic "no such command or no permission" reply (handlers/fallback.py).
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, FSInputFile, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access, RoleFilter
from bot.config import Settings
from bot.reports import render
from bot.reports import service as reports
from bot.reports.chart import ChartFontMissing, render_chart_async
from bot.reports.export import build_export
from bot.reports.render import ReportCB
from bot.work.clock import now
from bot.work.rules import local_today
from storage.enums import Role
from storage.models import Region

log = logging.getLogger(__name__)
router = Router(name="reports")

FORMATS = {"xlsx": "xlsx", "excel": "xlsx", "csv": "csv"}


def _today(settings: Settings) -> date:
    return local_today(settings.tz, now())


# ------------------------------------------------------------------------ commands


@router.message(Command("report"), RoleFilter(Role.ADMIN))
async def cmd_report(
    message: Message, command: CommandObject, session: AsyncSession, access: Access, i18n: I18n,
    settings: Settings, bot: Bot,
) -> None:
    region = await _region_from_args(message, session, access, command.args)
    if region is not None:
        await _send_report(message, bot, session, access, region, i18n.current_locale, settings)


@router.message(Command("export"), RoleFilter(Role.ADMIN))
async def cmd_export(
    message: Message, command: CommandObject, session: AsyncSession, access: Access, i18n: I18n,
    settings: Settings, bot: Bot,
) -> None:
    words = (command.args or "").split(maxsplit=1)
    fmt = "xlsx"
    if words and words[0].lower() in FORMATS:
        fmt = FORMATS[words.pop(0).lower()]
    region = await _region_from_args(message, session, access, words[0] if words else None)
    if region is not None:
        await _send_export(message, bot, session, region, fmt, i18n.current_locale, settings)


async def _region_from_args(
    message: Message, session: AsyncSession, access: Access, args: str | None
) -> Region | None:
    scope = access.region_path
    if scope is None:
        await message.answer(render.not_admin_text())
        return None
    choice = await reports.choose_region(session, scope, args)
    if choice.ambiguous:
        await message.answer(render.ambiguous_region_text(args or "", choice.ambiguous))
        return None
    if choice.region is None:
        await message.answer(render.region_not_found_text(args or ""))
        return None
    return choice.region


# ------------------------------------------------------------------------- buttons


@router.callback_query(ReportCB.filter())
async def on_report_button(
    query: CallbackQuery, callback_data: ReportCB, session: AsyncSession, access: Access, i18n: I18n,
    settings: Settings, bot: Bot,
) -> None:
    if access.role is not Role.ADMIN or access.region_path is None:
        await query.answer(render.not_admin_text(), show_alert=True)
        return
    region = await reports.region_in_scope(session, access.region_path, callback_data.region_id)
    if region is None or callback_data.action not in ("show", "xlsx", "csv") or query.message is None:
        await query.answer(render.out_of_scope_text(), show_alert=True)
        return
    await query.answer()
    message = query.message
    if callback_data.action == "show":
        await _send_report(message, bot, session, access, region, i18n.current_locale, settings)
    else:
        await _send_export(message, bot, session, region, callback_data.action, i18n.current_locale, settings)


# ------------------------------------------------------------------------- replies


async def _send_report(
    message, bot: Bot, session: AsyncSession, access: Access, region: Region, locale: str, settings: Settings
) -> None:
    assert access.region_path is not None
    await session.commit()  # the account touch (last_seen_at): no write lock held while we work
    await bot.send_chat_action(message.chat.id, "upload_photo")
    view = await reports.report_view(session, access.region_path, region, _today(settings))
    await session.commit()  # done with the database: no transaction while drawing and uploading
    report = view.report
    keyboard = render.report_keyboard(report, view.parent_id)
    if not report.has_data:
        await message.answer(render.no_data_text(report), reply_markup=keyboard if view.parent_id else None)
        return
    caption = render.headline_text(report, locale)
    try:
        png = await render_chart_async(report, locale, font=settings.chart_font)
    except ChartFontMissing:
        log.error("report chart: no CJK font found; sending the figures as text")
        await message.answer(render.chart_unavailable_text() + "\n" + caption, reply_markup=keyboard)
        return
    await message.answer_photo(BufferedInputFile(png, filename="report.png"), caption=caption, reply_markup=keyboard)


async def _send_export(
    message, bot: Bot, session: AsyncSession, region: Region, fmt: str, locale: str, settings: Settings
) -> None:
    await session.commit()  # the account touch (last_seen_at): no write lock held while we work

    async def tell_waiting() -> None:
        await message.answer(_("另一份报表正在生成，您的报表随后生成，请稍候。"))

    await bot.send_chat_action(message.chat.id, "upload_document")
    filename, content = await build_export(
        session, region.path, _today(settings), locale, fmt, tz=settings.tz, on_wait=tell_waiting
    )
    if isinstance(content, Path):
        document = FSInputFile(content, filename=filename)
    else:
        document = BufferedInputFile(content, filename=filename)
    try:
        await session.commit()  # done with the database: no transaction while uploading
        await message.answer_document(document, caption=render.export_caption_for(region, _today(settings), locale))
    finally:
        if isinstance(content, Path):
            content.unlink(missing_ok=True)
