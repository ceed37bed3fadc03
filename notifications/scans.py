"""The scheduled scans: what falls due becomes outbox rows (notifications/outbox.py).

Each scan is `async def scan_x(session, settings, now) -> int` (notices enqueued) and runs
in the caller's transaction; `run_all_scans` runs them all once, each in its own
transaction, as of `now` (the scheduler every few minutes, `fupin-bot scan --at` at any
moment). Rules:

- visit reminders to the paired cadre's active accounts 3 days before and on the due day;
  milestone reminders 7 days and 1 day before; an overdue alert on the first day overdue
  (visit and milestone) — `scan_reminders`;
- escalation to the cadre's supervisor and the region's admins (admins whose region is the
  household's village or one of its ancestors; no region = the whole province) when a
  visit or milestone is `escalate_after_days` overdue — `scan_escalations`;
- a hardship request past its acknowledgement deadline, and again past its outcome
  deadline, is escalated the same way at once (the working-day deadline already is the
  grace period); `HardshipRequest.escalated_at` records it — `scan_hardship`;
- each cadre with something due gets a daily digest from `digest_time` (local) on —
  `scan_digest`; every admin a weekly summary on Mondays from `digest_time` — `scan_weekly`;
- unanswered visit confirmations are flagged — `scan_confirmations`.

Cost: the reminder and escalation scans look only at the days they have not finished yet
(a watermark per scan in `app_meta`: normally just today, after an outage the missed days,
at most LOOKBACK_DAYS back), as `next_visit_due IN (...)` / `due_date IN (...)` over the
indexes ix_pairings_open_due and ix_milestones_open_due. The hardship scan is a range scan of
the deadline indexes bounded by LOOKBACK_DAYS. The digest scan reads the cadres with
something due this week; the weekly scan the admin accounts.

Catch-up after an outage: a cadre notice whose send day is more than `late_after_days`
past is not enqueued as if fresh. Its row is written as `cancelled` (so its key is spent
and it is never sent nor caught up again) and the item goes into one CATCH_UP notice per
cadre account and day. The same happens to a reminder row still `queued` whose not_before
is older than `late_after_days` (the sender was down while the scans ran).

Multi-instance safety: idempotency keys always; on PostgreSQL each scan also takes
`pg_try_advisory_xact_lock(<scan id>)` in its transaction and skips (returns 0) when
another instance holds it. Notices carry ids and dates only; logs carry counts only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.work.cadence import leaders_due
from bot.work.rules import VisitRules, local_today
from bot.work.visits import expire_confirmations
from notifications.outbox import Notice, enqueue, notice_key
from notifications.quiet import release_time
from storage.enums import DeliveryState, NotificationKind
from storage.models import utcnow
from storage.repositories.notices import NoticeRepository
from storage.repositories.regions import SEPARATOR

log = logging.getLogger(__name__)

K = NotificationKind
VISIT_OFFSETS = (3, 0)  # visit reminders: days before the due day
MILESTONE_OFFSETS = (7, 1)  # milestone reminders: days before the due date
LOOKBACK_DAYS = 14  # how far back a scan catches up on days it missed (an outage)
CATCH_UP_ITEMS = 40  # items of each sort listed in one catch-up notice (the rest counted)
REMINDER_KINDS = (K.VISIT_REMINDER, K.MILESTONE_REMINDER, K.VISIT_OVERDUE, K.MILESTONE_OVERDUE)
FOLDED = "late: folded into the catch-up digest"

# pg_try_advisory_xact_lock keys, one per scan ('fp' + number)
SCAN_LOCKS = {
    "confirmations": 0x6670_0001,
    "reminders": 0x6670_0002,
    "escalations": 0x6670_0003,
    "hardship": 0x6670_0004,
    "digest": 0x6670_0005,
    "weekly": 0x6670_0006,
}


# ----------------------------------------------------------------------- plumbing


async def lead(session: AsyncSession, scan: str) -> bool:
    """Whether this instance runs `scan` now: on PostgreSQL the transaction-scoped advisory
    lock (released at commit/rollback), elsewhere always (one process)."""
    return await NoticeRepository(session).try_scan_lock(SCAN_LOCKS[scan])


def _watermark_key(scan: str) -> str:
    return f"scan_day:{scan}"


async def send_days(session: AsyncSession, scan: str, today: date) -> list[date]:
    """The local days whose notices this scan still owes: from the last day it finished
    (again: it may have been cut short) to today, at most LOOKBACK_DAYS back; just today
    on the first run or when the watermark is ahead (`scan --at` in the past)."""
    value = await NoticeRepository(session).watermark(_watermark_key(scan))
    start = today
    if value is not None:
        try:
            last = date.fromisoformat(value)
        except ValueError:
            last = today
        if last < today:
            start = max(last, today - timedelta(days=LOOKBACK_DAYS))
    return [start + timedelta(days=i) for i in range((today - start).days + 1)]


async def _finish_day(session: AsyncSession, scan: str, today: date) -> None:
    await NoticeRepository(session).advance_watermark(_watermark_key(scan), today.isoformat())


async def cadre_accounts(session: AsyncSession, cadre_ids: Iterable[int]) -> dict[int, list[int]]:
    """cadre id -> ids of its active bound accounts."""
    return await NoticeRepository(session).cadre_accounts(cadre_ids)


def ancestors(path: str) -> list[str]:
    """'a/b/c' -> ['a', 'a/b', 'a/b/c']."""
    parts = path.split(SEPARATOR)
    return [SEPARATOR.join(parts[: i + 1]) for i in range(len(parts))]


async def region_admins(session: AsyncSession, village_paths: Iterable[str]) -> dict[str, list[int]]:
    """village path -> ids of the active admin accounts whose region contains it (an admin
    without a region covers the province)."""
    paths = set(village_paths)
    if not paths:
        return {}
    wanted = {a for p in paths for a in ancestors(p)}
    rows = await NoticeRepository(session).admin_accounts_in(wanted)
    return {
        path: [account_id for account_id, admin_path in rows if admin_path is None or admin_path in ancestors(path)]
        for path in paths
    }


async def existing_keys(session: AsyncSession, keys: Iterable[str]) -> set[str]:
    return await NoticeRepository(session).existing_keys(keys)


# ------------------------------------------------------------- cadre reminders


@dataclass(frozen=True, slots=True)
class DueNotice:
    """A cadre notice the data calls for, before it is addressed to accounts."""

    kind: NotificationKind
    subject: str
    due: date
    send_day: date
    cadre_id: int
    payload: dict[str, Any]
    item: tuple[str, int, str]  # ('v', pairing id, due) or ('m', milestone id, due): catch-up line


@dataclass
class CatchUp:
    visits: set[tuple[int, str]] = field(default_factory=set)
    milestones: set[tuple[int, str]] = field(default_factory=set)

    def add(self, item: tuple[str, int, str]) -> None:
        (self.visits if item[0] == "v" else self.milestones).add((item[1], item[2]))


async def due_visit_notices(session: AsyncSession, days: Sequence[date]) -> list[DueNotice]:
    """Visit reminders and first-day overdue alerts whose send day is one of `days`."""
    day_set = set(days)
    dues = {d + timedelta(days=k) for d in days for k in VISIT_OFFSETS} | {d - timedelta(days=1) for d in days}
    rows = await NoticeRepository(session).pairings_due_on(dues)
    notices = []
    for pairing_id, cadre_id, household_id, due in rows:
        base = {"pairing_id": pairing_id, "household_id": household_id, "cadre_id": cadre_id, "due": due.isoformat()}
        item = ("v", pairing_id, due.isoformat())
        for k in VISIT_OFFSETS:
            if due - timedelta(days=k) in day_set:
                notices.append(DueNotice(K.VISIT_REMINDER, f"pairing-{pairing_id}-d{k}", due,
                                         due - timedelta(days=k), cadre_id, {**base, "days": k}, item))
        if due + timedelta(days=1) in day_set:
            notices.append(DueNotice(K.VISIT_OVERDUE, f"pairing-{pairing_id}", due, due + timedelta(days=1),
                                     cadre_id, base, item))
    return notices


async def due_milestone_notices(session: AsyncSession, days: Sequence[date]) -> list[DueNotice]:
    """Milestone reminders and first-day overdue alerts whose send day is one of `days`,
    to the household's currently paired cadre."""
    day_set = set(days)
    dues = {d + timedelta(days=k) for d in days for k in MILESTONE_OFFSETS} | {d - timedelta(days=1) for d in days}
    rows = await NoticeRepository(session).milestones_due_on(dues)
    notices = []
    for milestone_id, cadre_id, household_id, due in rows:
        base = {"milestone_id": milestone_id, "household_id": household_id, "cadre_id": cadre_id,
                "due": due.isoformat()}
        item = ("m", milestone_id, due.isoformat())
        for k in MILESTONE_OFFSETS:
            if due - timedelta(days=k) in day_set:
                notices.append(DueNotice(K.MILESTONE_REMINDER, f"milestone-{milestone_id}-d{k}", due,
                                         due - timedelta(days=k), cadre_id, {**base, "days": k}, item))
        if due + timedelta(days=1) in day_set:
            notices.append(DueNotice(K.MILESTONE_OVERDUE, f"milestone-{milestone_id}", due,
                                     due + timedelta(days=1), cadre_id, base, item))
    return notices


def is_too_late(send_day: date, today: date, late_after_days: int) -> bool:
    return (today - send_day).days > late_after_days


async def fold_stale_queued(
    session: AsyncSession, settings: Settings, now: datetime, catch_ups: dict[tuple[int, int], CatchUp]
) -> int:
    """Cancel reminder rows still queued whose not_before is more than late_after_days old
    and add their items to the catch-ups (cadre id, account id) -> items; returns how many."""
    cutoff = now - timedelta(days=settings.late_after_days)
    rows = await NoticeRepository(session).cancel_stale_queued(cutoff, REMINDER_KINDS, FOLDED)
    for account_id, kind, payload in rows:
        try:
            cadre_id = int(payload["cadre_id"])
            if kind in (K.VISIT_REMINDER, K.VISIT_OVERDUE):
                item = ("v", int(payload["pairing_id"]), str(payload["due"]))
            else:
                item = ("m", int(payload["milestone_id"]), str(payload["due"]))
        except (KeyError, TypeError, ValueError):
            continue
        catch_ups[(cadre_id, account_id)].add(item)
    return len(rows)


async def _insert_cancelled(session: AsyncSession, notices: Sequence[Notice]) -> None:
    """Spend these keys without sending: the rows say the notice was folded into a catch-up."""
    rows = [
        {"key": n.key, "kind": n.kind, "account_id": n.account_id, "payload": n.payload, "urgent": False,
         "state": DeliveryState.CANCELLED, "attempts": 0, "not_before": n.not_before, "last_error": FOLDED}
        for n in notices
    ]
    await NoticeRepository(session).insert_ignoring_duplicates(rows)


def _sorted_items(items: set[tuple[int, str]]) -> list[list[Any]]:
    return [[i, d] for i, d in sorted(items, key=lambda x: (x[1], x[0]))]


async def enqueue_catch_ups(
    session: AsyncSession, settings: Settings, now: datetime, catch_ups: dict[tuple[int, int], CatchUp]
) -> int:
    """One CATCH_UP notice per cadre account and day. A second batch the same day is merged
    into the day's notice while it is still queued, else gets a notice of its own."""
    today = local_today(settings.tz, now)
    not_before = release_time(now, settings.tz, settings.quiet_hours)
    count = 0
    for (cadre_id, account_id), items in sorted(catch_ups.items()):
        if not items.visits and not items.milestones:
            continue
        key = notice_key(K.CATCH_UP, account_id, f"cadre-{cadre_id}", today)
        existing = await NoticeRepository(session).outbox_by_key(key)
        if existing is not None:
            if existing.state is DeliveryState.QUEUED:
                old = existing.payload or {}
                items.visits.update((int(i), str(d)) for i, d in old.get("visits", []))
                items.milestones.update((int(i), str(d)) for i, d in old.get("milestones", []))
                existing.payload = _catch_up_payload(cadre_id, today, settings, items)
                continue
            key = notice_key(K.CATCH_UP, account_id, f"cadre-{cadre_id}", f"{today.isoformat()}T{now:%H%M%S}")
        count += await enqueue(
            session, [Notice(key, K.CATCH_UP, account_id, not_before, _catch_up_payload(cadre_id, today, settings, items))]
        )
    return count


def _catch_up_payload(cadre_id: int, today: date, settings: Settings, items: CatchUp) -> dict[str, Any]:
    visits, milestones = _sorted_items(items.visits), _sorted_items(items.milestones)
    more = max(len(visits) - CATCH_UP_ITEMS, 0) + max(len(milestones) - CATCH_UP_ITEMS, 0)
    return {
        "cadre_id": cadre_id, "day": today.isoformat(), "tz": settings.timezone,
        "visits": visits[:CATCH_UP_ITEMS], "milestones": milestones[:CATCH_UP_ITEMS], "more": more,
    }


async def scan_reminders(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Visit and milestone reminders and first-day overdue alerts to the cadres (late ones
    folded into catch-up notices); returns the notices enqueued."""
    if not await lead(session, "reminders"):
        return 0
    today = local_today(settings.tz, now)
    days = await send_days(session, "reminders", today)
    due = [*await due_visit_notices(session, days), *await due_milestone_notices(session, days)]
    accounts = await cadre_accounts(session, {d.cadre_id for d in due})
    not_before = release_time(now, settings.tz, settings.quiet_hours)
    fresh: list[Notice] = []
    late: list[tuple[Notice, DueNotice]] = []
    for d in due:
        for account_id in accounts.get(d.cadre_id, []):
            notice = Notice(notice_key(d.kind, account_id, d.subject, d.due), d.kind, account_id, not_before, d.payload)
            if is_too_late(d.send_day, today, settings.late_after_days):
                late.append((notice, d))
            else:
                fresh.append(notice)
    count = await enqueue(session, fresh)
    catch_ups: dict[tuple[int, int], CatchUp] = defaultdict(CatchUp)
    if late:
        spent = await existing_keys(session, [n.key for n, _d in late])
        missing = [(n, d) for n, d in late if n.key not in spent]
        await _insert_cancelled(session, [n for n, _d in missing])
        for notice, d in missing:
            catch_ups[(d.cadre_id, notice.account_id)].add(d.item)
    folded = await fold_stale_queued(session, settings, now, catch_ups)
    count += await enqueue_catch_ups(session, settings, now, catch_ups)
    await _finish_day(session, "reminders", today)
    log.info("reminder scan: %s enqueued, %s late folded, %s stale rows folded", count, len(late), folded)
    return count


# ----------------------------------------------------------------- escalations


async def scan_escalations(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Visits and milestones `escalate_after_days` overdue: to the cadre's supervisor and
    the region's admins (sent even when late: an escalation is still worth having)."""
    if not await lead(session, "escalations"):
        return 0
    today = local_today(settings.tz, now)
    days = await send_days(session, "escalations", today)
    after = settings.escalate_after_days
    dues = sorted({d - timedelta(days=after) for d in days})
    repo = NoticeRepository(session)
    visit_rows = await repo.pairings_to_escalate(dues)
    milestone_rows = await repo.milestones_to_escalate(dues)
    subjects = [("visit", "pairing", r) for r in visit_rows] + [("milestone", "milestone", r) for r in milestone_rows]
    supervisors = await cadre_accounts(session, {r[2] for _s, _p, r in subjects if r[2] is not None})
    admins = await region_admins(session, {r[4] for _s, _p, r in subjects})
    not_before = release_time(now, settings.tz, settings.quiet_hours)
    notices = []
    for sort, prefix, (subject_id, cadre_id, supervisor_id, household_id, path, due) in subjects:
        payload = {"subject": sort, f"{prefix}_id": subject_id, "household_id": household_id,
                   "cadre_id": cadre_id, "due": due.isoformat(), "days": after}
        receivers = [*supervisors.get(supervisor_id, []), *admins.get(path, [])]
        for account_id in dict.fromkeys(receivers):
            key = notice_key(K.ESCALATION, account_id, f"{prefix}-{subject_id}", due)
            notices.append(Notice(key, K.ESCALATION, account_id, not_before, payload))
    count = await enqueue(session, notices)
    await _finish_day(session, "escalations", today)
    log.info("escalation scan: %s enqueued", count)
    return count


async def scan_hardship(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Hardship requests past their acknowledgement deadline (not acknowledged) or their
    outcome deadline (not resolved), not escalated for that deadline yet: to the cadre's
    supervisor and the region's admins; marks `escalated_at`."""
    if not await lead(session, "hardship"):
        return 0
    repo = NoticeRepository(session)
    rows = await repo.hardship_to_escalate(now, now - timedelta(days=LOOKBACK_DAYS))
    if not rows:
        return 0
    supervisors = await cadre_accounts(session, {r.supervisor_id for r in rows if r.supervisor_id is not None})
    admins = await region_admins(session, {r.path for r in rows})
    not_before = release_time(now, settings.tz, settings.quiet_hours)
    notices = []
    for request_id, outcome_due_at, _resolved, supervisor_id, path in rows:
        stage = "outcome" if outcome_due_at < now else "ack"
        receivers = [*supervisors.get(supervisor_id, []), *admins.get(path, [])]
        for account_id in dict.fromkeys(receivers):
            key = notice_key(K.HARDSHIP_ESCALATION, account_id, f"hardship-{request_id}", stage)
            notices.append(Notice(key, K.HARDSHIP_ESCALATION, account_id, not_before,
                                  {"request_id": request_id, "stage": stage}))
    count = await enqueue(session, notices)
    await repo.mark_hardship_escalated((r.id for r in rows), now)
    log.info("hardship scan: %s request(s) escalated, %s notice(s)", len(rows), count)
    return count


# ------------------------------------------------------------- digest, weekly


def _local_moment(day: date, at: str, settings: Settings) -> datetime:
    return datetime.combine(day, time.fromisoformat(at), tzinfo=settings.tz)


async def digest_cadres(session: AsyncSession, today: date, until: date, rules: VisitRules | None = None) -> set[int]:
    """Cadres with a visit or milestone due by `until` (overdue included) or a hardship
    request not acknowledged yet, and (with `rules`) unit leaders whose village visit is
    overdue or due by `until`."""
    cadres = await NoticeRepository(session).cadres_with_work_due(until)
    if rules is not None:
        cadres |= await leaders_due(session, today, until, rules)
    return cadres


async def scan_digest(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """From digest_time (local) on, one digest per day to each account of a cadre with
    something due this week (the text is /today's, rendered at send time)."""
    today = local_today(settings.tz, now)
    moment = _local_moment(today, settings.digest_time, settings)
    if now < moment or not await lead(session, "digest"):
        return 0
    cadres = await digest_cadres(session, today, today + timedelta(days=7), settings.rules.visits)
    accounts = await cadre_accounts(session, cadres)
    not_before = release_time(max(now, moment), settings.tz, settings.quiet_hours)
    notices = [
        Notice(notice_key(K.DIGEST, account_id, f"cadre-{cadre_id}", today), K.DIGEST, account_id, not_before,
               {"cadre_id": cadre_id, "day": today.isoformat(), "tz": settings.timezone})
        for cadre_id in sorted(accounts)
        for account_id in accounts[cadre_id]
    ]
    count = await enqueue(session, notices)
    log.info("digest scan: %s enqueued", count)
    return count


async def scan_weekly(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Mondays from digest_time (local): one summary per active admin account."""
    today = local_today(settings.tz, now)
    moment = _local_moment(today, settings.digest_time, settings)
    if today.weekday() != 0 or now < moment or not await lead(session, "weekly"):
        return 0
    admins = await NoticeRepository(session).active_admin_ids()
    not_before = release_time(max(now, moment), settings.tz, settings.quiet_hours)
    notices = [
        Notice(notice_key(K.WEEKLY_SUMMARY, account_id, "week", today), K.WEEKLY_SUMMARY, account_id, not_before,
               {"week": today.isoformat(), "tz": settings.timezone})
        for account_id in admins
    ]
    count = await enqueue(session, notices)
    log.info("weekly scan: %s enqueued", count)
    return count


async def scan_confirmations(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Flag visits whose household did not answer in time (returns visits flagged)."""
    if not await lead(session, "confirmations"):
        return 0
    return await expire_confirmations(session, now)


# ------------------------------------------------------------------------ all

Scan = Callable[[AsyncSession, Settings, datetime], Awaitable[int]]
SCANS: dict[str, Scan] = {
    "confirmations": scan_confirmations,
    "reminders": scan_reminders,
    "escalations": scan_escalations,
    "hardship": scan_hardship,
    "digest": scan_digest,
    "weekly": scan_weekly,
}
FAILED = -1  # a scan's count in run_all_scans when it raised (logged; the others still run)


async def run_all_scans(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """Every scan once as of `now` (default: the current time), each in its own
    transaction; returns scan name -> notices enqueued (confirmations: visits flagged),
    FAILED for a scan that raised."""
    now = now if now is not None else utcnow()
    if now.tzinfo is None:
        raise ValueError("an aware datetime is required")
    counts: dict[str, int] = {}
    for name, scan in SCANS.items():
        try:
            async with sessionmaker() as session:
                counts[name] = await scan(session, settings, now)
                await session.commit()
        except Exception:  # one broken scan must not stop the others (nor the scheduler)
            log.exception("scan %s failed", name)
            counts[name] = FAILED
    return counts
