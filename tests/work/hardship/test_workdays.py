"""Working-day deadlines (bot/work/workdays.py): Chinese holidays, make-up days, the
Mon–Fri fallback beyond chinesecalendar's data, and the end of the local day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.work.workdays import add_working_days, is_working_day, nth_working_day_after

TZ = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=TZ)


def end_of(day: date) -> datetime:
    """23:59:59.999 Shanghai of `day`, in UTC."""
    return datetime(day.year, day.month, day.day, 15, 59, 59, 999000, tzinfo=UTC)


def test_friday_filing_is_due_at_the_end_of_tuesday() -> None:
    friday = local(2026, 11, 6)
    assert friday.strftime("%a") == "Fri"
    due = add_working_days(friday, 2, TZ)
    assert due == end_of(date(2026, 11, 10))
    assert due.tzinfo is UTC
    assert due.astimezone(TZ).strftime("%a %H:%M:%S.%f") == "Tue 23:59:59.999000"
    # filing early or late on the Friday makes no difference; the weekend never counts
    assert add_working_days(local(2026, 11, 6, 0, 0), 2, TZ) == due
    assert add_working_days(local(2026, 11, 6, 23, 59), 2, TZ) == due
    assert add_working_days(local(2026, 11, 7), 2, TZ) == due  # Saturday
    assert add_working_days(local(2026, 11, 8), 2, TZ) == due  # Sunday


def test_national_day_holiday_and_its_make_up_workday() -> None:
    # 国庆 2026: 10-01..10-07 off; Saturday 10-10 is a make-up working day (调休)
    for day in range(1, 8):
        assert not is_working_day(date(2026, 10, day))
    assert is_working_day(date(2026, 10, 10)) and date(2026, 10, 10).weekday() == 5
    # Wednesday 09-30: the whole week off, then Thursday 10-08 and Friday 10-09
    assert add_working_days(local(2026, 9, 30), 2, TZ) == end_of(date(2026, 10, 9))
    # Friday 10-09 + 1 working day = the make-up Saturday 10-10
    assert add_working_days(local(2026, 10, 9), 1, TZ) == end_of(date(2026, 10, 10))
    # filed during the holiday: the first working days after it
    assert add_working_days(local(2026, 10, 3), 3, TZ) == end_of(date(2026, 10, 10))
    # 2 + 20 working days from 09-30 skip the whole holiday week
    assert nth_working_day_after(date(2026, 9, 30), 22) == date(2026, 11, 5)  # 10-08..10 = 3, then 19 more


def test_years_beyond_the_calendar_fall_back_to_monday_to_friday() -> None:
    with pytest.raises(NotImplementedError):
        import chinese_calendar

        chinese_calendar.is_workday(date(2030, 1, 1))
    # 2030-01-01 (New Year, a Tuesday) is unknown to chinesecalendar: counted as a working day
    assert is_working_day(date(2030, 1, 1))
    assert not is_working_day(date(2030, 1, 5))  # Saturday
    assert add_working_days(local(2029, 12, 31), 1, TZ) == end_of(date(2030, 1, 1))
    assert add_working_days(local(2030, 1, 4), 2, TZ) == end_of(date(2030, 1, 8))  # Fri → Tue
    # a deadline crossing from a covered year into an uncovered one
    assert add_working_days(local(2026, 12, 31), 2, TZ) == end_of(date(2027, 1, 4))


def test_the_local_date_decides_not_the_utc_date() -> None:
    # Thursday 2026-11-05 23:30 in Shanghai is still Thursday: Friday, Monday
    thursday_late = datetime(2026, 11, 5, 15, 30, tzinfo=UTC)
    assert add_working_days(thursday_late, 2, TZ) == end_of(date(2026, 11, 9))
    # one hour later it is Friday 00:30 in Shanghai (still Thursday in UTC): Monday, Tuesday
    friday_early = thursday_late + timedelta(hours=1)
    assert friday_early.date() == date(2026, 11, 5)
    assert add_working_days(friday_early, 2, TZ) == end_of(date(2026, 11, 10))
    # the deadline is the last millisecond of the local day
    due = add_working_days(friday_early, 2, TZ)
    assert (due + timedelta(milliseconds=1)).astimezone(TZ) == datetime(2026, 11, 11, tzinfo=TZ)


def test_zero_negative_and_naive() -> None:
    assert add_working_days(local(2026, 11, 7), 0, TZ) == end_of(date(2026, 11, 7))
    with pytest.raises(ValueError):
        add_working_days(local(2026, 11, 7), -1, TZ)
    with pytest.raises(ValueError):
        add_working_days(datetime(2026, 11, 7, 10, 0), 2, TZ)
