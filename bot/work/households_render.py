"""Texts and keyboards of /households, the household card and /today: the one place they
are worded.

Everything returned is ready for parse_mode HTML: registry and user text is escaped, fixed
texts go through gettext (Chinese msgids), dates are formatted for the given locale.
Callback data carries a household id and a page number, never text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.i18n import format_date, format_datetime, format_number
from bot.work.households import (
    WEEK_DAYS,
    Agenda,
    HouseholdCard,
    HouseholdPage,
    MilestoneStatus,
    days_overdue,
    is_urgent,
    milestone_status,
)
from storage.enums import (
    HardshipCategory,
    HouseholdStatus,
    MilestoneCategory,
    PovertyCause,
    SupportMeasure,
    VisitConfirmation,
    VisitKind,
)
from storage.repositories.households import DueMilestone, DueVisit, HouseholdLine
from storage.repositories.regions import display_path

MESSAGE_LIMIT = 4096  # Telegram's limit (UTF-16 code units, after entity parsing)
SAFE_LIMIT = 3900  # what we allow ourselves before the closing "…" line
BUTTON_LABEL_LIMIT = 32
TITLE_LIMIT = 40  # characters of a milestone title on a card or in /today
SECTION_LINES = 8  # lines per /today section before "and N more"
URGENT_MARK = "⚠️"


# --------------------------------------------------------------------- callback data


class HouseholdsPageCB(CallbackData, prefix="hhl"):
    """A page of /households (also the card's ‹ back button)."""

    page: int


class HouseholdCardCB(CallbackData, prefix="hhc"):
    """A household's card; `page` is the list page to go back to."""

    id: int
    page: int


# ---------------------------------------------------------------------------- labels


def status_label(status: HouseholdStatus) -> str:
    return {
        HouseholdStatus.NOT_LIFTED: _("未脱贫"),
        HouseholdStatus.LIFTED: _("已脱贫"),
        HouseholdStatus.RETURNED: _("返贫"),
    }[HouseholdStatus(status)]


def cause_label(cause: PovertyCause) -> str:
    return {
        PovertyCause.ILLNESS: _("因病"),
        PovertyCause.DISABILITY: _("因残"),
        PovertyCause.SCHOOLING: _("因学"),
        PovertyCause.DISASTER: _("因灾"),
        PovertyCause.LACK_LAND: _("缺土地"),
        PovertyCause.LACK_WATER: _("缺水"),
        PovertyCause.LACK_SKILLS: _("缺技术"),
        PovertyCause.LACK_LABOUR: _("缺劳力"),
        PovertyCause.LACK_FUNDS: _("缺资金"),
        PovertyCause.POOR_TRANSPORT: _("交通条件落后"),
        PovertyCause.LACK_MOTIVATION: _("自身发展动力不足"),
    }[cause]


def causes_text(causes: PovertyCause) -> str:
    found = [cause_label(c) for c in PovertyCause if c in PovertyCause(int(causes or 0))]
    return _("、").join(found) if found else "—"


def measure_label(measure: SupportMeasure) -> str:
    return {
        SupportMeasure.PRODUCTION: _("发展生产"),
        SupportMeasure.RELOCATION: _("易地搬迁"),
        SupportMeasure.ECOLOGY: _("生态保护"),
        SupportMeasure.EDUCATION: _("发展教育"),
        SupportMeasure.MEDICAL: _("医疗救助"),
        SupportMeasure.SOCIAL_SECURITY: _("社会保障兜底"),
        SupportMeasure.CASE_BY_CASE: _("一事一议"),
    }[SupportMeasure(measure)]


def milestone_category_label(category: MilestoneCategory) -> str:
    return {
        MilestoneCategory.HOUSING: _("住房安全"),
        MilestoneCategory.MEDICAL_INSURANCE: _("医疗保障"),
        MilestoneCategory.EDUCATION: _("教育"),
        MilestoneCategory.INCOME: _("收入"),
        MilestoneCategory.EMPLOYMENT: _("就业"),
        MilestoneCategory.INDUSTRY: _("产业"),
        MilestoneCategory.DRINKING_WATER: _("饮水安全"),
        MilestoneCategory.SOCIAL_SECURITY: _("低保兜底"),
        MilestoneCategory.OTHER: _("其他"),
    }[MilestoneCategory(category)]


def milestone_status_label(status: MilestoneStatus) -> str:
    return {
        MilestoneStatus.OPEN: _("未完成"),
        MilestoneStatus.DONE: _("已完成"),
        MilestoneStatus.OVERDUE: _("逾期"),
    }[status]


def visit_kind_label(kind: VisitKind) -> str:
    return {
        VisitKind.HOME: _("入户走访"),
        VisitKind.PHONE: _("电话联系"),
        VisitKind.MEETING: _("集中会面"),
    }[VisitKind(kind)]


def confirmation_label(confirmation: VisitConfirmation) -> str:
    return {
        VisitConfirmation.NOT_ASKED: _("未请农户确认"),
        VisitConfirmation.PENDING: _("等待农户确认"),
        VisitConfirmation.CONFIRMED: _("农户已确认"),
        VisitConfirmation.DENIED: _("农户称未走访"),
        VisitConfirmation.EXPIRED: _("农户未按时确认"),
    }[VisitConfirmation(confirmation)]


def hardship_category_label(category: HardshipCategory) -> str:
    return {
        HardshipCategory.ILLNESS: _("疾病"),
        HardshipCategory.DISASTER: _("灾害"),
        HardshipCategory.JOB_LOSS: _("失业"),
        HardshipCategory.SCHOOL_COSTS: _("上学费用"),
        HardshipCategory.HOUSING_DAMAGE: _("住房损坏"),
        HardshipCategory.OTHER: _("其他"),
    }[HardshipCategory(category)]


# ----------------------------------------------------------------------- small parts


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _date(value: date | None, locale: str) -> str:
    return format_date(value, locale) if value is not None else "—"


def _overdue_suffix(days: int) -> str:
    return _("（已逾期 {days} 天）").format(days=days) if days > 0 else ""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fit_lines(lines: Sequence[str], limit: int = SAFE_LIMIT) -> str:
    """Join lines, dropping whole lines from the end (never cutting an HTML entity or tag)
    so that the message stays under Telegram's limit."""
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = utf16_len(line) + 1
        if used + cost > limit:
            kept.append("…")
            break
        kept.append(line)
        used += cost
    return "\n".join(kept)


def stale_text() -> str:
    return _("这个按钮已失效，请重新发送命令。")


def not_allowed_text() -> str:
    return _("您无权查看这户的信息，或者这个按钮已失效。请重新发送 /households。")


def roles_only_text() -> str:
    return _("这个功能只对帮扶干部和扶贫办管理员开放。")


# ------------------------------------------------------------------------------ list


def _line_text(number: int, line: HouseholdLine, today: date, locale: str) -> str:
    mark = f"{URGENT_MARK} " if is_urgent(line, today) else ""
    head = f"{number}. {mark}<b>{escape(line.head_name)}</b> · {escape(line.village)}"
    last = (
        _("上次走访：{date}").format(date=format_date(line.last_visit_on, locale))
        if line.last_visit_on is not None
        else _("尚未走访")
    )
    if line.next_visit_due is not None:
        due = _("下次应访：{date}").format(date=format_date(line.next_visit_due, locale))
        due += _overdue_suffix(days_overdue(line.next_visit_due, today))
    else:
        due = _("下次应访：未排定")
    parts = [last, due]
    if line.overdue_milestones:
        parts.append(_("逾期事项：{count} 项").format(count=line.overdue_milestones))
    return head + "\n    " + " · ".join(parts)


def list_text(page: HouseholdPage, locale: str) -> str:
    if page.total == 0:
        if page.is_admin:
            return _("您的辖区内没有建档立卡户。")
        return _("您目前没有结对帮扶的贫困户。")
    if page.is_admin:
        title = _("辖区内的贫困户（共 {total} 户）").format(total=page.total)
    else:
        title = _("我帮扶的贫困户（共 {total} 户）").format(total=page.total)
    lines = [f"<b>{title}</b>"]
    if page.pages > 1:
        lines.append(_("第 {page}/{pages} 页").format(page=page.page + 1, pages=page.pages))
    lines.append("")
    for index, line in enumerate(page.lines):
        lines.append(_line_text(page.first_number + index, line, page.today, locale))
    lines.append("")
    lines.append(_("{mark} 表示走访或计划事项已逾期。点下面的按钮查看一户的详情。").format(mark=URGENT_MARK))
    return fit_lines(lines)


def list_keyboard(page: HouseholdPage) -> InlineKeyboardMarkup | None:
    if page.total == 0:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for index, line in enumerate(page.lines):
        mark = f"{URGENT_MARK} " if is_urgent(line, page.today) else ""
        label = _clip(f"{page.first_number + index}. {mark}{line.head_name}", BUTTON_LABEL_LIMIT)
        data = HouseholdCardCB(id=line.household_id, page=page.page).pack()
        rows.append([InlineKeyboardButton(text=label, callback_data=data)])
    nav: list[InlineKeyboardButton] = []
    if page.page > 0:
        nav.append(InlineKeyboardButton(
            text=_("‹ 上一页"), callback_data=HouseholdsPageCB(page=page.page - 1).pack()))
    if page.page + 1 < page.pages:
        nav.append(InlineKeyboardButton(
            text=_("下一页 ›"), callback_data=HouseholdsPageCB(page=page.page + 1).pack()))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=rows)


# ------------------------------------------------------------------------------ card


def card_text(card: HouseholdCard, locale: str) -> str:
    h = card.household
    today = card.today
    yes, no = _("是"), _("否")
    lines = [
        _("<b>{name}</b>（户编号 {reg_no}）").format(name=escape(h.head_name), reg_no=escape(h.reg_no)),
        _("所在村：{village}").format(village=escape(display_path(h.village.path)) if h.village else "—"),
        _("家庭人口：{members} 人 · 脱贫状态：{status}").format(members=h.members, status=status_label(h.status)),
        _("致贫原因：{causes}").format(causes=causes_text(h.causes)),
        _("在校学生：{students} 人 · 残疾人：{disabled} 人").format(students=h.students, disabled=h.disabled),
        _("危房等级：{grade} · 享受低保：{dibao}").format(
            grade=escape(str(h.housing_grade)) if h.housing_grade else "—", dibao=yes if h.dibao else no
        ),
        _("帮扶措施：{measure}").format(measure=measure_label(h.measure) if h.measure else "—"),
    ]
    if h.income_per_capita is not None:
        amount = format_number(h.income_per_capita, locale)
        if h.income_year:
            income = _("{amount} 元（{year} 年）").format(amount=amount, year=h.income_year)
        else:
            income = _("{amount} 元").format(amount=amount)
    else:
        income = "—"
    lines.append(_("人均纯收入：{income}").format(income=income))
    lines.append("")
    if card.pairing is not None:
        lines.append(_("帮扶干部：{cadre} · 结对时间：{since}").format(
            cadre=escape(card.cadre.name) if card.cadre else "—",
            since=format_date(card.pairing.start_date, locale),
        ))
        if card.pairing.last_visit_on is not None:
            last = _("上次走访：{date}").format(date=format_date(card.pairing.last_visit_on, locale))
        else:
            last = _("尚未走访")
        if card.pairing.next_visit_due is not None:
            due = _("下次应访：{date}").format(date=format_date(card.pairing.next_visit_due, locale))
            due += _overdue_suffix(days_overdue(card.pairing.next_visit_due, today))
        else:
            due = _("下次应访：未排定")
        lines.append(f"{last} · {due}")
    else:
        lines.append(_("目前没有结对的帮扶干部。"))
    lines.append("")
    lines.append("<b>" + _("帮扶计划") + "</b>")
    if not card.milestones:
        lines.append(_("暂无计划事项。"))
    for milestone in card.milestones:
        status = milestone_status(milestone, today)
        mark = {MilestoneStatus.DONE: "✅", MilestoneStatus.OVERDUE: URGENT_MARK, MilestoneStatus.OPEN: "▫️"}[status]
        lines.append(_("{mark} [{status}] {category}：{title} · 截止 {due}").format(
            mark=mark,
            status=milestone_status_label(status),
            category=milestone_category_label(milestone.category),
            title=escape(_clip(milestone.title, TITLE_LIMIT)),
            due=format_date(milestone.due_date, locale),
        ))
    if card.milestone_total > len(card.milestones):
        lines.append(_("……另有 {count} 项未列出").format(count=card.milestone_total - len(card.milestones)))
    lines.append("")
    lines.append("<b>" + _("最近走访") + "</b>")
    if not card.visits:
        lines.append(_("暂无走访记录。"))
    for visit in card.visits:
        state = confirmation_label(visit.confirmation)
        if visit.rating is not None:
            state = _("{state}（评分 {rating}）").format(state=state, rating=visit.rating)
        flag = f" {URGENT_MARK} " + _("存疑") if visit.flagged else ""
        lines.append(f"• {format_date(visit.visited_on, locale)} · {visit_kind_label(visit.kind)} · {state}{flag}")
    return fit_lines(lines)


def card_keyboard(page: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("‹ 返回列表"), callback_data=HouseholdsPageCB(page=page).pack())
    ]])


# ----------------------------------------------------------------------------- /today


def _visit_line(visit: DueVisit, today: date, locale: str) -> str:
    text = _("• <b>{name}</b>（{reg_no}）· {due}").format(
        name=escape(visit.head_name), reg_no=escape(visit.reg_no), due=format_date(visit.due, locale)
    )
    return text + _overdue_suffix(days_overdue(visit.due, today))


def _milestone_line(milestone: DueMilestone, today: date, locale: str) -> str:
    text = _("• <b>{name}</b>：{category}：{title} · 截止 {due}").format(
        name=escape(milestone.head_name),
        category=milestone_category_label(milestone.category),
        title=escape(_clip(milestone.title, TITLE_LIMIT)),
        due=format_date(milestone.due, locale),
    )
    return text + _overdue_suffix(days_overdue(milestone.due, today))


def _section(lines: list[str], title: str, items: Sequence[str]) -> None:
    if not items:
        return
    lines.append("")
    lines.append(f"<b>{title}</b>")
    lines.extend(items[:SECTION_LINES])
    if len(items) > SECTION_LINES:
        lines.append(_("……另有 {count} 项").format(count=len(items) - SECTION_LINES))


def agenda_text(agenda: Agenda, locale: str, tz: ZoneInfo) -> str:
    today = agenda.today
    lines = [_("<b>今天是 {date}</b>").format(date=format_date(today, locale))]
    if not agenda.has_households:
        lines.append(_("您目前没有结对帮扶的贫困户。"))
        return "\n".join(lines)
    if agenda.is_empty:
        lines.append(_("今天和未来 {days} 天没有到期的走访或计划事项，也没有待受理的困难报告。").format(days=WEEK_DAYS))
        return "\n".join(lines)
    _section(lines, _("逾期未走访"), [_visit_line(v, today, locale) for v in agenda.visits_overdue])
    _section(lines, _("今天应走访"), [_visit_line(v, today, locale) for v in agenda.visits_today])
    _section(lines, _("未来 {days} 天应走访").format(days=WEEK_DAYS),
             [_visit_line(v, today, locale) for v in agenda.visits_week])
    _section(lines, _("逾期的计划事项"), [_milestone_line(m, today, locale) for m in agenda.milestones_overdue])
    _section(lines, _("今天到期的计划事项"), [_milestone_line(m, today, locale) for m in agenda.milestones_today])
    _section(lines, _("未来 {days} 天到期的计划事项").format(days=WEEK_DAYS),
             [_milestone_line(m, today, locale) for m in agenda.milestones_week])
    if agenda.milestones_not_shown:
        lines.append(_("……另有 {count} 项计划事项未列出，请在 /households 中查看各户计划。").format(
            count=agenda.milestones_not_shown))
    hardship = []
    for request in agenda.hardship:
        if request.ack_due_at < agenda.now:
            template = _("• <b>{name}</b>：{category} · 受理期限 {due}，已超时")
        else:
            template = _("• <b>{name}</b>：{category} · 请在 {due} 前受理")
        hardship.append(template.format(
            name=escape(request.head_name),
            category=hardship_category_label(request.category),
            due=format_datetime(request.ack_due_at, locale, tz, fmt="short"),
        ))
    _section(lines, _("待受理的困难报告"), hardship)
    if agenda.leader is not None:
        village = escape(agenda.leader_village)
        if agenda.leader.overdue:
            line = _("• {village}：今年有半年没有走访记录，请尽快安排走访").format(village=village)
        else:
            line = _("• {village}：请在 {date} 前走访（今年已走访 {count} 次）").format(
                village=village, date=format_date(agenda.leader.due, locale), count=agenda.leader.visits_this_year
            )
        _section(lines, _("联系点走访"), [line])
    return fit_lines(lines)
