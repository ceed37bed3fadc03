"""Renderers of the scans' notices (notifications/scans.py): reminders, overdue alerts,
escalations, hardship escalations, daily digests, catch-up digests, weekly summaries.

Each renderer re-reads its subject and returns None when the notice no longer holds at
send time: the visit was logged (the pairing's next_visit_due moved off the notice's due
date), the milestone was done or its due date changed, the pairing ended or changed
cadre, the household was lifted out of poverty, the hardship request was acknowledged or
resolved, the recipient is no longer the cadre / supervisor / admin the notice was for.
Otherwise it words the text with gettext (the sender has set the recipient's locale) for
parse_mode HTML, registry text escaped, with buttons that lead to action:

- a visit reminder or overdue alert carries 查看户卡 (`HouseholdCardCB`) and 登记走访
  (`VisitStartCB`: the /visit dialog on that household, at the date step);
- a milestone reminder or overdue alert carries 查看户卡 and 标记完成 (`MsDoneStartCB`:
  the /milestone "mark done" flow for that item, at the evidence step);
- an escalation carries 查看户卡 for an admin only (the card would refuse a supervisor).

Every button re-checks access when pressed (handlers/households.py, handlers/visits.py,
handlers/milestones.py): the notice may be old by then. The texts still name /visit and
/milestone, which do the same.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.i18n import format_date, format_number
from bot.work.households import agenda
from bot.work.households_render import (
    HouseholdCardCB,
    agenda_text,
    fit_lines,
    hardship_category_label,
    milestone_category_label,
)
from bot.work.milestones_render import MsDoneStartCB, done_start_label
from bot.work.rules import local_today
from bot.work.visits_render import VisitStartCB, start_label
from notifications.templates import RenderContext, Rendered, renderer
from storage.enums import HouseholdStatus, NotificationKind, Role
from storage.models import Account, Cadre, HardshipRequest, Household, Milestone, Pairing, Region
from storage.repositories.cadence import CadenceRepository
from storage.repositories.notices import NoticeRenderRepository
from storage.repositories.pairings import PairingRepository
from storage.repositories.regions import PROVINCE_NAME

K = NotificationKind
TITLE_LIMIT = 60
DEFAULT_TZ = "Asia/Shanghai"


# ------------------------------------------------------------------------ helpers


def _due(payload: dict[str, Any], name: str = "due") -> date | None:
    try:
        return date.fromisoformat(str(payload[name]))
    except (KeyError, TypeError, ValueError):
        return None


def _int(payload: dict[str, Any], name: str) -> int | None:
    try:
        return int(payload[name])
    except (KeyError, TypeError, ValueError):
        return None


def _tz(payload: dict[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str(payload.get("tz") or DEFAULT_TZ))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


def _clip(text: str, limit: int = TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _get(ctx: RenderContext, model: type, ident: int | None) -> Any:
    """A fresh copy of the row (the sender's session may hold an old one)."""
    if ident is None:
        return None
    return await ctx.session.get(model, ident, populate_existing=True)


def _is_cadre(account: Account, cadre_id: int | None) -> bool:
    return account.role is Role.CADRE and cadre_id is not None and account.cadre_id == cadre_id


async def _live_household(ctx: RenderContext, household_id: int | None) -> Household | None:
    household = await _get(ctx, Household, household_id)
    if household is None or household.status is HouseholdStatus.LIFTED:
        return None
    return household


async def _village_name(ctx: RenderContext, household: Household) -> str:
    village = await ctx.session.get(Region, household.village_id)
    return village.name if village is not None else ""


async def _admin_path(ctx: RenderContext, account: Account) -> str | None:
    if account.role is not Role.ADMIN:
        return None
    if account.admin_region_id is None:
        return PROVINCE_NAME
    region = await ctx.session.get(Region, account.admin_region_id)
    return region.path if region is not None else None


async def _may_oversee(ctx: RenderContext, household_id: int, cadre_id: int | None) -> bool:
    """The recipient is an admin whose region holds the household, or the supervisor of
    the cadre."""
    account = ctx.account
    path = await _admin_path(ctx, account)
    if path is not None:
        return await PairingRepository(ctx.session).household_in_scope(path, household_id)
    if account.role is Role.CADRE and account.cadre_id is not None and cadre_id is not None:
        cadre = await ctx.session.get(Cadre, cadre_id)
        return cadre is not None and cadre.supervisor_id == account.cadre_id
    return False


def _card_button(household_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("查看户卡"), callback_data=HouseholdCardCB(id=household_id, page=0).pack())


def card_keyboard(household_id: int) -> InlineKeyboardMarkup:
    """One button: the household's card (access is re-checked when it is pressed)."""
    return InlineKeyboardMarkup(inline_keyboard=[[_card_button(household_id)]])


def visit_keyboard(household_id: int) -> InlineKeyboardMarkup:
    """The household's card and 登记走访 (the /visit dialog on it), side by side."""
    return InlineKeyboardMarkup(inline_keyboard=[[
        _card_button(household_id),
        InlineKeyboardButton(text=start_label(), callback_data=VisitStartCB(household_id=household_id).pack()),
    ]])


def milestone_keyboard(household_id: int, milestone_id: int) -> InlineKeyboardMarkup:
    """The household's card and 标记完成 (the "mark done" flow for the item), side by side."""
    return InlineKeyboardMarkup(inline_keyboard=[[
        _card_button(household_id),
        InlineKeyboardButton(text=done_start_label(), callback_data=MsDoneStartCB(id=milestone_id).pack()),
    ]])


def _who(household: Household) -> str:
    return _("<b>{name}</b>（{reg_no}）").format(name=escape(household.head_name), reg_no=escape(household.reg_no))


# ------------------------------------------------------------------- visits


async def _open_pairing(ctx: RenderContext) -> tuple[Pairing, Household, date] | None:
    """The notice's pairing while it is open, still this cadre's, not visited since (its due
    date unchanged) and its household not lifted."""
    payload = ctx.message.payload or {}
    due = _due(payload)
    pairing = await _get(ctx, Pairing, _int(payload, "pairing_id"))
    if due is None or pairing is None or pairing.end_date is not None or pairing.next_visit_due != due:
        return None
    household = await _live_household(ctx, pairing.household_id)
    if household is None:
        return None
    return pairing, household, due


@renderer(K.VISIT_REMINDER)
async def render_visit_reminder(ctx: RenderContext) -> Rendered | None:
    found = await _open_pairing(ctx)
    if found is None or not _is_cadre(ctx.account, found[0].cadre_id):
        return None
    _pairing, household, due = found
    village = escape(await _village_name(ctx, household))
    if _int(ctx.message.payload or {}, "days") == 0:
        text = _("📅 今天应走访 {who}（{village}）。走访后请用 /visit 登记。").format(
            who=_who(household), village=village)
    else:
        text = _("📅 走访提醒：请在 {date} 前走访 {who}（{village}），走访后用 /visit 登记。").format(
            date=format_date(due, ctx.locale), who=_who(household), village=village)
    return Rendered(text, visit_keyboard(household.id))


@renderer(K.VISIT_OVERDUE)
async def render_visit_overdue(ctx: RenderContext) -> Rendered | None:
    found = await _open_pairing(ctx)
    if found is None or not _is_cadre(ctx.account, found[0].cadre_id):
        return None
    _pairing, household, due = found
    text = _("⚠️ 走访已逾期：{who}应在 {date} 前走访，目前还没有走访记录。请尽快走访并用 /visit 登记。").format(
        who=_who(household), date=format_date(due, ctx.locale))
    return Rendered(text, visit_keyboard(household.id))


# --------------------------------------------------------------- milestones


async def _open_milestone(ctx: RenderContext) -> tuple[Milestone, Household, int] | None:
    """The notice's milestone while not done, its due date unchanged, its household not
    lifted; with the household's current cadre (None when unpaired)."""
    payload = ctx.message.payload or {}
    due = _due(payload)
    milestone = await _get(ctx, Milestone, _int(payload, "milestone_id"))
    if due is None or milestone is None or milestone.completed_at is not None or milestone.due_date != due:
        return None
    household = await _live_household(ctx, milestone.household_id)
    if household is None:
        return None
    pairing = await NoticeRenderRepository(ctx.session).open_pairing(household.id)
    if pairing is None:
        return None
    return milestone, household, pairing.cadre_id


def _item(milestone: Milestone) -> str:
    return _("{category}：{title}").format(
        category=milestone_category_label(milestone.category), title=escape(_clip(milestone.title)))


@renderer(K.MILESTONE_REMINDER)
async def render_milestone_reminder(ctx: RenderContext) -> Rendered | None:
    found = await _open_milestone(ctx)
    if found is None or not _is_cadre(ctx.account, found[2]):
        return None
    milestone, household, _cadre = found
    text = _("📋 计划事项提醒：{who}的「{item}」将于 {date} 到期。完成后请用 /milestone 标记完成。").format(
        who=_who(household), item=_item(milestone), date=format_date(milestone.due_date, ctx.locale))
    return Rendered(text, milestone_keyboard(household.id, milestone.id))


@renderer(K.MILESTONE_OVERDUE)
async def render_milestone_overdue(ctx: RenderContext) -> Rendered | None:
    found = await _open_milestone(ctx)
    if found is None or not _is_cadre(ctx.account, found[2]):
        return None
    milestone, household, _cadre = found
    text = _("⚠️ 计划事项逾期：{who}的「{item}」已于 {date} 到期，仍未完成。完成后请用 /milestone 标记完成。").format(
        who=_who(household), item=_item(milestone), date=format_date(milestone.due_date, ctx.locale))
    return Rendered(text, milestone_keyboard(household.id, milestone.id))


# -------------------------------------------------------------- escalations


@renderer(K.ESCALATION)
async def render_escalation(ctx: RenderContext) -> Rendered | None:
    payload = ctx.message.payload or {}
    days = _int(payload, "days") or 0
    if payload.get("subject") == "visit":
        found = await _open_pairing(ctx)
        if found is None:
            return None
        pairing, household, due = found
        cadre_id, item = pairing.cadre_id, None
    else:
        found_m = await _open_milestone(ctx)
        if found_m is None:
            return None
        milestone, household, cadre_id = found_m
        due, item = milestone.due_date, _item(milestone)
    if not await _may_oversee(ctx, household.id, cadre_id):
        return None
    cadre = await ctx.session.get(Cadre, cadre_id)
    cadre_name = escape(cadre.name) if cadre is not None else "—"
    village = escape(await _village_name(ctx, household))
    if item is None:
        text = _("🔺 督办：{cadre}结对的{who}（{village}）应在 {date} 前走访，已逾期 {days} 天以上仍无走访记录。").format(
            cadre=cadre_name, who=_who(household), village=village, date=format_date(due, ctx.locale), days=days)
    else:
        text = _("🔺 督办：{cadre}结对的{who}（{village}）的计划事项「{item}」已于 {date} 到期，逾期 {days} 天以上仍未完成。").format(
            cadre=cadre_name, who=_who(household), village=village, item=item,
            date=format_date(due, ctx.locale), days=days)
    markup = card_keyboard(household.id) if ctx.account.role is Role.ADMIN else None
    return Rendered(text, markup)


@renderer(K.HARDSHIP_ESCALATION)
async def render_hardship_escalation(ctx: RenderContext) -> Rendered | None:
    payload = ctx.message.payload or {}
    request = await _get(ctx, HardshipRequest, _int(payload, "request_id"))
    stage = payload.get("stage")
    if request is None or request.resolved_at is not None:
        return None
    if stage == "ack" and request.acknowledged_at is not None:
        return None
    household = await _get(ctx, Household, request.household_id)
    if household is None or not await _may_oversee(ctx, household.id, request.cadre_id):
        return None
    cadre = await ctx.session.get(Cadre, request.cadre_id) if request.cadre_id is not None else None
    cadre_name = escape(cadre.name) if cadre is not None else _("（无结对干部）")
    filed = request.created_at.astimezone(_tz(payload)).date()
    values = {
        "who": _who(household), "category": hardship_category_label(request.category),
        "filed": format_date(filed, ctx.locale), "cadre": cadre_name,
    }
    if stage == "ack":
        text = _("🔺 督办：{who}于 {filed} 报告的困难（{category}）未在期限内受理。负责干部：{cadre}。请在 /requests 中查看。")
    else:
        text = _("🔺 督办：{who}于 {filed} 报告的困难（{category}）未在期限内办结。负责干部：{cadre}。请在 /requests 中查看。")
    markup = card_keyboard(household.id) if ctx.account.role is Role.ADMIN else None
    return Rendered(text.format(**values), markup)


# ------------------------------------------------------------------ digests


@renderer(K.DIGEST)
async def render_digest(ctx: RenderContext) -> Rendered | None:
    """/today's content for the day; None when nothing is due or the day has passed."""
    payload = ctx.message.payload or {}
    cadre_id, day, tz = _int(payload, "cadre_id"), _due(payload, "day"), _tz(payload)
    if day is None or not _is_cadre(ctx.account, cadre_id) or local_today(tz, ctx.now) != day:
        return None
    assert cadre_id is not None
    plan = await agenda(ctx.session, cadre_id, day, ctx.now, ctx.rules.visits if ctx.rules else None)
    if plan.is_empty or not plan.has_households:
        return None
    text = _("<b>每日提醒</b>") + "\n" + agenda_text(plan, ctx.locale, tz)
    return Rendered(fit_lines(text.split("\n")))


@renderer(K.CATCH_UP)
async def render_catch_up(ctx: RenderContext) -> Rendered | None:
    """What of the late reminders still holds: visits not logged, milestones not done."""
    payload = ctx.message.payload or {}
    cadre_id = _int(payload, "cadre_id")
    if not _is_cadre(ctx.account, cadre_id):
        return None
    wanted_visits = _pairs(payload.get("visits"))
    wanted_milestones = _pairs(payload.get("milestones"))
    repo = NoticeRenderRepository(ctx.session)
    visit_lines: list[str] = []
    if wanted_visits:
        rows = await repo.catch_up_visits(wanted_visits, cadre_id)
        for pairing_id, due, name, reg_no in sorted(rows, key=lambda r: (r.next_visit_due, r.id)):
            if wanted_visits[pairing_id] == due:
                visit_lines.append(_("• <b>{name}</b>（{reg_no}）· 走访到期 {date}").format(
                    name=escape(name), reg_no=escape(reg_no), date=format_date(due, ctx.locale)))
    milestone_lines: list[str] = []
    if wanted_milestones:
        rows = await repo.catch_up_milestones(wanted_milestones, cadre_id)
        for milestone_id, due, category, title, name in sorted(rows, key=lambda r: (r.due_date, r.id)):
            if wanted_milestones[milestone_id] == due:
                milestone_lines.append(_("• <b>{name}</b>：{category}：{title} · 截止 {date}").format(
                    name=escape(name), category=milestone_category_label(category),
                    title=escape(_clip(title)), date=format_date(due, ctx.locale)))
    if not visit_lines and not milestone_lines:
        return None
    lines = [_("<b>补发提醒</b>：服务中断期间，以下提醒未能按时发出，现汇总如下。")]
    if visit_lines:
        lines += ["", "<b>" + _("应走访的贫困户") + "</b>", *visit_lines]
    if milestone_lines:
        lines += ["", "<b>" + _("到期的计划事项") + "</b>", *milestone_lines]
    more = _int(payload, "more") or 0
    if more:
        lines.append(_("……另有 {count} 项").format(count=more))
    lines += ["", _("最新情况请发送 /today 查看。")]
    return Rendered(fit_lines(lines))


def _pairs(raw: Any) -> dict[int, date]:
    """[[id, 'YYYY-MM-DD'], ...] from a payload -> {id: date}; malformed entries skipped."""
    result: dict[int, date] = {}
    for entry in raw or []:
        try:
            ident, due = entry
            result[int(ident)] = date.fromisoformat(str(due))
        except (TypeError, ValueError):
            continue
    return result


# ------------------------------------------------------------------- weekly


async def region_counts(session, region_path: str, today: date, now) -> dict[str, int]:
    """Overdue visits, overdue milestones, visits flagged in the last 7 days and hardship
    requests not resolved, of the households in the region subtree."""
    repo = NoticeRenderRepository(session)
    overdue_visits = await CadenceRepository(session).count_overdue(None, today, region_path=region_path)
    overdue_milestones = await repo.count_overdue_milestones(region_path, today)
    flagged = await repo.count_flagged_visits(region_path, now - timedelta(days=7))
    hardship = await repo.count_unresolved_hardship(region_path)
    return {
        "overdue_visits": int(overdue_visits or 0),
        "overdue_milestones": int(overdue_milestones or 0),
        "flagged": int(flagged or 0),
        "hardship": int(hardship or 0),
    }


@renderer(K.WEEKLY_SUMMARY)
async def render_weekly(ctx: RenderContext) -> Rendered | None:
    payload = ctx.message.payload or {}
    path = await _admin_path(ctx, ctx.account)
    if path is None:
        return None
    tz = _tz(payload)
    today = local_today(tz, ctx.now)
    counts = await region_counts(ctx.session, path, today, ctx.now)
    region = escape(path.split("/")[-1])
    n = {k: format_number(v, ctx.locale) for k, v in counts.items()}
    lines = [
        _("<b>每周工作概况</b>（{region}，{date}）").format(region=region, date=format_date(today, ctx.locale)),
        _("逾期未走访的贫困户：{count}").format(count=n["overdue_visits"]),
        _("逾期的计划事项：{count}").format(count=n["overdue_milestones"]),
        _("近 7 天存疑的走访：{count}").format(count=n["flagged"]),
        _("未办结的困难报告：{count}").format(count=n["hardship"]),
        "",
        _("详情：/households 贫困户，/flags 存疑走访，/requests 困难报告。"),
    ]
    return Rendered("\n".join(lines))
