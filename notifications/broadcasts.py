"""Admin broadcasts: compose checks, create, start (one INSERT ... SELECT), cancel, progress,
the final report, and the renderers of BROADCAST and BROADCAST_REPORT.

Life of a broadcast: `create_broadcast` stores it (state scheduled) and, when its send time
has come, starts it at once: `start_broadcast` flips it to sending (a conditional UPDATE, so
two instances never both start it) and inserts one outbox row per recipient with ONE
`INSERT INTO outbox ... SELECT` keyed `broadcast:<account>:broadcast-<id>` (starting twice
inserts once). The scheduler calls `start_due_broadcasts(session, now)` for scheduled ones
and `finish_broadcasts(session, now)`, which marks a broadcast done when nothing of it is
queued, sending or in retry any more and enqueues the admin's BROADCAST_REPORT (idempotent
by key). The sender delivers; `BROADCAST` renders None once the broadcast is cancelled.

Texts are stored as Telegram HTML (the admin's message `html_text`, so the formatting they
typed is kept and the HTML is always valid; the CLI's plain text is escaped). Limits are
checked on the visible text: 4096 characters, 1024 with a photo or document.

Quiet hours: broadcasts are not urgent and are held. The send time is moved out of quiet
hours when the broadcast is created (`release_time`, a tiny local helper over
Settings.quiet_hours), so "send now" at 22:00 is scheduled for 08:00 and the admin is told.
A test broadcast goes at once to the admin who asked for it (their copy is urgent); the
copies for named test accounts are not urgent and respect quiet hours like any broadcast
(a test with named accounts only, from the CLI, is held as a whole).

Named test accounts: the admin (or the CLI's `--test-to`) names Telegram user ids and/or
@usernames; `resolve_test_names` accepts the active bound accounts within the scope (one
SQL select over the scope's `all` audience) and lists the other names as not found, the
same for an unknown name and for one outside the scope (nothing leaks). The accepted
accounts are stored in `Broadcast.test_account_ids`; the admin's latest such list is offered
again on the next broadcast (`remembered_test_accounts`, re-checked against the scope).
@usernames are those last seen on the accounts' own updates (`Account.username`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.work import clock as work_clock
from notifications import broadcasts_render as texts_render
from notifications.outbox import Notice, enqueue, notice_key
from notifications.templates import RenderContext, Rendered, renderer
from storage.enums import BroadcastState, NotificationKind
from storage.models import Broadcast, Region
from storage.repositories.audit import AuditRepository
from storage.repositories.broadcasts import (
    Audience,
    AudienceError,
    BroadcastRepository,
    NamedAccount,
    Progress,
    audience_select,
    test_select,
)
from storage.repositories.regions import PROVINCE_NAME, normalize_path, within

log = logging.getLogger(__name__)

TEXT_MAX = 4096
CAPTION_MAX = 1024
SOURCE_LOCALE = "zh_Hans"
EXTRA_LOCALES = ("ko", "en")
MAX_TEST_ACCOUNTS = 20  # named test accounts in one test broadcast
REGION_PAGE_SIZE = 20  # child regions per page of the region picker
NAME_SEPARATORS = re.compile(r"[\s,，、;；]+")
USER_ID_RE = re.compile(r"^\d{1,15}$")
USERNAME_RE = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")

__all__ = [
    "Audience",
    "AudienceError",
    "BroadcastError",
    "Created",
    "Progress",
    "RegionPage",
    "TestRecipients",
    "cancel_broadcast",
    "count_audience",
    "create_broadcast",
    "finish_broadcasts",
    "parse_audience",
    "region_page",
    "release_time",
    "remembered_test_accounts",
    "resolve_test_names",
    "split_names",
    "start_broadcast",
    "start_due_broadcasts",
    "text_problem",
]


def clock() -> datetime:
    """Now, aware UTC; the /broadcast handlers ask this (tests monkeypatch it)."""
    return work_clock.now()


class BroadcastError(ValueError):
    """A broadcast that cannot be created: empty audience, region unknown or out of scope."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # empty | region | scope | text


# ----------------------------------------------------------------- compose checks


def text_problem(visible_length: int, has_media: bool) -> int | None:
    """The limit a text breaks (4096, or 1024 as a caption), or None when it fits."""
    limit = CAPTION_MAX if has_media else TEXT_MAX
    return limit if visible_length > limit else None


def release_time(moment: datetime, quiet_hours: str, tz: ZoneInfo) -> datetime:
    """`moment` moved to the end of quiet hours ('21:00-08:00', local) when it falls in them."""
    if not quiet_hours:
        return moment
    start_text, end_text = quiet_hours.split("-")
    start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    local = moment.astimezone(tz)
    now_t = local.time().replace(tzinfo=None)
    if start == end:
        return moment
    if start < end:
        inside = start <= now_t < end
    else:
        inside = now_t >= start or now_t < end
    if not inside:
        return moment
    release_day = local.date() if now_t < end else local.date() + timedelta(days=1)
    return datetime.combine(release_day, end, tzinfo=tz).astimezone(moment.tzinfo)


def parse_audience(spec: str | None) -> Audience:
    """CLI form: 'role=household,region=白山市/长白县,cause=因病+因学,status=未脱贫,students=yes'."""
    from storage.enums import CAUSE_LABELS, STATUS_LABELS, HouseholdStatus

    fields: dict[str, object] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip().lower(), value.strip()
        if not sep or not value:
            raise AudienceError(f"expected NAME=VALUE, got {part.strip()!r}")
        if name == "role":
            fields["role"] = value.lower()
        elif name == "region":
            fields["region_path"] = None if value.lower() == "all" else normalize_path(value)
        elif name in ("cause", "causes"):
            by_label = {label: int(cause) for cause, label in CAUSE_LABELS.items()}
            by_label |= {cause.name.lower(): int(cause) for cause in CAUSE_LABELS}
            bits = 0
            for item in value.replace("、", "+").replace("|", "+").split("+"):
                key = item.strip()
                bit = by_label.get(key) or by_label.get(key.lower())
                if bit is None:
                    raise AudienceError(f"unknown poverty cause {key!r}")
                bits |= bit
            fields["causes"] = bits
        elif name == "status":
            by_label = {label: s.value for s, label in STATUS_LABELS.items()} | {s.value: s.value for s in HouseholdStatus}
            if value not in by_label and value.lower() not in by_label:
                raise AudienceError(f"unknown household status {value!r}")
            fields["status"] = by_label.get(value) or by_label[value.lower()]
        elif name == "students":
            if value.lower() not in ("yes", "true", "1", "no", "false", "0"):
                raise AudienceError("students must be yes or no")
            fields["students"] = value.lower() in ("yes", "true", "1")
        else:
            raise AudienceError(f"unknown audience field {name!r} (role, region, cause, status, students)")
    return Audience(**fields)  # type: ignore[arg-type]


async def count_audience(session: AsyncSession, audience: Audience) -> int:
    """The exact number of active bound accounts in the audience (SQL COUNT)."""
    return await BroadcastRepository(session).count_audience(audience)


async def resolve_region(session: AsyncSession, audience: Audience, scope: str | None) -> int | None:
    """The audience region's id, checked to exist and to lie within `scope` (None: any, CLI)."""
    if scope is not None and not within(audience.path, scope):
        raise BroadcastError("scope", "region outside the admin's scope")
    region = await BroadcastRepository(session).region_by_path(audience.path)
    if region is None:
        if audience.path == PROVINCE_NAME:
            return None
        raise BroadcastError("region", f"unknown region {audience.path}")
    return region.id


# ----------------------------------------------------------- region picker pages


def clamp_page(page: int, total: int, size: int) -> tuple[int, int]:
    """(page, pages): `page` moved into 0..pages-1 (a forged or stale page number)."""
    pages = max(1, -(-total // size))
    return min(max(page, 0), pages - 1), pages


@dataclass(frozen=True)
class RegionPage:
    page: int
    pages: int
    children: list[Region]


async def region_page(session: AsyncSession, region_id: int, page: int, size: int = REGION_PAGE_SIZE) -> RegionPage:
    """One page of a region's children (by name), the page number clamped."""
    repo = BroadcastRepository(session)
    page, pages = clamp_page(page, await repo.count_children(region_id), size)
    return RegionPage(page, pages, await repo.children(region_id, size, offset=page * size))


# ------------------------------------------------------------ named test accounts


def split_names(text: str) -> list[str]:
    """The names typed for a test: separated by spaces, commas (also Chinese ，、) or
    semicolons; repeated names once, in order."""
    seen: dict[str, None] = {}
    for part in NAME_SEPARATORS.split(text or ""):
        if part:
            seen.setdefault(part, None)
    return list(seen)


@dataclass(frozen=True)
class TestRecipients:
    """`accepted`: account id -> the name as typed (normalised); `rejected`: names not found
    in the scope (unknown, out of scope, not bound, inactive, or not a name at all)."""

    accepted: dict[int, str] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)


async def resolve_test_names(session: AsyncSession, names: Sequence[str], scope: str) -> TestRecipients:
    """Find each name (a Telegram user id or an @username) among the active bound accounts
    within `scope` (one select). Does not write."""
    user_ids: dict[str, int] = {}
    usernames: dict[str, str] = {}
    rejected: list[str] = []
    for name in names:
        if USER_ID_RE.match(name):
            user_ids[name] = int(name)
        elif match := USERNAME_RE.match(name):
            usernames[name] = match.group(1).lower()
        else:
            rejected.append(name)
    found = await BroadcastRepository(session).named_accounts(
        scope, user_ids=user_ids.values(), usernames=usernames.values()
    )
    by_id: dict[int, NamedAccount] = {}
    by_name: dict[str, NamedAccount] = {}
    for account in found:  # most recently seen first: it keeps a contested username
        by_id.setdefault(account.telegram_user_id, account)
        if account.username:
            by_name.setdefault(account.username, account)
    accepted: dict[int, str] = {}
    for name in names:
        if name in user_ids:
            account, label = by_id.get(user_ids[name]), name
        elif name in usernames:
            account, label = by_name.get(usernames[name]), "@" + usernames[name]
        else:
            continue
        if account is None:
            rejected.append(name)
        else:
            accepted.setdefault(account.id, label)
    return TestRecipients(accepted, [name for name in names if name in rejected])


async def remembered_test_accounts(session: AsyncSession, admin_account_id: int, scope: str) -> dict[int, str]:
    """The named accounts of the admin's last test broadcast that are still active, bound and
    within `scope`: account id -> label (@username or Telegram id)."""
    repo = BroadcastRepository(session)
    ids = await repo.last_test_account_ids(admin_account_id)
    if not ids:
        return {}
    found = {a.id: a.label for a in await repo.named_accounts(scope, account_ids=ids)}
    return {account_id: found[account_id] for account_id in ids if account_id in found}


# ---------------------------------------------------------------- create / start


@dataclass(frozen=True)
class Created:
    broadcast_id: int
    recipients: int  # enqueued (started) or counted now (scheduled)
    state: BroadcastState
    send_at: datetime


async def create_broadcast(
    session: AsyncSession,
    *,
    texts: dict[str, str],
    audience: Audience,
    created_by: str,
    now: datetime,
    send_at: datetime | None = None,
    admin_account_id: int | None = None,
    scope: str | None = None,
    photo: str | None = None,
    document: str | None = None,
    test_only: bool = False,
    test_account_ids: Sequence[int] = (),
    quiet_hours: str = "",
    tz: ZoneInfo | None = None,
) -> Created:
    """Store a broadcast, audited, and start it when its (quiet-hours adjusted) time has come.
    A test broadcast (`test_only`) goes to the admin and `test_account_ids` (checked by the
    caller) only. Raises BroadcastError (nothing written) on an empty audience or a region out
    of scope. Does not commit."""
    if not texts.get(SOURCE_LOCALE, "").strip():
        raise BroadcastError("text", "the zh_Hans text is required")
    region_id = await resolve_region(session, audience, scope)
    test_ids = sorted(set(test_account_ids) - {admin_account_id}) if test_only else []
    if test_only and admin_account_id is None and not test_ids:
        raise BroadcastError("empty", "a test broadcast needs the admin's account or named accounts")
    repo = BroadcastRepository(session)
    if test_only:
        count = len(test_ids) + (1 if admin_account_id is not None else 0)
    else:
        count = await repo.count_audience(audience)
    if count == 0:
        raise BroadcastError("empty", "the audience is empty")
    when = max(send_at or now, now)
    if tz is not None and (not test_only or admin_account_id is None):
        when = release_time(when, quiet_hours, tz)  # nobody asked to get it at once
    broadcast = Broadcast(
        created_by=created_by,
        admin_account_id=admin_account_id,
        texts={code: text for code, text in texts.items() if text},
        photo_file_id=photo,
        document_file_id=document,
        audience=audience.to_json(),
        region_id=region_id,
        test_only=test_only,
        test_account_ids=test_ids or None,
        state=BroadcastState.SCHEDULED,
        send_at=when,
        recipients=count,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    await AuditRepository(session).record(
        created_by,
        "broadcast.create",
        region_id=region_id,
        object_type="broadcast",
        object_id=broadcast.id,
        details={"audience": audience.to_json(), "test_only": test_only, "recipients": count,
                 "test_accounts": len(test_ids), "send_at": when.isoformat()},
    )
    if when <= now:
        count = await start_broadcast(session, broadcast, now, quiet_hours=quiet_hours, tz=tz)
    log.info("broadcast %s created for %s recipients", broadcast.id, count)
    return Created(broadcast.id, count, broadcast.state, when)


async def start_broadcast(
    session: AsyncSession,
    broadcast: Broadcast,
    now: datetime,
    *,
    quiet_hours: str = "",
    tz: ZoneInfo | None = None,
) -> int:
    """scheduled → sending and ONE INSERT ... SELECT of its recipients; returns the rows
    inserted (0 when it was started already). Does not commit. A test broadcast takes two:
    the admin's own copy is urgent (they asked for it now), the named test accounts' copies
    are not and wait for the end of quiet hours (`quiet_hours` in `tz`)."""
    repo = BroadcastRepository(session)
    if not await repo.mark_sending(broadcast.id):
        return 0
    start = max(broadcast.send_at, now)
    if not broadcast.test_only:
        inserted = await repo.enqueue_recipients(
            broadcast, audience_select(Audience.from_json(broadcast.audience)), not_before=start,
            urgent=False, now=now,
        )
    else:
        admin = broadcast.admin_account_id
        test_ids = [int(i) for i in broadcast.test_account_ids or [] if int(i) != admin]
        inserted = 0
        if admin is not None:
            inserted += await repo.enqueue_recipients(
                broadcast, test_select(admin), not_before=start, urgent=True, now=now
            )
        if test_ids:
            held = release_time(start, quiet_hours, tz) if tz is not None else start
            inserted += await repo.enqueue_recipients(
                broadcast, test_select(None, test_ids), not_before=held, urgent=False, now=now
            )
    await session.refresh(broadcast)
    broadcast.recipients = inserted
    await session.flush()
    return inserted


async def start_due_broadcasts(session: AsyncSession, now: datetime) -> list[int]:
    """Start every scheduled broadcast whose time has come (for the scheduler); commits
    after each one. Safe with several instances (the state flip is conditional)."""
    started: list[int] = []
    repo = BroadcastRepository(session)
    for broadcast_id in await repo.due_ids(now):
        broadcast = await repo.get(broadcast_id)
        if broadcast is None:
            continue
        inserted = await start_broadcast(session, broadcast, now)
        await session.commit()
        if inserted or broadcast.state is BroadcastState.SENDING:
            started.append(broadcast_id)
    return started


async def finish_broadcasts(session: AsyncSession, now: datetime) -> list[int]:
    """Mark done the sending broadcasts with nothing left queued/sending/retry and enqueue
    the admin's report (not for test broadcasts); commits. Idempotent."""
    repo = BroadcastRepository(session)
    finished: list[int] = []
    for broadcast_id in await repo.finished_ids():
        if not await repo.mark_done(broadcast_id, now):
            continue
        broadcast = await repo.get(broadcast_id)
        if broadcast is not None and broadcast.admin_account_id is not None and not broadcast.test_only:
            await enqueue(session, [Notice(
                key=notice_key(NotificationKind.BROADCAST_REPORT, broadcast.admin_account_id,
                               f"broadcast-{broadcast_id}"),
                kind=NotificationKind.BROADCAST_REPORT,
                account_id=broadcast.admin_account_id,
                not_before=now,
                payload={"broadcast_id": broadcast_id},
                urgent=True,  # the admin waits for it; one message
            )])
        await session.commit()
        finished.append(broadcast_id)
    return finished


async def cancel_broadcast(
    session: AsyncSession, broadcast_id: int, actor: str, scope: str | None, now: datetime
) -> bool:
    """Cancel a scheduled or running broadcast within `scope` (None: any) and its queued
    rows; audited. False (nothing written) when it is unknown, out of scope or ended.
    Does not commit."""
    repo = BroadcastRepository(session)
    broadcast = await repo.in_scope(broadcast_id, scope) if scope is not None else await repo.get(broadcast_id)
    if broadcast is None or not await repo.cancel(broadcast_id, now):
        return False
    await AuditRepository(session).record(
        actor, "broadcast.cancel", region_id=broadcast.region_id, object_type="broadcast", object_id=broadcast_id
    )
    return True


async def progress(session: AsyncSession, broadcast_ids: list[int]) -> dict[int, Progress]:
    return await BroadcastRepository(session).progress(broadcast_ids)


# --------------------------------------------------------------------- renderers


def pick_text(texts: dict[str, str], locale: str) -> str:
    return texts.get(locale) or texts.get(SOURCE_LOCALE) or next(iter(texts.values()), "")


@renderer(NotificationKind.BROADCAST)
async def render_broadcast(context: RenderContext) -> Rendered | None:
    broadcast_id = context.message.broadcast_id
    broadcast = await context.session.get(Broadcast, broadcast_id) if broadcast_id else None
    if broadcast is None or broadcast.state is BroadcastState.CANCELLED:
        return None
    return Rendered(
        text=pick_text(broadcast.texts, context.locale),
        photo=broadcast.photo_file_id,
        document=broadcast.document_file_id if not broadcast.photo_file_id else None,
    )


@renderer(NotificationKind.BROADCAST_REPORT)
async def render_report(context: RenderContext) -> Rendered | None:
    broadcast_id = (context.message.payload or {}).get("broadcast_id")
    if not isinstance(broadcast_id, int):
        return None
    broadcast = await context.session.get(Broadcast, broadcast_id)
    if broadcast is None:
        return None
    counts = (await BroadcastRepository(context.session).progress([broadcast_id]))[broadcast_id]
    return Rendered(text=texts_render.report_text(broadcast, counts))


def plain_to_html(text: str) -> str:
    """The CLI's plain text as Telegram HTML."""
    return escape(text, quote=False)
