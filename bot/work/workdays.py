"""Working-day arithmetic for deadlines counted in working days (hardship requests).

Working days come from the `chinesecalendar` package, which knows the State Council's
public holidays and the make-up working weekends (调休) of each year it covers. For a year
it does not cover (it raises NotImplementedError: the holiday calendar of a year is only
published at the end of the year before) we fall back to Monday–Friday, so a deadline
can always be computed; it may then be a day early around a holiday.

A deadline of n working days is the *end* of the n-th working day after the local date
of the start (Asia/Shanghai by default): 23:59:59.999 local time of that day. So a report
filed on Friday at 09:00 or at 23:00 with 2 working days is due at the end of Tuesday,
and "overdue" turns at local midnight, never at UTC midnight. The day of filing itself
never counts, even when it is a working day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

END_OF_DAY = time(23, 59, 59, 999000)


def is_working_day(day: date) -> bool:
    """A working day in mainland China (holidays and make-up weekends included)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # chinesecalendar has no data for this year: plain Monday–Friday.
        return day.weekday() < 5


def nth_working_day_after(day: date, n: int) -> date:
    """The n-th working day after `day` (`day` itself for n == 0)."""
    if n < 0:
        raise ValueError("n must not be negative")
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """23:59:59.999 of `day` in `tz`, as an aware UTC datetime (how times are stored)."""
    return datetime.combine(day, END_OF_DAY, tzinfo=tz).astimezone(UTC)


def add_working_days(start: datetime, n: int, tz: ZoneInfo) -> datetime:
    """The deadline n working days after `start` (aware): the end of the n-th working day
    after the local date of `start`, in UTC. n == 0 gives the end of start's local day."""
    if start.tzinfo is None:
        raise ValueError("an aware datetime is required")
    local_day = start.astimezone(tz).date()
    return end_of_local_day(nth_working_day_after(local_day, n), tz)
