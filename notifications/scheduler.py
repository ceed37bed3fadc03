"""APScheduler set-up: the scans every few minutes, in the bot process.

One interval job runs `run_all_scans` (notifications/scans.py) every SCAN_INTERVAL; the daily
digest and the Monday summary are timed inside the scans by comparing `now` with the local
`digest_time`, so `fupin-bot scan --at` reproduces any moment and a bot started at 09:10
still sends the day's digest. The job store is APScheduler's MemoryJobStore: job stores
must not be shared between processes, and the scans carry the multi-instance safety
themselves (idempotency keys, PostgreSQL advisory locks). coalesce + max_instances=1: a
late or slow run is not stacked; misfire_grace_time lets a run delayed by a busy event
loop still happen.

A second job starts scheduled broadcasts when their time comes and sends each finished
broadcast's report (notifications/broadcasts.py), every BROADCAST_INTERVAL.

The caller starts and stops it (bot/runner.py): `scheduler.start()` inside the running
event loop, `scheduler.shutdown(wait=False)` on the way out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from notifications import reminders  # noqa: F401  (registers the renderers of the scans' notices)
from notifications.broadcasts import finish_broadcasts, start_due_broadcasts
from notifications.scans import FAILED, run_all_scans
from storage.models import utcnow

log = logging.getLogger(__name__)

SCAN_INTERVAL = timedelta(minutes=5)
MISFIRE_GRACE = 120  # seconds a run may start late
FIRST_RUN_DELAY = timedelta(seconds=10)  # let the bot finish starting first
JOB_ID = "scans"
BROADCAST_INTERVAL = timedelta(seconds=30)
BROADCAST_JOB_ID = "broadcasts"


async def scan_job(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> dict[str, int]:
    """One run of every scan as of now; never raises (the scheduler would only log it)."""
    try:
        counts = await run_all_scans(sessionmaker, settings, utcnow())
    except Exception:
        log.exception("scan run failed")
        return {}
    failed = [name for name, count in counts.items() if count == FAILED]
    if failed:
        log.warning("scans failed: %s", ", ".join(failed))
    return counts


def build_scheduler(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, *, first_run: datetime | None = None
) -> AsyncIOScheduler:
    """A scheduler (not started) with the scan job every SCAN_INTERVAL."""
    scheduler = AsyncIOScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": AsyncIOExecutor()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
        timezone=settings.tz,
    )
    scheduler.add_job(
        scan_job,
        "interval",
        seconds=int(SCAN_INTERVAL.total_seconds()),
        args=(sessionmaker, settings),
        id=JOB_ID,
        name="notification scans",
        next_run_time=first_run if first_run is not None else utcnow() + FIRST_RUN_DELAY,
        replace_existing=True,
    )
    scheduler.add_job(
        broadcast_job,
        "interval",
        seconds=int(BROADCAST_INTERVAL.total_seconds()),
        args=(sessionmaker,),
        id=BROADCAST_JOB_ID,
        name="broadcasts: start the due ones, report the finished ones",
        next_run_time=first_run if first_run is not None else utcnow() + FIRST_RUN_DELAY,
        replace_existing=True,
    )
    return scheduler


async def broadcast_job(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Start scheduled broadcasts whose time has come and report finished ones; never raises."""
    try:
        async with sessionmaker() as session:
            now = utcnow()
            await start_due_broadcasts(session, now)
            await finish_broadcasts(session, now)
    except Exception:
        log.exception("broadcast job failed")
