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

    Within half a year the other way it stays in this year: 12月1日 typed on 11月29日 for
    a visit means this year's (and the caller says "not in the future"), not last year's."""
    this_year = _make(today.year, month, day)
    if this_year is not None and abs((this_year - today).days) <= 183:
        return this_year
    if prefer == "past":
        if this_year is not None and this_year <= today:
            return this_year
        # 2月29日 typed in a non-leap year: the last leap year's
        for back in range(1, 5):
            candidate = _make(today.year - back, month, day)
            if candidate is not None:
                return candidate
        return None
    if this_year is not None and this_year >= today:
        return this_year
    for ahead in range(1, 5):
        candidate = _make(today.year + ahead, month, day)
        if candidate is not None:
            return candidate
    return None
