"""Chat texts, keyboards and callback data of /broadcast and /broadcasts, and the texts of
the BROADCAST_REPORT notice.

Fixed texts go through gettext with Chinese msgids; registry names are escaped. Callback
data carries short codes and ids only, never user text; every press is re-checked by the
handlers. A broadcast's own text is stored as Telegram HTML already (the admin's message
`html_text`, or the escaped CLI text) and shown as is.
"""

from __future__ import annotations

import re
from datetime import datetime
from html import escape, unescape
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext

from bot.i18n import format_datetime
from storage.enums import CAUSE_LABELS, BroadcastState, HouseholdStatus, PovertyCause
from storage.models import Broadcast, Region
from storage.repositories.broadcasts import Audience, Progress
from storage.repositories.regions import display_path

PAGE_SIZE = 5
PREVIEW = 40  # characters of a broadcast's text in /broadcasts

ROLE_LABELS = {
    "household": __("贫困户"),
    "cadre": __("帮扶干部"),
    "admin": __("管理员"),
    "all": __("全部用户"),
}

STATUS_LABELS = {
    HouseholdStatus.NOT_LIFTED.value: __("未脱贫"),
    HouseholdStatus.LIFTED.value: __("已脱贫"),
    HouseholdStatus.RETURNED.value: __("返贫"),
}

CAUSE_NAMES = {
    PovertyCause.ILLNESS: __("因病"),
    PovertyCause.DISABILITY: __("因残"),
    PovertyCause.SCHOOLING: __("因学"),
    PovertyCause.DISASTER: __("因灾"),
    PovertyCause.LACK_LAND: __("缺土地"),
    PovertyCause.LACK_WATER: __("缺水"),
    PovertyCause.LACK_SKILLS: __("缺技术"),
    PovertyCause.LACK_LABOUR: __("缺劳力"),
    PovertyCause.LACK_FUNDS: __("缺资金"),
    PovertyCause.POOR_TRANSPORT: __("交通条件落后"),
    PovertyCause.LACK_MOTIVATION: __("自身发展动力不足"),
}
assert set(CAUSE_NAMES) == set(CAUSE_LABELS)

STATE_LABELS = {
    BroadcastState.SCHEDULED: __("待发送"),
    BroadcastState.SENDING: __("发送中"),
    BroadcastState.DONE: __("已完成"),
    BroadcastState.CANCELLED: __("已取消"),
}

LANGUAGE_LABELS = {"ko": __("韩文"), "en": __("英文")}


# --------------------------------------------------------------------- callback data


class BcStepCB(CallbackData, prefix="bs"):
    """A step button of /broadcast: skip, lang_ko, lang_en, next, cancel, back, confirm, when
    (back to the time step), last_test (the last list of test accounts)."""

    action: str


class BcRoleCB(CallbackData, prefix="br"):
    role: str


class BcRegionCB(CallbackData, prefix="bg"):
    """in (drill down to `id`), up (to the parent of the current region), ok (use it)."""

    action: str
    id: int = 0


class BcRegionPageCB(CallbackData, prefix="bn"):
    """Region picker paging: show page `page` of the children of region `id`."""

    id: int
    page: int


class BcFilterCB(CallbackData, prefix="bf"):
    """stu (toggle students), st (status value or 'any'), c (toggle cause bit), done."""

    kind: str
    value: str = ""


class BcWhenCB(CallbackData, prefix="bw"):
    """now, t20 (today 20:00), m08 / m09 (tomorrow 08:00 / 09:00), test (to me first),
    named (to me and named test accounts)."""

    when: str


class BcListCB(CallbackData, prefix="bl"):
    """/broadcasts: page (`id` = page number) or cancel (`id` = broadcast)."""

    action: str
    id: int


# ----------------------------------------------------------------------- keyboards


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def cancel_row() -> list[InlineKeyboardButton]:
    return [_button(_("取消"), BcStepCB(action="cancel"))]


def skip_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("跳过"), BcStepCB(action="skip")), *cancel_row()]])


def languages_keyboard(done: set[str]) -> InlineKeyboardMarkup:
    row = [
        _button(("✓ " if code in done else "") + _("添加{language}文本").format(language=str(label)),
                BcStepCB(action=f"lang_{code}"))
        for code, label in LANGUAGE_LABELS.items()
    ]
    return InlineKeyboardMarkup(inline_keyboard=[row, [_button(_("下一步"), BcStepCB(action="next")), *cancel_row()]])


def role_keyboard() -> InlineKeyboardMarkup:
    rows = [[_button(str(ROLE_LABELS[r]), BcRoleCB(role=r)) for r in ("household", "cadre")],
            [_button(str(ROLE_LABELS[r]), BcRoleCB(role=r)) for r in ("admin", "all")],
            cancel_row()]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def region_keyboard(
    children: list[Region], can_go_up: bool, region_id: int = 0, page: int = 0, pages: int = 1
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    buttons = [_button(child.name, BcRegionCB(action="in", id=child.id)) for child in children]
    for start in range(0, len(buttons), 3):
        rows.append(buttons[start : start + 3])
    paging = []
    if page > 0:
        paging.append(_button(_("上一页"), BcRegionPageCB(id=region_id, page=page - 1)))
    if page + 1 < pages:
        paging.append(_button(_("下一页"), BcRegionPageCB(id=region_id, page=page + 1)))
    if paging:
        rows.append(paging)
    nav = [_button(_("就选这里"), BcRegionCB(action="ok"))]
    if can_go_up:
        nav.insert(0, _button(_("上一级"), BcRegionCB(action="up")))
    rows.append(nav)
    rows.append(cancel_row())
    return InlineKeyboardMarkup(inline_keyboard=rows)


def filters_keyboard(audience: Audience) -> InlineKeyboardMarkup:
    mark = "✓ "
    rows = [[_button((mark if audience.students else "") + _("有在校学生"), BcFilterCB(kind="stu"))]]
    statuses = [_button((mark if audience.status is None else "") + _("全部状态"), BcFilterCB(kind="st", value="any"))]
    statuses += [
        _button((mark if audience.status == code else "") + str(label), BcFilterCB(kind="st", value=code))
        for code, label in STATUS_LABELS.items()
    ]
    rows.append(statuses)
    causes = [
        _button((mark if audience.causes & int(cause) else "") + str(label), BcFilterCB(kind="c", value=str(int(cause))))
        for cause, label in CAUSE_NAMES.items()
    ]
    for start in range(0, len(causes), 3):
        rows.append(causes[start : start + 3])
    rows.append([_button(_("完成"), BcFilterCB(kind="done")), *cancel_row()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def when_keyboard(offer_tonight: bool) -> InlineKeyboardMarkup:
    times = [_button(_("明天08:00"), BcWhenCB(when="m08")), _button(_("明天09:00"), BcWhenCB(when="m09"))]
    if offer_tonight:
        times.insert(0, _button(_("今天20:00"), BcWhenCB(when="t20")))
    rows = [
        [_button(_("立即发送"), BcWhenCB(when="now"))],
        times,
        [_button(_("先发给我测试"), BcWhenCB(when="test")), _button(_("发给测试账号"), BcWhenCB(when="named"))],
        [_button(_("重新选择对象"), BcStepCB(action="back")), *cancel_row()],
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def test_names_keyboard(remembered: bool) -> InlineKeyboardMarkup:
    rows = [[_button(_("用上次的名单"), BcStepCB(action="last_test"))]] if remembered else []
    rows.append([_button(_("返回"), BcStepCB(action="when")), *cancel_row()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def empty_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("重新选择对象"), BcStepCB(action="back")), *cancel_row()]])


def confirm_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [_button(_("确认发送"), BcStepCB(action="confirm"))],
        [_button(_("返回"), BcStepCB(action="when")), *cancel_row()],
    ])


def list_keyboard(cancellable: list[int], page: int, pages: int) -> InlineKeyboardMarkup | None:
    rows = [[_button(_("取消广播 #{id}").format(id=bid), BcListCB(action="cancel", id=bid))] for bid in cancellable]
    nav = []
    if page > 0:
        nav.append(_button(_("上一页"), BcListCB(action="page", id=page - 1)))
    if page + 1 < pages:
        nav.append(_button(_("下一页"), BcListCB(action="page", id=page + 1)))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


# -------------------------------------------------------------------------- texts


def admins_only_text() -> str:
    return _("/broadcast 和 /broadcasts 只供管理员使用。")


def ask_text_text() -> str:
    return _("请发送要广播的文字（1–{max} 字；随时发送 /cancel 可以取消）。").format(max=4096)


def text_expected_text() -> str:
    return _("请发送文字内容（1–{max} 字），或发送 /cancel 取消。").format(max=4096)


def text_too_long_text(length: int, limit: int) -> str:
    return _("文字太长：{length} 字，最多 {max} 字。请缩短后重新发送。").format(length=length, max=limit)


def ask_media_text() -> str:
    return _("如需附带图片或文件，请现在发送；不需要请点“跳过”。")


def media_expected_text() -> str:
    return _("请发送一张图片或一个文件，或点“跳过”。")


def caption_too_long_text(limit: int) -> str:
    return _("带图片或文件时，每种语言的文字最多 {max} 字。请点“跳过”不带附件，或发送 /cancel 重新开始。").format(
        max=limit
    )


def ask_languages_text() -> str:
    return _("可以另外添加韩文、英文文本（没有的语言使用中文文本）。完成后点“下一步”。")


def ask_language_text(code: str) -> str:
    return _("请发送{language}文本。").format(language=str(LANGUAGE_LABELS.get(code, code)))


def ask_role_text() -> str:
    return _("请选择发送对象：")


def role_expected_text() -> str:
    return _("请点击按钮选择，或发送 /cancel 取消。")


def region_text(path: str, page: int = 0, pages: int = 1) -> str:
    text = _("发送范围：{region}\n可以选择下级地区，或点“就选这里”。").format(region=escape(display_path(path)))
    if pages > 1:
        text += "\n" + _("下级地区第 {page}/{pages} 页").format(page=page + 1, pages=pages)
    return text


def ask_filters_text() -> str:
    return _("可以按条件筛选贫困户（可多选），完成后点“完成”。")


def audience_text(audience: Audience) -> str:
    parts = [str(ROLE_LABELS[audience.role]), escape(display_path(audience.path))]
    if audience.students:
        parts.append(_("有在校学生"))
    if audience.status:
        parts.append(str(STATUS_LABELS[audience.status]))
    causes = [str(label) for cause, label in CAUSE_NAMES.items() if audience.causes & int(cause)]
    if causes:
        parts.append("/".join(causes))
    return "，".join(parts)


def preview_text(audience: Audience, count: int, has_media: bool, languages: list[str]) -> str:
    lines = [
        _("预览如上。"),
        _("发送对象：{audience}").format(audience=audience_text(audience)),
        _("接收人数：{count}").format(count=count),
    ]
    if languages:
        lines.append(_("另有文本：{languages}").format(
            languages="、".join(str(LANGUAGE_LABELS[code]) for code in languages)))
    if has_media:
        lines.append(_("附件：有"))
    lines.append(_("请选择发送时间，或直接输入时间，如 2026-12-01 09:00。"))
    return "\n".join(lines)


def ask_when_text() -> str:
    return _("请选择发送时间，或直接输入时间，如 2026-12-01 09:00。")


def empty_audience_text() -> str:
    return _("没有符合条件的接收人，没有创建广播。请重新选择发送对象。")


def bad_time_text() -> str:
    return _("无法识别这个时间。请输入如 2026-12-01 09:00 的时间，或点击按钮。")


def past_time_text() -> str:
    return _("这个时间已经过去了，请选择以后的时间。")


def confirm_text(count: int, when: str | None, held: bool) -> str:
    if when is None:
        text = _("确认立即发送给 {count} 人？").format(count=count)
    else:
        text = _("确认于 {when} 发送给 {count} 人？").format(when=when, count=count)
    if held:
        text += "\n" + _("（这个时间在免打扰时段内，将在免打扰结束后发出。）")
    return text


def created_text(broadcast_id: int, count: int, when: str | None) -> str:
    if when is None:
        return _("广播 #{id} 已开始发送，接收人 {count} 人。发送 /broadcasts 查看进度。").format(
            id=broadcast_id, count=count
        )
    return _("广播 #{id} 已安排于 {when} 发送，目前接收人 {count} 人。发送 /broadcasts 查看或取消。").format(
        id=broadcast_id, when=when, count=count
    )


def test_sent_text(broadcast_id: int) -> str:
    return _("测试广播 #{id} 只发给您本人，稍后就会收到。确认无误后请选择正式发送的时间。").format(id=broadcast_id)


def names_text(names: list[str]) -> str:
    return "、".join(escape(name) for name in names)


def ask_test_names_text(max_names: int, remembered: list[str]) -> str:
    text = _("请发送测试账号的 Telegram 用户 ID 或 @用户名，用空格或逗号分隔，最多 {max} 个。测试广播会发给这些账号和您本人。").format(
        max=max_names
    )
    if remembered:
        text += "\n" + _("上次的测试名单：{names}").format(names=names_text(remembered))
    return text


def test_names_expected_text(max_names: int) -> str:
    return _("请发送 Telegram 用户 ID 或 @用户名（最多 {max} 个），或点“返回”。").format(max=max_names)


def too_many_names_text(max_names: int) -> str:
    return _("最多 {max} 个测试账号，请减少后重新发送。").format(max=max_names)


NAME_SHOWN_MAX = 40  # characters of one rejected name echoed back
NAMES_SHOWN_MAX = 10  # rejected names echoed back, then "等 N 个"


def clip_name(name: str, limit: int = NAME_SHOWN_MAX) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def names_not_found_text(names: list[str]) -> str:
    """The rejected names, each clipped and at most NAMES_SHOWN_MAX of them: they are
    whatever the admin typed, and a 4,000-character token must not push the reply past
    Telegram's 4,096."""
    shown = names_text([clip_name(name) for name in names[:NAMES_SHOWN_MAX]])
    if len(names) > NAMES_SHOWN_MAX:
        shown += " " + ngettext("等 {count} 个", "等 {count} 个", len(names)).format(count=len(names))
    return _("以下账号在您的管辖范围内未找到：{names}").format(names=shown)


def named_test_sent_text(broadcast_id: int, names: list[str]) -> str:
    return _("测试广播 #{id} 已发给您和 {names}：您稍后就会收到；在免打扰时段内，他们要到早上才会收到。确认无误后请选择正式发送的时间。").format(
        id=broadcast_id, names=names_text(names)
    )


def cancelled_text() -> str:
    return _("已取消，没有发送广播。")


def stale_text() -> str:
    return _("这个按钮已失效。发送 /broadcast 重新开始。")


def out_of_scope_text() -> str:
    return _("这个地区不在您的管辖范围内。")


def when_text(moment: datetime, locale: str, tz: ZoneInfo) -> str:
    return format_datetime(moment, locale, tz, fmt="short")


def progress_line(progress: Progress) -> str:
    return _("待发 {queued} · 已发 {sent} · 失败 {failed} · 已屏蔽 {blocked} · 已取消 {cancelled}").format(
        queued=progress.queued, sent=progress.sent, failed=progress.failed,
        blocked=progress.blocked, cancelled=progress.cancelled,
    )


def clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(html_text: str) -> str:
    """A stored broadcast text (HTML) for a one-line excerpt: tags dropped, entities decoded
    (the caller escapes again)."""
    return unescape(re.sub(r"<[^>]+>", "", html_text))


def list_text(
    items: list[Broadcast], progress: dict[int, Progress], total: int, page: int, pages: int, locale: str, tz: ZoneInfo
) -> str:
    if not items:
        return _("您的管辖范围内还没有广播。")
    lines = [_("广播（共 {total} 条，第 {page}/{pages} 页）：").format(total=total, page=page + 1, pages=pages)]
    for item in items:
        head = _("#{id} {state} · {when} · {recipients} 人").format(
            id=item.id,
            state=str(STATE_LABELS[item.state]),
            when=when_text(item.send_at, locale, tz),
            recipients=item.recipients,
        )
        if item.test_only:
            head += " · " + _("测试")
        lines.append("")
        lines.append(head)
        lines.append(escape(clip(_plain(item.texts.get("zh_Hans", "")), PREVIEW)))
        lines.append(progress_line(progress.get(item.id, Progress())))
    return "\n".join(lines)


def cancel_done_text(broadcast_id: int) -> str:
    return _("广播 #{id} 已取消，尚未发出的消息不会再发送。").format(id=broadcast_id)


def cancel_refused_text() -> str:
    return _("这条广播已经结束或不在您的管辖范围内，无法取消。")


def report_text(broadcast: Broadcast, progress: Progress) -> str:
    """BROADCAST_REPORT: the final report to the admin (rendered in the admin's language)."""
    return "\n".join([
        _("广播 #{id} 已发送完毕。").format(id=broadcast.id),
        escape(clip(_plain(broadcast.texts.get("zh_Hans", "")), PREVIEW)),
        _("接收人：{count}").format(count=broadcast.recipients),
        progress_line(progress),
    ])
