"""Quiet hours (notifications/quiet.py) and the scheduler's job (notifications/scheduler.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from notifications.quiet import parse_window, release_time
from notifications.scheduler import (
    BROADCAST_INTERVAL,
    BROADCAST_JOB_ID,
    JOB_ID,
    SCAN_INTERVAL,
    build_scheduler,
)
from tests.notifications.scans.conftest import at

TZ = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (22, 0, at(date(2026, 12, 2), 8)),  # evening: tomorrow 08:00
        (21, 0, at(date(2026, 12, 2), 8)),  # the window's first minute
        (3, 0, at(DAY, 8)),  # night: this morning 08:00
        (8, 0, at(DAY, 8)),  # the window's end is outside it
        (12, 0, at(DAY, 12)),  # daytime: unchanged
        (20, 59, at(DAY, 20, 59)),
    ],
)
def test_default_window_crosses_midnight(hour: int, minute: int, expected: datetime) -> None:
    assert release_time(at(DAY, hour, minute), TZ, "21:00-08:00") == expected


def test_other_windows_and_none() -> None:
    assert release_time(at(DAY, 13), TZ, "12:00-14:00") == at(DAY, 14)
    assert release_time(at(DAY, 23), TZ, "") == at(DAY, 23)
    assert parse_window("") is None and parse_window("08:00-08:00") is None
    moment = at(DAY, 23).astimezone(UTC)  # keeps the zone it was given
    assert release_time(moment, TZ, "21:00-08:00").tzinfo is UTC
    with pytest.raises(ValueError):
        release_time(datetime(2026, 12, 1, 23), TZ, "21:00-08:00")


def test_scheduler_has_the_scan_and_broadcast_jobs_in_memory(settings) -> None:
    scheduler = build_scheduler(None, settings)  # type: ignore[arg-type]
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {JOB_ID, BROADCAST_JOB_ID}
    assert jobs[JOB_ID].trigger.interval == SCAN_INTERVAL
    assert jobs[BROADCAST_JOB_ID].trigger.interval == BROADCAST_INTERVAL
    defaults = scheduler._job_defaults
    assert defaults["coalesce"] is True and defaults["max_instances"] == 1 and defaults["misfire_grace_time"] > 0
    assert type(scheduler._jobstores["default"]).__name__ == "MemoryJobStore"
