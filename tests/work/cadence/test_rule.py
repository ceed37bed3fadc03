"""The pure cadence rule at its boundaries: exactly N days, first contact, leap days, and
the Asia/Shanghai midnight."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.work.cadence import (
    is_overdue,
    leader_status_from_days,
    next_visit_due,
    rules_fingerprint,
    year_parts,
)
from bot.work.rules import VisitRules, local_today

RULES = VisitRules()  # N=30, M=7, 2 leader visits a year
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_defaults() -> None:
    assert (RULES.every_days, RULES.first_contact_days, RULES.leader_visits_per_year) == (30, 7, 2)


def test_exactly_n_days_is_due_not_overdue() -> None:
    last = date(2026, 10, 1)
    due = next_visit_due(date(2026, 1, 5), last, RULES)
    assert due == date(2026, 10, 31)
    assert not is_overdue(due, last + timedelta(days=30))
    assert is_overdue(due, last + timedelta(days=31))
    assert not is_overdue(due, last + timedelta(days=29))


def test_first_contact_at_start_plus_m() -> None:
    start = date(2026, 11, 1)
    due = next_visit_due(start, None, RULES)
    assert due == date(2026, 11, 8)
    assert not is_overdue(due, date(2026, 11, 8))
    assert is_overdue(due, date(2026, 11, 9))
    # a first contact on the start day itself moves the due date to start + N
    assert next_visit_due(start, start, RULES) == date(2026, 12, 1)


def test_other_rules() -> None:
    rules = VisitRules(every_days=14, first_contact_days=0)
    assert next_visit_due(date(2026, 3, 1), None, rules) == date(2026, 3, 1)
    assert next_visit_due(date(2026, 3, 1), date(2026, 3, 20), rules) == date(2026, 4, 3)


@pytest.mark.parametrize(
    ("start", "last", "due"),
    [
        (date(2028, 2, 22), None, date(2028, 2, 29)),  # first contact lands on the leap day
        (date(2027, 2, 22), None, date(2027, 3, 1)),  # no leap day in 2027
        (date(2028, 1, 1), date(2028, 2, 29), date(2028, 3, 30)),  # a visit on the leap day
        (date(2028, 1, 1), date(2028, 1, 30), date(2028, 2, 29)),  # N=30 ending on the leap day
        (date(2028, 1, 1), date(2028, 2, 15), date(2028, 3, 16)),  # across February, leap year
        (date(2027, 1, 1), date(2027, 2, 15), date(2027, 3, 17)),  # across February, common year
        (date(2026, 12, 1), date(2026, 12, 15), date(2027, 1, 14)),  # across the new year
    ],
)
def test_leap_days_and_month_ends(start: date, last: date | None, due: date) -> None:
    assert next_visit_due(start, last, RULES) == due


def test_shanghai_midnight() -> None:
    before = datetime(2026, 11, 29, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    after = datetime(2026, 11, 29, 16, 0, tzinfo=UTC)  # 00:00 on the 30th in Shanghai
    assert local_today(SHANGHAI, before) == date(2026, 11, 29)
    assert local_today(SHANGHAI, after) == date(2026, 11, 30)
    due = date(2026, 11, 29)  # e.g. last visit 2026-10-30
    assert not is_overdue(due, local_today(SHANGHAI, before))
    assert is_overdue(due, local_today(SHANGHAI, after))
    # while UTC still says the 29th
    assert after.date() == date(2026, 11, 29)
    with pytest.raises(ValueError, match="aware"):
        local_today(SHANGHAI, datetime(2026, 11, 29, 16, 0))


def test_fingerprint_depends_only_on_the_stored_rules() -> None:
    base = rules_fingerprint(RULES)
    assert rules_fingerprint(VisitRules()) == base
    assert rules_fingerprint(VisitRules(every_days=31)) != base
    assert rules_fingerprint(VisitRules(first_contact_days=5)) != base
    assert rules_fingerprint(VisitRules(leader_visits_per_year=4, backdate_days=10)) == base


# ------------------------------------------------------------------ unit leaders (pure part)


def test_year_parts() -> None:
    assert year_parts(2026, 2) == [(date(2026, 1, 1), date(2026, 6, 30)), (date(2026, 7, 1), date(2026, 12, 31))]
    assert [p[0].month for p in year_parts(2026, 4)] == [1, 4, 7, 10]
    assert year_parts(2028, 12)[1] == (date(2028, 2, 1), date(2028, 2, 29))
    assert year_parts(2026, 1) == [(date(2026, 1, 1), date(2026, 12, 31))]
    five = year_parts(2026, 5)
    assert five[0][0] == date(2026, 1, 1) and five[-1][1] == date(2026, 12, 31)
    assert all(a[1] + timedelta(days=1) == b[0] for a, b in itertools.pairwise(five))


def _status(today: date, days: list[date], rules: VisitRules = RULES):
    return leader_status_from_days(1, 2, today, rules, days)


def test_leader_no_visit_yet_in_first_half() -> None:
    s = _status(date(2026, 3, 10), [])
    assert (s.current, s.due, s.overdue, s.visits_this_year, s.last_visit_on) == (0, date(2026, 6, 30), False, 0, None)


def test_leader_visited_in_first_half() -> None:
    s = _status(date(2026, 3, 10), [date(2026, 2, 1), date(2026, 2, 1 + 1)])
    assert s.due == date(2026, 12, 31) and not s.overdue and s.visits_this_year == 2
    assert s.last_visit_on == date(2026, 2, 2)


def test_leader_missed_first_half() -> None:
    s = _status(date(2026, 7, 1), [])
    assert s.current == 1 and s.due == date(2026, 12, 31) and s.overdue
    s = _status(date(2026, 9, 1), [date(2026, 8, 1)])
    assert s.due == date(2027, 6, 30) and s.overdue  # the missed half stays missed this year


def test_leader_both_halves_done() -> None:
    s = _status(date(2026, 12, 31), [date(2026, 6, 30), date(2026, 7, 1)])
    assert s.parts[0].visits == 1 and s.parts[1].visits == 1
    assert s.due == date(2027, 6, 30) and not s.overdue


def test_leader_rule_off() -> None:
    assert _status(date(2026, 3, 1), [], VisitRules(leader_visits_per_year=0)) is None
