"""Chat texts, keyboards and callback data of hardship requests (/hardship, /requests).

Everything returned is ready for parse_mode HTML: registry and user text is escaped (and
cut before escaping, never inside an entity), fixed texts go through gettext with Chinese
msgids. Callback data carries ids and short codes only, never user text.
Texts for another person (the cadre, the household) are rendered by the caller inside
`i18n.use_locale(<their locale>)` and given that locale for dates.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import format_date
from storage.enums import HardshipCategory, HardshipState
from storage.models import HardshipRequest
from storage.repositories.regions import display_path

TEXT_MAX = 2000  # characters of a household's description
OUTCOME_MAX = 2000  # characters of a cadre's outcome
PREVIEW = 60  # characters of a description or outcome shown in a list

CATEGORY_LABELS = {
    HardshipCategory.ILLNESS: __("疾病"),
    HardshipCategory.DISASTER: __("灾害"),
    HardshipCategory.JOB_LOSS: __("失业"),
    HardshipCategory.SCHOOL_COSTS: __("上学费用"),
    HardshipCategory.HOUSING_DAMAGE: __("住房损坏"),
    HardshipCategory.OTHER: __("其他"),
}

STATE_LABELS = {
    HardshipState.NEW: __("待受理"),
    HardshipState.ACKNOWLEDGED: __("已受理"),
    HardshipState.RESOLVED: __("已办结"),
    HardshipState.OVERDUE: __("已逾期"),
}


# --------------------------------------------------------------------- callback data


class HardshipCategoryCB(CallbackData, prefix="hc"):
    """A category button of the /hardship dialog; `cat` is a HardshipCategory value."""

    cat: str


class HardshipStepCB(CallbackData, prefix="hs"):
    """skip (the photo), submit or cancel in the /hardship dialog."""

    action: str


class HardshipActionCB(CallbackData, prefix="hr"):
    """A cadre's button on a request: ack (受理) or out (记录结果); `id` is the request."""

    action: str
    id: int


class RequestsPageCB(CallbackData, prefix="hp"):
    """/requests paging; the view is decided again from the presser's role on each press."""

    page: int


# ---------------------------------------------------------------------- small pieces


def category_label(category: HardshipCategory | str) -> str:
    try:
        return str(CATEGORY_LABELS[HardshipCategory(category)])
    except ValueError:
        return str(CATEGORY_LABELS[HardshipCategory.OTHER])


def local_date(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    return format_date(moment.astimezone(tz).date(), locale)


def clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------ the dialog texts


def not_bound_text() -> str:
    return _(
        "您还没有绑定身份。建档立卡户请使用工作人员发给您的邀请链接绑定后，"
        "再发送 /hardship 报告困难、发送 /requests 查看办理情况。"
    )


def households_only_text() -> str:
    return _("/hardship 只供建档立卡户报告困难使用。发送 /requests 可以查看困难报告。")


def ask_category_text() -> str:
    return _("请选择您新遇到的困难类型（随时发送 /cancel 可以取消）：")


def category_expected_text() -> str:
    return _("请点击下面的按钮选择困难类型，或发送 /cancel 取消。")


def ask_text_text(category: str) -> str:
    return _("困难类型：{category}\n请用文字说明具体情况（不超过 {max} 字）。").format(
        category=escape(category_label(category)), max=TEXT_MAX
    )


def text_expected_text() -> str:
    return _("请先用文字说明情况（不超过 {max} 字），照片可以在下一步发送。").format(max=TEXT_MAX)


def text_too_long_text(length: int) -> str:
    return _("说明太长了（{length} 字），请精简到 {max} 字以内后重新发送。").format(length=length, max=TEXT_MAX)


def ask_photo_text() -> str:
    return _("如果有照片（例如病历、受损的房屋），请现在发送一张照片；没有照片请点“跳过”。")


def photo_expected_text() -> str:
    return _("请发送一张照片，或点“跳过”。")


def summary_text(category: str, text: str, has_photo: bool) -> str:
    return _("请确认您的困难报告：\n类型：{category}\n情况：{text}\n照片：{photo}\n\n确认无误请点“提交”。").format(
        category=escape(category_label(category)),
        text=escape(text),
        photo=_("有") if has_photo else _("无"),
    )


def confirm_expected_text() -> str:
    return _("请点“提交”发送这份困难报告，或点“取消”。")


def cancelled_text() -> str:
    return _("已取消，困难报告没有提交。")


def filed_text(request_id: int, cadre_name: str, ack_due: str, outcome_due: str) -> str:
    return _(
        "您的困难报告（编号 {id}）已提交，帮扶干部{cadre}已收到通知。\n"
        "受理期限：{ack_due}\n办结期限：{outcome_due}\n发送 /requests 可以查看办理情况。"
    ).format(id=request_id, cadre=escape(cadre_name), ack_due=ack_due, outcome_due=outcome_due)


def filed_no_cadre_text(request_id: int, ack_due: str, outcome_due: str) -> str:
    return _(
        "您的困难报告（编号 {id}）已记录。目前无法直接通知您的帮扶干部，村里和乡镇会跟进处理。\n"
        "受理期限：{ack_due}\n办结期限：{outcome_due}\n发送 /requests 可以查看办理情况。"
    ).format(id=request_id, ack_due=ack_due, outcome_due=outcome_due)


def category_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for category in HardshipCategory:
        builder.button(text=category_label(category), callback_data=HardshipCategoryCB(cat=category.value))
    builder.button(text=_("取消"), callback_data=HardshipStepCB(action="cancel"))
    builder.adjust(3, 3, 1)
    return builder.as_markup()


def skip_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("跳过"), callback_data=HardshipStepCB(action="skip").pack()),
        InlineKeyboardButton(text=_("取消"), callback_data=HardshipStepCB(action="cancel").pack()),
    ]])


def confirm_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("提交"), callback_data=HardshipStepCB(action="submit").pack()),
        InlineKeyboardButton(text=_("取消"), callback_data=HardshipStepCB(action="cancel").pack()),
    ]])


def stale_step_text() -> str:
    return _("这个按钮已失效。发送 /hardship 重新开始报告困难。")


# ------------------------------------------------------------- the cadre's side


def cadre_new_request_text(
    request: HardshipRequest, head_name: str, reg_no: str, village_path: str, locale: str, tz: ZoneInfo
) -> str:
    return _(
        "🆘 新的困难报告（编号 {id}）\n户主：{name}（{reg_no}）\n所在村：{village}\n类型：{category}\n"
        "情况：{text}\n\n请在 {ack_due} 前受理。"
    ).format(
        id=request.id,
        name=escape(head_name),
        reg_no=escape(reg_no),
        village=escape(display_path(village_path)) if village_path else "—",
        category=escape(category_label(request.category)),
        text=escape(request.text),
        ack_due=local_date(request.ack_due_at, locale, tz),
    )


def cadre_photo_caption(request_id: int, head_name: str) -> str:
    return _("困难报告（编号 {id}，{name}）的照片").format(id=request_id, name=escape(clip(head_name, 64)))


def acknowledge_keyboard(request_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("受理"), callback_data=HardshipActionCB(action="ack", id=request_id).pack())
    ]])


def outcome_keyboard(request_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("记录结果"), callback_data=HardshipActionCB(action="out", id=request_id).pack())
    ]])


def acknowledged_text(request_id: int, outcome_due: str) -> str:
    return _("已受理困难报告（编号 {id}），并已告知贫困户。请在 {outcome_due} 前办理，办好后点“记录结果”。").format(
        id=request_id, outcome_due=outcome_due
    )


def acknowledged_toast() -> str:
    return _("已受理。")


def already_acknowledged_text() -> str:
    return _("这份困难报告已经受理过了。")


def not_yours_text() -> str:
    return _("这份困难报告不由您办理，或者已经不存在。")


def not_acknowledged_yet_text() -> str:
    return _("请先受理这份困难报告，再记录办理结果。")


def already_resolved_text() -> str:
    return _("这份困难报告已经办结了。")


def ask_outcome_text(request_id: int, head_name: str) -> str:
    return _("请输入困难报告（编号 {id}，{name}）的办理结果（不超过 {max} 字）。发送 /cancel 取消。").format(
        id=request_id, name=escape(head_name), max=OUTCOME_MAX
    )


def outcome_expected_text() -> str:
    return _("请用文字输入办理结果（不超过 {max} 字），或发送 /cancel 取消。").format(max=OUTCOME_MAX)


def outcome_too_long_text(length: int) -> str:
    return _("办理结果太长了（{length} 字），请精简到 {max} 字以内后重新发送。").format(
        length=length, max=OUTCOME_MAX
    )


def outcome_saved_text(request_id: int, delivered: bool) -> str:
    if delivered:
        return _("已记录困难报告（编号 {id}）的办理结果，并已告知贫困户。").format(id=request_id)
    return _("已记录困难报告（编号 {id}）的办理结果。贫困户没有绑定 Telegram，请另行告知。").format(id=request_id)


def outcome_cancelled_text() -> str:
    return _("已取消，没有记录办理结果。")


# ---------------------------------------------------------- the household's side


def household_acknowledged_text(request: HardshipRequest, cadre_name: str, locale: str, tz: ZoneInfo) -> str:
    return _("您报告的困难（编号 {id}，{category}）已由帮扶干部{cadre}受理，办结期限：{outcome_due}。").format(
        id=request.id,
        category=escape(category_label(request.category)),
        cadre=escape(cadre_name),
        outcome_due=local_date(request.outcome_due_at, locale, tz),
    )


def household_outcome_text(request: HardshipRequest) -> str:
    return _("您报告的困难（编号 {id}，{category}）已办结。\n办理结果：{outcome}").format(
        id=request.id, category=escape(category_label(request.category)), outcome=escape(request.outcome or "")
    )


# ------------------------------------------------------------------ /requests


def requests_header(kind: str, total: int) -> str:
    if kind == "household":
        return _("您的困难报告（共 {total} 份）：").format(total=total)
    if kind == "cadre":
        return _("您帮扶和督导的贫困户报告的困难（共 {total} 份）：").format(total=total)
    return _("辖区内的困难报告（共 {total} 份）：").format(total=total)


def requests_empty_text(kind: str) -> str:
    if kind == "household":
        return _("您还没有报告过困难。遇到新的困难时，可以发送 /hardship 报告。")
    if kind == "cadre":
        return _("您帮扶和督导的贫困户还没有报告过困难。")
    return _("辖区内还没有困难报告。")


def overdue_reason(request: HardshipRequest, now: datetime) -> str:
    if request.acknowledged_at is None and now > request.ack_due_at:
        return _("未按期受理")
    return _("未按期办结")


def request_item(
    request: HardshipRequest,
    state: HardshipState,
    now: datetime,
    locale: str,
    tz: ZoneInfo,
    *,
    show_household: bool,
    mark: str | None = None,
) -> str:
    head = f"<b>#{request.id} {escape(category_label(request.category))}</b> · {STATE_LABELS[state]}"
    if state is HardshipState.OVERDUE:
        head = "⚠️ " + head + _("（{reason}）").format(reason=overdue_reason(request, now))
    lines = [head]
    if show_household and request.household is not None:
        village = request.household.village
        lines.append(
            _("户主：{name}（{village}）").format(
                name=escape(request.household.head_name),
                village=escape(village.name) if village is not None else "—",
            )
        )
    if mark:
        lines.append(mark)
    lines.append(
        _("提交：{created}").format(created=local_date(request.created_at, locale, tz))
    )
    if request.acknowledged_at is None:
        lines.append(_("受理期限：{due}").format(due=local_date(request.ack_due_at, locale, tz)))
    else:
        lines.append(_("受理：{date}").format(date=local_date(request.acknowledged_at, locale, tz)))
    if request.resolved_at is None:
        lines.append(_("办结期限：{due}").format(due=local_date(request.outcome_due_at, locale, tz)))
    else:
        lines.append(_("办结：{date}").format(date=local_date(request.resolved_at, locale, tz)))
    lines.append(_("情况：{text}").format(text=escape(clip(request.text, PREVIEW))))
    if request.outcome:
        lines.append(_("结果：{outcome}").format(outcome=escape(clip(request.outcome, PREVIEW))))
    return "\n".join(lines)


def own_mark() -> str:
    return _("★ 我的帮扶户")


def supervised_mark(cadre_name: str | None) -> str:
    return _("督导：{cadre}的帮扶户").format(cadre=escape(cadre_name or "—"))


def page_line(page: int, pages: int) -> str:
    return _("第 {page}/{pages} 页").format(page=page + 1, pages=pages)


def requests_keyboard(
    actions: Sequence[tuple[str, int]], page: int, pages: int
) -> InlineKeyboardMarkup | None:
    """One button per actionable request (('ack'|'out', id)), then the paging row."""
    rows: list[list[InlineKeyboardButton]] = []
    for action, request_id in actions:
        label = _("受理 #{id}") if action == "ack" else _("记录结果 #{id}")
        rows.append([InlineKeyboardButton(
            text=label.format(id=request_id),
            callback_data=HardshipActionCB(action=action, id=request_id).pack(),
        )])
    paging: list[InlineKeyboardButton] = []
    if page > 0:
        paging.append(InlineKeyboardButton(
            text=_("◀ 上一页"), callback_data=RequestsPageCB(page=page - 1).pack()
        ))
    if page + 1 < pages:
        paging.append(InlineKeyboardButton(
            text=_("下一页 ▶"), callback_data=RequestsPageCB(page=page + 1).pack()
        ))
    if paging:
        rows.append(paging)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def requests_text(
    kind: str,
    items: Sequence[tuple[HardshipRequest, HardshipState]],
    total: int,
    page: int,
    pages: int,
    now: datetime,
    locale: str,
    tz: ZoneInfo,
    *,
    own_ids: Collection[int] = (),
) -> str:
    if total == 0:
        return requests_empty_text(kind)
    # In a cadre's list, marks appear once it mixes their own and supervised households.
    mixed = kind == "cadre" and any(r.id not in own_ids for r, _state in items)
    parts = [requests_header(kind, total)]
    for request, state in items:
        mark = None
        if mixed:
            mark = own_mark() if request.id in own_ids else supervised_mark(
                request.cadre.name if request.cadre is not None else None
            )
        parts.append(request_item(request, state, now, locale, tz, show_household=kind != "household", mark=mark))
    if pages > 1:
        parts.append(page_line(page, pages))
    return "\n\n".join(parts)


def page_stale_text() -> str:
    return _("这个按钮已失效，请重新发送 /requests。")
