"""Texts, keyboards and callback data of /visit, the household's confirmation and /flags.

Everything returned is ready for parse_mode HTML: names and notes are escaped, fixed
texts go through gettext (Chinese msgids). Callback data carries ids and short codes
only; dialog buttons carry the dialog's nonce, so a button of a finished or cancelled
dialog is recognised as stale. `VisitStartCB` (the 登记走访 button of a reminder or an
overdue alert, notifications/reminders.py) carries a household id instead: it starts a
new dialog on that household, re-checked on each press.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import format_date
from storage.enums import VisitConfirmation, VisitKind
from storage.repositories.visits import FlaggedVisit, HouseholdChoice

NOTES_PREVIEW = 300  # characters of the notes shown in the summary

# ------------------------------------------------------------------ callback data


class VisitStepCB(CallbackData, prefix="vw"):
    """A button of the /visit dialog. action: h (household, v=id), p (picker page, v=page),
    d (date, v=days back), k (kind, v=VisitKind), skip, save, cancel; d: the dialog nonce."""

    action: str
    d: str
    v: str = ""


class VisitStartCB(CallbackData, prefix="vst"):
    """Start the /visit dialog already on household `household_id` (next step: the date)."""

    household_id: int


class ConfirmCB(CallbackData, prefix="vc"):
    """是 / 否 under the question sent to a household; `id` is the visit."""

    id: int
    yes: int


class RateCB(CallbackData, prefix="vr"):
    id: int
    stars: int


class FlagsCB(CallbackData, prefix="vf"):
    page: int


# ---------------------------------------------------------------------- labels


def kind_label(kind: VisitKind) -> str:
    labels = {
        VisitKind.HOME: _("入户走访"),
        VisitKind.PHONE: _("电话联系"),
        VisitKind.MEETING: _("集中会面"),
    }
    return labels[kind]


def household_label(choice: HouseholdChoice) -> str:
    """Plain text (button labels are not parsed as HTML)."""
    return f"{choice.head_name}（{choice.village}）"


# ----------------------------------------------------------------- dialog texts


def pick_household_text() -> str:
    return _("请选择这次走访的贫困户：")


def no_households_text() -> str:
    return _("您目前没有结对帮扶的贫困户，无法登记走访。")


def ask_date_text(choice: HouseholdChoice, earliest: date, locale: str) -> str:
    return _(
        "贫困户：{household}\n\n走访是哪一天？请点下面的按钮，或直接输入日期（例如 11月20日）。"
        "可以登记 {earliest} 以来的走访。"
    ).format(household=escape(household_label(choice)), earliest=format_date(earliest, locale))


def date_unreadable_text() -> str:
    return _("没有看懂这个日期。请输入例如 2026-11-20 或 11月20日，或点下面的按钮。")


def date_future_text(value: date, locale: str) -> str:
    return _("走访日期不能是将来的日子（{date}）。请重新输入走访日期。").format(date=format_date(value, locale))


def date_too_old_text(value: date, days: int, locale: str) -> str:
    return _("只能登记最近 {days} 天内的走访，{date} 太早了。请重新输入走访日期。").format(
        days=days, date=format_date(value, locale)
    )


def ask_kind_text() -> str:
    return _("走访方式是？请点下面的按钮选择。")


def ask_notes_text(limit: int) -> str:
    return _("请用文字简要记录这次走访的情况（必填，最多 {max} 字）。").format(max=limit)


def notes_not_text_text() -> str:
    return _("这一步需要文字：请输入这次走访的情况。")


def notes_too_long_text(length: int, limit: int) -> str:
    return _("记录太长了（{length} 字），最多 {max} 字。请精简后重新发送。").format(length=length, max=limit)


def ask_location_text() -> str:
    return _("如果在现场，可以发送位置（📎 → 位置）。不发送位置请点“跳过”。")


def location_expected_text() -> str:
    return _("这一步需要发送位置，或者点“跳过”。")


def ask_photo_text() -> str:
    return _("可以发送一张走访照片。不发送照片请点“跳过”。")


def photo_expected_text() -> str:
    return _("这一步需要发送照片，或者点“跳过”。")


def buttons_expected_text() -> str:
    return _("请点下面的按钮选择。")


def summary_text(
    choice: HouseholdChoice,
    visited_on: date,
    kind: VisitKind,
    notes: str,
    has_location: bool,
    has_photo: bool,
    locale: str,
) -> str:
    shown = notes if len(notes) <= NOTES_PREVIEW else notes[:NOTES_PREVIEW] + "…"
    lines = [
        _("请确认走访记录："),
        _("贫困户：{household}").format(household=escape(household_label(choice))),
        _("日期：{date}").format(date=format_date(visited_on, locale)),
        _("方式：{kind}").format(kind=kind_label(kind)),
        _("记录：{notes}").format(notes=escape(shown)),
        _("位置：{value}").format(value=_("已提供") if has_location else _("未提供")),
        _("照片：{value}").format(value=_("已附") if has_photo else _("未附")),
    ]
    return "\n".join(lines)


def saved_text(household_name: str, asked: bool, delivered: int) -> str:
    head = _("走访记录已保存。")
    if not asked:
        tail = _("{household} 还没有绑定账号，不会请他们确认这次走访。").format(household=escape(household_name))
    elif delivered:
        tail = _("已请 {household} 确认这次走访。").format(household=escape(household_name))
    else:
        tail = _("没能把确认请求发给 {household}（对方可能屏蔽了机器人），没有回复的走访会被标记为存疑。").format(
            household=escape(household_name)
        )
    return f"{head}\n{tail}"


def save_forbidden_text() -> str:
    return _("您不能为这户登记走访（不是您帮扶的贫困户）。走访没有保存。")


def save_bad_date_text(days: int) -> str:
    return _("走访日期已经超出最近 {days} 天，走访没有保存。请重新发送 /visit 登记。").format(days=days)


def cancelled_text() -> str:
    return _("已取消，走访没有保存。")


def stale_dialog_text() -> str:
    return _("这个按钮已失效，请重新发送 /visit。")


def forbidden_household_text() -> str:
    return _("您不能为这户登记走访。")


def start_label() -> str:
    """The button of a reminder that starts /visit on its household."""
    return _("登记走访")


def start_forbidden_text() -> str:
    return _("您不能为这户登记走访：它目前不是您帮扶的贫困户。")


def start_lifted_text() -> str:
    return _("这户已标注为已脱贫，这条走访提醒已不再有效。")


# ------------------------------------------------------------------ dialog keyboards


def picker_keyboard(nonce: str, choices: Sequence[HouseholdChoice], page: int, pages: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for choice in choices:
        kb.button(text=household_label(choice), callback_data=VisitStepCB(action="h", d=nonce, v=str(choice.id)))
    sizes = [1] * len(choices)
    nav = 0
    if page > 0:
        kb.button(text=_("◀ 上一页"), callback_data=VisitStepCB(action="p", d=nonce, v=str(page - 1)))
        nav += 1
    if page + 1 < pages:
        kb.button(text=_("下一页 ▶"), callback_data=VisitStepCB(action="p", d=nonce, v=str(page + 1)))
        nav += 1
    if nav:
        sizes.append(nav)
    kb.button(text=_("取消"), callback_data=VisitStepCB(action="cancel", d=nonce))
    sizes.append(1)
    kb.adjust(*sizes)
    return kb.as_markup()


def date_keyboard(nonce: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for back, label in ((0, _("今天")), (1, _("昨天")), (2, _("前天"))):
        kb.button(text=label, callback_data=VisitStepCB(action="d", d=nonce, v=str(back)))
    kb.button(text=_("取消"), callback_data=VisitStepCB(action="cancel", d=nonce))
    kb.adjust(3, 1)
    return kb.as_markup()


def kind_keyboard(nonce: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for kind in VisitKind:
        kb.button(text=kind_label(kind), callback_data=VisitStepCB(action="k", d=nonce, v=kind.value))
    kb.button(text=_("取消"), callback_data=VisitStepCB(action="cancel", d=nonce))
    kb.adjust(3, 1)
    return kb.as_markup()


def skip_keyboard(nonce: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("跳过"), callback_data=VisitStepCB(action="skip", d=nonce))
    kb.button(text=_("取消"), callback_data=VisitStepCB(action="cancel", d=nonce))
    kb.adjust(2)
    return kb.as_markup()


def summary_keyboard(nonce: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("确认保存"), callback_data=VisitStepCB(action="save", d=nonce))
    kb.button(text=_("取消"), callback_data=VisitStepCB(action="cancel", d=nonce))
    kb.adjust(2)
    return kb.as_markup()


# --------------------------------------------------------------- the household's side


def confirm_question_text(cadre_name: str, visited_on: date, kind: VisitKind, locale: str) -> str:
    return _("帮扶干部 {cadre} 登记了一次对您家的走访：{date}，{kind}。\n请问这次走访确实发生了吗？").format(
        cadre=escape(cadre_name), date=format_date(visited_on, locale), kind=kind_label(kind)
    )


def confirm_keyboard(visit_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("是"), callback_data=ConfirmCB(id=visit_id, yes=1))
    kb.button(text=_("否"), callback_data=ConfirmCB(id=visit_id, yes=0))
    kb.adjust(2)
    return kb.as_markup()


def ask_rating_text() -> str:
    return _("谢谢您的确认！请给这次走访打个分（1 到 5 分，5 分最满意）：")


def rating_keyboard(visit_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for stars in range(1, 6):
        kb.button(text=str(stars), callback_data=RateCB(id=visit_id, stars=stars))
    kb.adjust(5)
    return kb.as_markup()


def denied_text() -> str:
    return _("谢谢您告诉我们。这条走访记录已标记为存疑，将由上级核实。")


def rated_text(stars: int) -> str:
    return _("谢谢您的评价（{stars} 分）！").format(stars=stars)


def already_answered_text() -> str:
    return _("您已经回答过这次走访了。")


def not_your_visit_text() -> str:
    return _("这条走访记录与您无关，不能由您确认。")


def already_rated_text() -> str:
    return _("您已经为这次走访评过分了。")


def rate_after_confirm_text() -> str:
    return _("请先确认这次走访，再评分。")


def rating_range_text() -> str:
    return _("评分只能是 1 到 5 分。")


# ------------------------------------------------------------------------- /flags


def flags_refused_text() -> str:
    return _("只有管理员和负责督导其他干部的干部可以查看存疑的走访记录。")


def no_flags_text() -> str:
    return _("目前没有存疑的走访记录。")


def flag_reason(row: FlaggedVisit, answer_within_days: int) -> str:
    if row.confirmation is VisitConfirmation.DENIED:
        return _("贫困户表示没有这次走访")
    if row.confirmation is VisitConfirmation.EXPIRED:
        return _("贫困户 {days} 天内没有确认").format(days=answer_within_days)
    return _("其他")


def flags_text(
    rows: Sequence[FlaggedVisit], total: int, page: int, pages: int, answer_within_days: int, locale: str
) -> str:
    lines = [_("存疑的走访记录（共 {total} 条，第 {page}/{pages} 页）：").format(total=total, page=page + 1, pages=pages)]
    for row in rows:
        lines.append("")
        lines.append(
            _("📅 {date} · {household}（{village}）").format(
                date=format_date(row.visited_on, locale), household=escape(row.household_name),
                village=escape(row.village),
            )
        )
        lines.append(_("干部：{cadre} · {kind}").format(cadre=escape(row.cadre_name), kind=kind_label(row.kind)))
        lines.append(_("原因：{reason}").format(reason=flag_reason(row, answer_within_days)))
        if row.rating is not None:
            lines.append(_("评分：{rating}").format(rating=row.rating))
    return "\n".join(lines)


def flags_keyboard(page: int, pages: int) -> InlineKeyboardMarkup | None:
    if pages <= 1:
        return None
    kb = InlineKeyboardBuilder()
    if page > 0:
        kb.button(text=_("◀ 上一页"), callback_data=FlagsCB(page=page - 1))
    if page + 1 < pages:
        kb.button(text=_("下一页 ▶"), callback_data=FlagsCB(page=page + 1))
    kb.adjust(2)
    return kb.as_markup()
