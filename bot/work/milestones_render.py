"""Chat texts, keyboards and callback data of plan milestones (/milestone, /plan).

Everything returned is ready for parse_mode HTML: names, titles and evidence are escaped;
fixed texts go through gettext (Chinese msgids); dates are formatted for the locale given.
Callback data carries ids and short codes only, never user text. `MsDoneStartCB` (the
标记完成 button of a milestone reminder or overdue alert, notifications/reminders.py)
opens the "mark done" flow at the evidence step for its item, re-checked on each press.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.i18n import format_date
from bot.work.milestones import (
    DUE_PRESETS,
    EVIDENCE_MAX,
    TITLE_MAX,
    HouseholdChoice,
    Status,
    preset_due,
    status_of,
)
from storage.enums import MilestoneCategory
from storage.models import Milestone

PAGE_SIZE = 8  # buttons of households or items per page
BUTTON_LABEL_LIMIT = 40
MESSAGE_BUDGET = 3500  # characters per /plan message (Telegram allows 4096)

# --------------------------------------------------------------------- callback data


class MsMenuCB(CallbackData, prefix="msm"):
    """The first choice of /milestone: add (an item) or done (mark one done)."""

    action: str


class MsHouseholdCB(CallbackData, prefix="msh"):
    id: int


class MsPageCB(CallbackData, prefix="msg"):
    """Another page of the current list (households or items)."""

    page: int


class MsCategoryCB(CallbackData, prefix="msc"):
    cat: str


class MsDueCB(CallbackData, prefix="msd"):
    """A preset due date: a key of bot.work.milestones.DUE_PRESETS."""

    key: str


class MsPickCB(CallbackData, prefix="msp"):
    """An open item chosen to be marked done."""

    id: int


class MsActionCB(CallbackData, prefix="msa"):
    """save (the new item), finish (evidence complete), cancel (leave the dialog)."""

    action: str


class MsDoneCB(CallbackData, prefix="msk"):
    """Confirm that item `id` is done (carries the id so a late second press can say 'already')."""

    id: int


class MsDoneStartCB(CallbackData, prefix="msx"):
    """Start marking item `id` done, at the evidence step (outside any dialog)."""

    id: int


# ------------------------------------------------------------------------- labels

CATEGORY_LABELS: dict[MilestoneCategory, LazyProxy] = {
    MilestoneCategory.HOUSING: __("住房安全"),
    MilestoneCategory.MEDICAL_INSURANCE: __("医疗保障"),
    MilestoneCategory.EDUCATION: __("教育"),
    MilestoneCategory.INCOME: __("收入"),
    MilestoneCategory.EMPLOYMENT: __("就业"),
    MilestoneCategory.INDUSTRY: __("产业"),
    MilestoneCategory.DRINKING_WATER: __("饮水安全"),
    MilestoneCategory.SOCIAL_SECURITY: __("低保兜底"),
    MilestoneCategory.OTHER: __("其他"),
}

STATUS_LABELS: dict[Status, LazyProxy] = {
    Status.OPEN: __("未完成"),
    Status.OVERDUE: __("逾期"),
    Status.DONE: __("已完成"),
}

STATUS_ICONS = {Status.OPEN: "🔲", Status.OVERDUE: "⚠️", Status.DONE: "✅"}

DUE_LABELS: dict[str, LazyProxy] = {
    "1m": __("一个月后"),
    "3m": __("三个月后"),
    "6m": __("半年后"),
    "eoy": __("年底"),
}
assert set(DUE_LABELS) == set(DUE_PRESETS)


def category_label(category: MilestoneCategory) -> str:
    return str(CATEGORY_LABELS[category])


def _clip(text: str, limit: int = BUTTON_LABEL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _cancel_button() -> InlineKeyboardButton:
    return _button(_("取消"), MsActionCB(action="cancel"))


def cancel_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_cancel_button()]])


def _paged(
    buttons: Sequence[InlineKeyboardButton], page: int
) -> tuple[list[list[InlineKeyboardButton]], int]:
    """One button per row for `page` (clamped), with ◀ ▶ under it when there is more."""
    pages = max(1, -(-len(buttons) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = [[b] for b in buttons[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]]
    nav = []
    if page > 0:
        nav.append(_button("◀", MsPageCB(page=page - 1)))
    if page < pages - 1:
        nav.append(_button("▶", MsPageCB(page=page + 1)))
    if nav:
        rows.append(nav)
    return rows, page


# ---------------------------------------------------------------------- /milestone


def menu_text() -> str:
    return _("计划事项：请选择要做的事。")


def menu_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("添加计划事项"), MsMenuCB(action="add")), _button(_("标记完成"), MsMenuCB(action="done"))],
            [_cancel_button()],
        ]
    )


def no_households_text() -> str:
    return _("您目前没有结对帮扶的贫困户。")


def no_open_items_anywhere_text() -> str:
    return _("您帮扶的贫困户目前都没有未完成的计划事项。")


def choose_household_text(done: bool) -> str:
    if done:
        return _("请选择贫困户（括号里是未完成的事项数）：")
    return _("请选择要添加计划事项的贫困户：")


def households_keyboard(choices: Sequence[HouseholdChoice], page: int, *, done: bool) -> InlineKeyboardMarkup:
    buttons = []
    for c in choices:
        label = f"{c.head_name} · {c.village}"
        if done:
            label = f"{_clip(label, BUTTON_LABEL_LIMIT - 6)}（{c.open_items}）"
        buttons.append(_button(_clip(label), MsHouseholdCB(id=c.id)))
    rows, _page = _paged(buttons, page)
    rows.append([_cancel_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def choose_category_text(head_name: str) -> str:
    return _("为 {name} 添加计划事项。请选择类别：").format(name=escape(head_name))


def categories_keyboard() -> InlineKeyboardMarkup:
    buttons = [_button(str(label), MsCategoryCB(cat=cat.value)) for cat, label in CATEGORY_LABELS.items()]
    rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append([_cancel_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def ask_title_text(category: MilestoneCategory) -> str:
    return _("类别：{category}\n请输入事项名称（1–{limit} 字），例如：“完成危房改造”。").format(
        category=category_label(category), limit=TITLE_MAX
    )


def title_not_text_text() -> str:
    return _("请用文字输入事项名称。")


def title_empty_text() -> str:
    return _("事项名称不能为空，请重新输入。")


def title_too_long_text(length: int) -> str:
    return _("事项名称太长了（{length} 字），最多 {limit} 字，请重新输入。").format(length=length, limit=TITLE_MAX)


def title_duplicate_text(title: str) -> str:
    return _("该户已经有名为“{title}”的计划事项了，请换一个名称。").format(title=escape(title))


def ask_due_text(title: str) -> str:
    return _("事项：{title}\n请选择截止日期，或直接输入日期（例如 2027-06-30、6月30日）：").format(
        title=escape(title)
    )


def due_keyboard(today: date, locale: str) -> InlineKeyboardMarkup:
    buttons = []
    for key, label in DUE_LABELS.items():
        due = preset_due(key, today)
        assert due is not None
        buttons.append(_button(f"{label}（{format_date(due, locale, 'short')}）", MsDueCB(key=key)))
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_cancel_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def due_unreadable_text() -> str:
    return _("没看懂这个日期。请点选下面的按钮，或按 2027-06-30、6月30日 这样的格式输入。")


def due_past_text(today: date, locale: str) -> str:
    return _("截止日期不能早于今天（{today}），请重新选择。").format(today=format_date(today, locale))


def due_too_far_text(limit: date, locale: str) -> str:
    return _("截止日期不能晚于 {limit}，请重新选择。").format(limit=format_date(limit, locale))


def due_not_text_text() -> str:
    return _("请点选下面的按钮，或用文字输入日期。")


def add_summary_text(head_name: str, category: MilestoneCategory, title: str, due: date, locale: str) -> str:
    return _("请确认要添加的计划事项：\n贫困户：{name}\n类别：{category}\n事项：{title}\n截止日期：{due}").format(
        name=escape(head_name), category=category_label(category), title=escape(title),
        due=format_date(due, locale),
    )


def add_confirm_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(_("确认"), MsActionCB(action="save")), _cancel_button()]]
    )


def added_text(title: str, due: date, locale: str) -> str:
    return _("已添加计划事项“{title}”，截止日期 {due}。").format(title=escape(title), due=format_date(due, locale))


def household_no_open_items_text() -> str:
    return _("该户没有未完成的计划事项。")


def choose_item_text(head_name: str) -> str:
    return _("{name} 家未完成的计划事项（⚠️ 表示已逾期）。请选择已经完成的一项：").format(name=escape(head_name))


def items_keyboard(items: Sequence[Milestone], today: date, locale: str, page: int) -> InlineKeyboardMarkup:
    buttons = []
    for item in items:
        mark = "⚠️ " if status_of(item, today) is Status.OVERDUE else ""
        label = f"{mark}{format_date(item.due_date, locale, 'short')} {item.title}"
        buttons.append(_button(_clip(label), MsPickCB(id=item.id)))
    rows, _page = _paged(buttons, page)
    rows.append([_cancel_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def ask_evidence_text(title: str) -> str:
    return _(
        "事项：{title}\n请发送完成情况的证明：一段文字说明，或一张照片（可以附说明文字）。"
    ).format(title=escape(title))


def evidence_received_text(has_text: bool, has_photo: bool) -> str:
    if has_text and has_photo:
        got = _("已收到文字说明和照片。")
    elif has_photo:
        got = _("已收到照片。")
    else:
        got = _("已收到文字说明。")
    return got + "\n" + _("还可以继续补充文字或照片（新照片会替换旧照片）；都好了请点“完成”。")


def evidence_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(_("完成"), MsActionCB(action="finish")), _cancel_button()]]
    )


def evidence_bad_text() -> str:
    return _("请发送文字说明或照片作为完成证明，或发送 /cancel 取消。")


def evidence_too_long_text() -> str:
    return _("说明文字太长了，合计最多 {limit} 字，请精简后重新发送。").format(limit=EVIDENCE_MAX)


def evidence_missing_text() -> str:
    return _("请先发送文字说明或照片。")


def done_summary_text(head_name: str, title: str, evidence_text: str | None, has_photo: bool) -> str:
    lines = [
        _("请确认把这一项标记为已完成："),
        household_line_text(head_name),
        _("事项：{title}").format(title=escape(title)),
    ]
    if evidence_text:
        lines.append(_("说明：{text}").format(text=escape(evidence_text)))
    lines.append(_("照片：已附") if has_photo else _("照片：无"))
    return "\n".join(lines)


def done_confirm_keyboard(milestone_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button(_("确认完成"), MsDoneCB(id=milestone_id)), _cancel_button()]]
    )


def marked_done_text(title: str, told: int) -> str:
    text = _("已将“{title}”标记为已完成。").format(title=escape(title))
    if told:
        text += "\n" + _("已通知该户。")
    return text


def already_done_text() -> str:
    return _("这一项已经标记为完成了，无需重复操作。")


def done_start_label() -> str:
    """The button of a reminder that starts marking its item done."""
    return _("标记完成")


def household_line_text(head_name: str) -> str:
    return _("贫困户：{name}").format(name=escape(head_name))


def done_start_unknown_text() -> str:
    return _("没有找到这个计划事项，请发送 /milestone 重新选择。")


def done_start_already_text(title: str, completed_on: date, locale: str) -> str:
    """An alert: plain text (not parsed as HTML), at most 200 characters, so the title is
    clipped and not escaped."""
    return _("“{title}”已于 {date} 完成，无需再标记。").format(
        title=_clip(title), date=format_date(completed_on, locale)
    )


def household_done_text(title: str, completed_on: date, locale: str) -> str:
    """To the household, in its language."""
    return _("您家的帮扶计划事项“{title}”已于 {date} 完成。发送 /plan 查看全部计划。").format(
        title=escape(title), date=format_date(completed_on, locale)
    )


# ----------------------------------------------------------------- dialog generic


def use_buttons_text() -> str:
    return _("请点选下面的按钮，或发送 /cancel 取消。")


def cancelled_text() -> str:
    return _("已取消，没有保存任何内容。")


def forbidden_text() -> str:
    return _("您不能为该户操作：它不是您帮扶的贫困户。")


def stale_text() -> str:
    return _("这个按钮已失效，请重新发送 /milestone。")


def invalid_choice_text() -> str:
    return _("这个选项无效，请重新选择。")


# ------------------------------------------------------------------------- /plan


def plan_item_text(item: Milestone, today: date, locale: str, completed_on: date | None) -> str:
    status = status_of(item, today)
    state = str(STATUS_LABELS[status])
    if status is Status.DONE and completed_on is not None:
        state = _("已完成（{date}）").format(date=format_date(completed_on, locale))
    details = " · ".join(
        [category_label(item.category), _("截止：{date}").format(date=format_date(item.due_date, locale)), state]
    )
    return f"{STATUS_ICONS[status]} <b>{escape(item.title)}</b>\n{details}"


def plan_messages(item_texts: Sequence[str]) -> list[str]:
    """The plan as one or more messages (items are never split)."""
    head = _("您家的帮扶计划：")
    messages: list[str] = []
    current = head
    for text in item_texts:
        if len(current) + len(text) + 2 > MESSAGE_BUDGET:
            messages.append(current)
            current = text
        else:
            current += "\n\n" + text
    messages.append(current)
    return messages


def no_plan_text() -> str:
    return _("您家目前还没有帮扶计划事项。有问题可以联系您的帮扶干部。")


def plan_hint_for_staff_text() -> str:
    return _("/plan 是贫困户查看自家帮扶计划用的。要查看某一户的计划，请发送 /households 并选择这一户。")
