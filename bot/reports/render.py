"""Texts and keyboards of /report and /export: the one place they are worded.

The report message is the chart (a photo) with the headline figures as its caption, and
buttons: one per child region that can be drilled into (市州 → 县市区 → 乡镇), 上一级 while
below the admin's own region, and the two exports of the region shown. Callback data
carries an action and a region id only; the handler re-checks the admin's scope on every
press (callback data can be forged).
"""

from __future__ import annotations

from datetime import date
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.i18n import format_date, format_number
from bot.reports.figures import Figures, Report
from bot.work.households_render import fit_lines
from storage.enums import RegionLevel
from storage.models import Region

CAPTION_LIMIT = 1000  # Telegram allows 1024 characters of caption; keep a margin for "…"
BUTTON_LABEL_LIMIT = 24
TYPED_NAME_LIMIT = 64  # characters of a typed region name echoed in a reply
# Levels a report can be opened at by button; a township's rows are villages, the end.
DRILLABLE = frozenset({RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY, RegionLevel.TOWNSHIP})


class ReportCB(CallbackData, prefix="rp"):
    """action: show (the report of the region), xlsx or csv (its export)."""

    action: str
    region_id: int


def percent(part: int, whole: int, locale: str) -> str:
    if not whole:
        return "—"
    return format_number(round(100 * part / whole, 1), locale) + "%"


def _satisfaction(figures: Figures, locale: str) -> str:
    value = figures.avg_satisfaction
    return "—" if value is None else format_number(round(value, 2), locale)


def headline_text(report: Report, locale: str) -> str:
    """The caption: the region, the day, and its total figures (HTML, ≤ CAPTION_LIMIT)."""
    t = report.total
    n = lambda value: format_number(value, locale)  # noqa: E731
    lines = [
        _("<b>{region}</b> 扶贫工作报表").format(region=escape(report.name)),
        _("截至 {date}（满意度、存疑走访自 {start} 起）").format(
            date=format_date(report.as_of, locale), start=format_date(report.period_start, locale)),
        "",
        _("户数 {total}：未脱贫 {not_lifted} · 已脱贫 {lifted} · 返贫 {returned}").format(
            total=n(t.households), not_lifted=n(t.not_lifted), lifted=n(t.lifted), returned=n(t.returned)),
        _("按期走访 {done}/{pairings}（{share}）").format(
            done=n(t.visited_in_cadence), pairings=n(t.pairings), share=percent(t.visited_in_cadence, t.pairings, locale)),
        _("逾期走访 {visits} · 逾期计划事项 {milestones}").format(
            visits=n(t.overdue_visits), milestones=n(t.overdue_milestones)),
        _("存疑走访 {flagged} · 平均满意度 {score}（{count} 次评价）").format(
            flagged=n(t.flagged_visits), score=_satisfaction(t, locale), count=n(t.ratings)),
        _("已绑定账号 {accounts}（贫困户 {households}，干部 {cadres}）").format(
            accounts=n(t.bound_accounts), households=n(t.bound_households), cadres=n(t.bound_cadres)),
    ]
    if report.rows and report.level in DRILLABLE and report.level is not RegionLevel.TOWNSHIP:
        lines += ["", _("点下面的地区查看下一级。")]
    return fit_lines(lines, CAPTION_LIMIT)


def no_data_text(report: Report) -> str:
    return _("<b>{region}</b> 暂无数据：这里还没有登记贫困户或帮扶干部。").format(region=escape(report.name))


def _label(name: str) -> str:
    return name if len(name) <= BUTTON_LABEL_LIMIT else name[: BUTTON_LABEL_LIMIT - 1] + "…"


def report_keyboard(report: Report, parent_id: int | None) -> InlineKeyboardMarkup:
    """Drill-down buttons (two per row), 上一级 (parent_id set: the parent is in scope), and
    the exports of the region shown."""
    rows: list[list[InlineKeyboardButton]] = []
    if report.level is not RegionLevel.TOWNSHIP:
        buttons = [
            InlineKeyboardButton(text=_label(row.name), callback_data=ReportCB(action="show", region_id=row.region_id).pack())
            for row in report.rows
            if row.has_children and row.level in DRILLABLE
        ]
        rows += [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if parent_id is not None:
        rows.append([InlineKeyboardButton(text=_("⬆️ 上一级"), callback_data=ReportCB(action="show", region_id=parent_id).pack())])
    rows.append([
        InlineKeyboardButton(text=_("📥 导出 Excel"), callback_data=ReportCB(action="xlsx", region_id=report.region_id).pack()),
        InlineKeyboardButton(text=_("📄 导出 CSV"), callback_data=ReportCB(action="csv", region_id=report.region_id).pack()),
    ])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def out_of_scope_text() -> str:
    return _("这个地区不在您的管辖范围内，或者不存在。")


def not_admin_text() -> str:
    return _("只有管理员可以查看报表。")


def typed_name(name: str) -> str:
    """A region name as the admin typed it, for echoing: whitespace collapsed, at most
    TYPED_NAME_LIMIT characters (a long argument must not push the reply past Telegram's
    4,096), HTML-escaped."""
    name = " ".join(name.split())
    if len(name) > TYPED_NAME_LIMIT:
        name = name[: TYPED_NAME_LIMIT - 1] + "…"
    return escape(name)


def region_not_found_text(name: str) -> str:
    return _("在您的管辖范围内没有找到地区「{name}」。请输入地区名称，例如 /report 白山市，或者只发送 /report。").format(
        name=typed_name(name))


def ambiguous_region_text(name: str, count: int) -> str:
    return _("有 {count} 个地区叫「{name}」，请写出上级地区，例如 /report 白山市/长白朝鲜族自治县。").format(
        count=count, name=typed_name(name))


def export_caption_for(region: Region, day: date, locale: str) -> str:
    return _("{region} 扶贫工作报表，截至 {date}").format(region=escape(region.name), date=format_date(day, locale))


def chart_unavailable_text() -> str:
    return _("（图表暂时无法生成，以下是文字版。）")
