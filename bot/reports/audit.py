"""The audit trail for admins (issue #6 part 3): display rows, the /audit page, CSV.

Entries come from storage/repositories/audit.py, scoped to the admin's region subtree
(entries without a region only for province-wide admins). A row shows the local time
(settings.tz, Babel per locale), who acted (命令行 for the CLI, or the account's role with
a cadre's name, a household's reg_no or an admin's region and @username: never phones or
ID numbers; these describe the account's current binding, so they are shown only when the
cadre's region, the household's village or the admin's region lies in the viewer's scope,
else just 账户 #id), the action as a translated label (unknown actions raw), the region path and a
short summary of the details (counts, dates, categories: nothing personal).

Paging is keyset: the ▶ button carries the (at, id) of the page's last entry ("older than
this"), ◀ the first entry's ("newer than this"). Callback data can be forged: a cursor that
is out of range or points nowhere restarts at the newest page, and the entries are always
read within the presser's scope, so a forged cursor reveals nothing.

The CSV (for `fupin-bot audit`) has fixed English headers and raw values: the actor as
stored ('cli', 'account:<id>'), the action code, the full region path (empty:
province-wide), the details as compact JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import format_date, format_datetime
from storage.enums import HardshipCategory, MilestoneCategory, Role
from storage.repositories.audit import ActorInfo, AuditEntry, AuditRepository, Cursor, is_province
from storage.repositories.regions import display_path

PAGE_SIZE = 10
SUMMARY_LIMIT = 80
REGION_LIMIT = 60
LABEL_LIMIT = 40
NAME_LIMIT = 32
CSV_HEADER = ("at", "actor", "action", "region", "object_type", "object_id", "details")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns

ACTION_LABELS = {
    "import.households": __("导入贫困户名册"),
    "import.cadres": __("导入干部名册"),
    "import.pairings": __("导入结对关系"),
    "import.milestones": __("导入帮扶计划事项"),
    "invitation.create": __("生成邀请码"),
    "account.bind": __("绑定身份"),
    "broadcast.create": __("发布广播"),
    "broadcast.cancel": __("取消广播"),
    "milestone.add": __("添加计划事项"),
    "milestone.done": __("完成计划事项"),
    "policy.reload": __("重新加载政策库"),
    "hardship.file": __("报告困难"),
    "hardship.acknowledge": __("受理困难报告"),
    "hardship.resolve": __("记录困难办理结果"),
}

ROLE_IS = {  # the role an invitation or a binding is for
    "household": __("身份：贫困户"),
    "cadre": __("身份：帮扶干部"),
    "admin": __("身份：管理员"),
}
ROLE_WAS = {  # the role an account had before it was bound again
    "household": __("原身份：贫困户"),
    "cadre": __("原身份：帮扶干部"),
    "admin": __("原身份：管理员"),
}


# --------------------------------------------------------------------- callback data


class AuditPageCB(CallbackData, prefix="au"):
    """A page of /audit: `dir` 'o' = entries older than (at, id), 'n' = newer than it,
    anything else = the newest page; `at` in microseconds since the epoch (UTC)."""

    dir: str
    at: int
    id: int


def encode_cursor(cursor: Cursor) -> tuple[int, int]:
    at, entry_id = cursor
    delta = at.astimezone(UTC) - EPOCH
    return (delta // timedelta(microseconds=1), entry_id)


def decode_cursor(at_us: int, entry_id: int) -> Cursor | None:
    """The cursor a button carries, or None when it cannot be one (forged): an id outside
    1..MAX_ID (the database's integer; PostgreSQL refuses larger ones) or a time Python
    cannot represent."""
    if not 1 <= entry_id <= MAX_ID:
        return None
    try:
        return (EPOCH + timedelta(microseconds=at_us), entry_id)
    except (OverflowError, ValueError):
        return None


# -------------------------------------------------------------------------- display


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: str
    actor: str
    action: str
    region: str
    summary: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int  # 1-based
    pages: int
    scope: str  # displayed scope of the admin
    first: Cursor | None
    last: Cursor | None
    has_newer: bool
    has_older: bool


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def scope_label(path: str | None) -> str:
    return _("全省") if is_province(path) else display_path(path or "")


def region_label(path: str | None) -> str:
    return _("全省") if path is None else scope_label(path)


def account_id_of(actor: str) -> int | None:
    prefix, _sep, rest = actor.partition(":")
    if prefix != "account" or not rest.isdigit():
        return None
    return int(rest)


def actor_label(actor: str, infos: dict[int, ActorInfo]) -> str:
    """Who acted, from `infos` (AuditRepository.actors, already limited to the viewer's
    scope): an account whose binding may not be shown is a bare 账户 #id."""
    if actor == "cli":
        return _("命令行")
    if actor == "system":
        return _("系统")
    account_id = account_id_of(actor)
    if account_id is None:
        return actor
    info = infos.get(account_id)
    neutral = _("账户 #{id}").format(id=account_id)
    if info is None or info.role is None:
        return neutral
    if info.role is Role.ADMIN:
        text = _("管理员（{scope}）").format(scope=_clip(scope_label(info.admin_region_path), REGION_LIMIT))
        return f"{text} @{info.username}" if info.username else text
    if info.role is Role.CADRE:
        if not info.cadre_name:
            return neutral
        return _("帮扶干部 {name}").format(name=_clip(info.cadre_name, NAME_LIMIT))
    if not info.household_reg_no:
        return neutral
    return _("贫困户 {reg_no}").format(reg_no=_clip(info.household_reg_no, NAME_LIMIT))


def _int(details: dict[str, Any], key: str) -> int:
    value = details.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _role(labels: dict[str, Any], value: Any) -> str:
    label = labels.get(str(value))
    return str(label) if label is not None else ""


def _local_date(raw: Any, locale: str, tz: ZoneInfo, *, with_time: bool = False) -> str | None:
    """An ISO date or date-time of the details, shown in the local zone (None if it is not one)."""
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if value.tzinfo is None:
        return format_date(value.date(), locale)
    if with_time:
        return format_datetime(value, locale, tz, "short")
    return format_date(value.astimezone(tz).date(), locale)


def _milestone_category(raw: Any) -> str:
    from bot.work.milestones_render import category_label

    try:
        return category_label(MilestoneCategory(raw))
    except ValueError:
        return ""


def _hardship_category(raw: Any) -> str:
    from bot.work.hardship_render import category_label

    try:
        return category_label(HardshipCategory(raw))
    except ValueError:
        return ""


def details_summary(action: str, details: dict[str, Any], locale: str, tz: ZoneInfo) -> str:
    """A short, non-personal summary of an entry's details ("" when there is nothing)."""
    details = details if isinstance(details, dict) else {}
    parts: list[str] = []
    if action.startswith("import."):
        rows = _int(details, "rows")
        parts.append(ngettext(
            "共 {rows} 行：新增 {created}，更新 {updated}，未变 {unchanged}，跳过 {skipped}",
            "共 {rows} 行：新增 {created}，更新 {updated}，未变 {unchanged}，跳过 {skipped}",
            rows,
        ).format(
            rows=rows, created=_int(details, "created"), updated=_int(details, "updated"),
            unchanged=_int(details, "unchanged"), skipped=_int(details, "skipped"),
        ))
        if "closed" in details:
            closed = _int(details, "closed")
            parts.append(ngettext("结束 {count} 个结对", "结束 {count} 个结对", closed).format(count=closed))
    elif action == "invitation.create":
        parts.append(_role(ROLE_IS, details.get("role")))
        if until := _local_date(details.get("expires_at"), locale, tz):
            parts.append(_("有效期至 {date}").format(date=until))
        if details.get("bulk"):
            parts.append(_("批量生成"))
    elif action == "account.bind":
        parts.append(_role(ROLE_IS, details.get("role")))
        parts.append(_role(ROLE_WAS, details.get("previous_role")))
    elif action == "broadcast.create":
        count = _int(details, "recipients")
        parts.append(ngettext("{count} 位接收人", "{count} 位接收人", count).format(count=count))
        if details.get("test_only"):
            parts.append(_("测试"))
        if when := _local_date(details.get("send_at"), locale, tz, with_time=True):
            parts.append(_("发送时间 {time}").format(time=when))
    elif action == "milestone.add":
        if category := _milestone_category(details.get("category")):
            parts.append(_("类别：{category}").format(category=category))
        if due := _local_date(details.get("due_date"), locale, tz):
            parts.append(_("截止 {date}").format(date=due))
    elif action == "milestone.done":
        if details.get("has_text"):
            parts.append(_("附文字说明"))
        if details.get("has_photo"):
            parts.append(_("附照片"))
    elif action == "policy.reload":
        count = _int(details, "sections")
        if details.get("ok"):
            parts.append(ngettext("成功，共 {count} 条政策", "成功，共 {count} 条政策", count).format(count=count))
        else:
            parts.append(ngettext("失败，继续使用原来的 {count} 条政策", "失败，继续使用原来的 {count} 条政策",
                                  count).format(count=count))
    elif action == "hardship.file":
        if category := _hardship_category(details.get("category")):
            parts.append(_("类别：{category}").format(category=category))
    else:  # unknown action: counts only (keys ending in "id" are references, not counts)
        parts.extend(
            f"{key}={value}" for key, value in sorted(details.items())
            if isinstance(value, int) and not isinstance(value, bool) and not key.endswith("id")
        )
    separator = "，" if locale.startswith("zh") else ", "
    return _clip(separator.join(p for p in parts if p), SUMMARY_LIMIT)


def display_row(entry: AuditEntry, infos: dict[int, ActorInfo], locale: str, tz: ZoneInfo) -> AuditRow:
    return AuditRow(
        at=format_datetime(entry.at, locale, tz, "short"),
        actor=actor_label(entry.actor, infos),
        action=_clip(action_label(entry.action), LABEL_LIMIT),
        region=_clip(region_label(entry.region_path), REGION_LIMIT),
        summary=details_summary(entry.action, entry.details, locale, tz),
    )


async def display_rows(
    session: AsyncSession, entries: list[AuditEntry], locale: str, tz: ZoneInfo, *, scope_path: str | None
) -> list[AuditRow]:
    """The display rows of `entries` for an admin of `scope_path` (who acted is described
    only as far as that scope allows)."""
    ids = {account_id for e in entries if (account_id := account_id_of(e.actor)) is not None}
    infos = await AuditRepository(session).actors(ids, scope_path=scope_path)
    return [display_row(entry, infos, locale, tz) for entry in entries]


async def load_page(
    session: AsyncSession,
    scope_path: str | None,
    *,
    locale: str,
    tz: ZoneInfo,
    direction: str = "",
    cursor: Cursor | None = None,
) -> AuditPage:
    """The page of entries in scope that `direction`/`cursor` name; the newest page when the
    cursor is missing, forged or leads nowhere."""
    repo = AuditRepository(session)
    entries: list[AuditEntry] = []
    if cursor is not None and direction == "o":
        entries = await repo.entries(scope_path, limit=PAGE_SIZE, before=cursor)
    elif cursor is not None and direction == "n":
        entries = await repo.newer_page(scope_path, cursor, limit=PAGE_SIZE)
        if len(entries) < PAGE_SIZE:  # reached the top: show the newest page as it is now
            entries = []
    if not entries:
        entries = await repo.entries(scope_path, limit=PAGE_SIZE)
    total = await repo.count(scope_path)
    newer = await repo.count(scope_path, newer_than=entries[0].cursor) if entries else 0
    pages = max(1, -(-total // PAGE_SIZE))
    return AuditPage(
        rows=await display_rows(session, entries, locale, tz, scope_path=scope_path),
        total=total,
        page=min(newer // PAGE_SIZE + 1, pages),
        pages=pages,
        scope=scope_label(scope_path),
        first=entries[0].cursor if entries else None,
        last=entries[-1].cursor if entries else None,
        has_newer=newer > 0,
        has_older=newer + len(entries) < total,
    )


def empty_text() -> str:
    return _("暂无操作记录。")


def refusal_text() -> str:
    return _("没有这个命令，或者您没有使用它的权限。发送 /help 查看可用命令。")


def page_text(page: AuditPage) -> str:
    if not page.rows:
        return empty_text()
    lines = [
        _("<b>操作记录</b>（{scope}）").format(scope=escape(page.scope)),
        ngettext("第 {page}/{pages} 页，共 {total} 条", "第 {page}/{pages} 页，共 {total} 条", page.total).format(
            page=page.page, pages=page.pages, total=page.total
        ),
    ]
    for row in page.rows:
        lines.append("")
        lines.append(f"<b>{escape(row.at)}</b> · {escape(row.action)}")
        lines.append(f"{escape(row.actor)} · {escape(row.region)}")
        if row.summary:
            lines.append(f"<i>{escape(row.summary)}</i>")
    return "\n".join(lines)


def page_keyboard(page: AuditPage) -> InlineKeyboardMarkup | None:
    buttons: list[InlineKeyboardButton] = []
    if page.has_newer and page.first is not None:
        at, entry_id = encode_cursor(page.first)
        buttons.append(InlineKeyboardButton(text="◀", callback_data=AuditPageCB(dir="n", at=at, id=entry_id).pack()))
    if page.has_older and page.last is not None:
        at, entry_id = encode_cursor(page.last)
        buttons.append(InlineKeyboardButton(text="▶", callback_data=AuditPageCB(dir="o", at=at, id=entry_id).pack()))
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None


# ------------------------------------------------------------------------------ CSV


def csv_row(entry: AuditEntry, tz: ZoneInfo) -> list[str]:
    return [
        entry.at.astimezone(tz).isoformat(timespec="seconds"),
        entry.actor,
        entry.action,
        entry.region_path or "",
        entry.object_type or "",
        entry.object_id or "",
        json.dumps(entry.details or {}, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str),
    ]


def csv_text(entries: Iterable[AuditEntry], tz: ZoneInfo, *, header: bool = False) -> str:
    """CSV lines ('\\n'-terminated) for `entries`, after the header row when asked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(CSV_HEADER)
    for entry in entries:
        writer.writerow(csv_row(entry, tz))
    return buffer.getvalue()


async def write_csv(
    session: AsyncSession,
    out: Any,
    *,
    scope_path: str | None,
    since: datetime | None,
    tz: ZoneInfo,
    batch_size: int = 500,
) -> int:
    """Write the header and every entry in scope since `since`, oldest first, to `out`
    (anything with `write(str)`), in keyset batches; returns the number of rows."""
    out.write(csv_text([], tz, header=True))
    count = 0
    async for batch in AuditRepository(session).iter_entries(scope_path, since=since, batch_size=batch_size):
        out.write(csv_text(batch, tz))
        count += len(batch)
    return count
