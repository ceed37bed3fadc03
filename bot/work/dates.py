"""Dates as people type them in the chat: 2026-12-01, 12月1日, 11/20, 明天, 어제, yesterday…

`parse_user_date` returns a `date` or None when it cannot read the text; the caller
decides what is allowed (a visit: not in the future, at most N days back; a milestone:
not in the past). Month-day forms without a year are completed towards `prefer`: the most
recent such day for a visit ("past"), the next one for a deadline ("future").

The short numeric and Chinese/Korean month-day forms are read here (dateparser reads
"11/20" as 2011-11-20 and does not know 12月1日 without a year); everything else (relative
words in the three languages, written-out months, full dates) goes to dateparser.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal

import dateparser

Prefer = Literal["past", "future"]

_FULL = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号號]?\s*$")
_MONTH_DAY = re.compile(r"^\s*(\d{1,2})\s*(?:[-/.]|月|월)\s*(\d{1,2})\s*(?:[日号號]|일)?\s*$")
# relative words dateparser does not know (or reads differently)
_RELATIVE = {
    "今天": 0, "今日": 0, "오늘": 0, "today": 0,
    "昨天": -1, "昨日": -1, "어제": -1, "yesterday": -1,
    "前天": -2, "前日": -2, "그저께": -2, "그제": -2,
    "大前天": -3,
    "明天": 1, "明日": 1, "내일": 1, "tomorrow": 1,
    "后天": 2, "後天": 2, "모레": 2,
}
_LANGUAGES = ["zh", "ko", "en"]


def parse_user_date(text: str, today: date, prefer: Prefer = "past") -> date | None:
    raw = (text or "").strip().lower().rstrip("。.!！")
    if not raw or len(raw) > 40:
        return None
    if raw in _RELATIVE:
        return today + timedelta(days=_RELATIVE[raw])
    if m := _FULL.match(raw):
        return _make(int(m[1]), int(m[2]), int(m[3]))
    if m := _MONTH_DAY.match(raw):
        return _complete(int(m[1]), int(m[2]), today, prefer)
    if not re.search(r"[0-9a-z\u4e00-\u9fff\uac00-\ud7a3]", raw):
        return None
    parsed = dateparser.parse(
        raw,
        languages=_LANGUAGES,
        settings={
            "RELATIVE_BASE": datetime(today.year, today.month, today.day, 12, 0),
            "PREFER_DATES_FROM": prefer,
            "DATE_ORDER": "YMD",
            "STRICT_PARSING": False,
        },
    )
    return parsed.date() if parsed is not None else None


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _complete(month: int, day: int, today: date, prefer: Prefer) -> date | None:
    """The month-day in the year that makes it the latest past (or the next future) day.

    A deadline ("future") is always the next such day: 6月30日 typed in November means next
    June. A visit ("past") typed up to half a year ahead stays in this year, so 12月1日 typed
    on 11月29日 is this year's and the caller can say "not in the future" rather than
    silently taking last year's."""
    this_year = _make(today.year, month, day)
    step = -1 if prefer == "past" else 1
    if this_year is not None:
        if prefer == "past" and (this_year <= today or (this_year - today).days <= 183):
            return this_year
        if prefer == "future" and this_year >= today:
            return this_year
    for years in range(1, 5):  # 2月29日 outside a leap year: the nearest leap year's
        candidate = _make(today.year + step * years, month, day)
        if candidate is not None:
            return candidate
    return None
