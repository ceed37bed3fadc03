"""Babel formatting helpers of bot.i18n in every locale (CLDR data of Babel >= 2.14)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import SUPPORTED, babel_locale, format_date, format_datetime, format_number

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 17:30 UTC on 29 November is 01:30 on 30 November in Jilin (UTC+8, no daylight saving).
LATE_UTC = datetime(2026, 11, 29, 17, 30, tzinfo=UTC)
NNBSP = "\u202f"  # CLDR puts a narrow no-break space before AM/PM in English


@pytest.mark.parametrize("locale", SUPPORTED)
def test_babel_knows_every_catalog_locale(locale: str) -> None:
    parsed = babel_locale(locale)
    assert parsed.language == locale.split("_")[0]


@pytest.mark.parametrize(
    ("locale", "fmt", "expected"),
    [
        ("zh_Hans", "medium", "2026年11月29日"),
        ("zh_Hans", "short", "2026/11/29"),
        ("zh_Hans", "long", "2026年11月29日"),
        ("ko", "medium", "2026. 11. 29."),
        ("ko", "short", "26. 11. 29."),
        ("ko", "long", "2026년 11월 29일"),
        ("en", "medium", "Nov 29, 2026"),
        ("en", "short", "11/29/26"),
        ("en", "long", "November 29, 2026"),
    ],
)
def test_format_date(locale: str, fmt: str, expected: str) -> None:
    assert format_date(date(2026, 11, 29), locale, fmt) == expected


def test_format_date_default_is_medium() -> None:
    assert format_date(date(2026, 1, 5), "en") == "Jan 5, 2026"


@pytest.mark.parametrize(
    ("locale", "fmt", "expected"),
    [
        ("zh_Hans", "medium", "2026年11月30日 01:30:00"),
        ("zh_Hans", "short", "2026/11/30 01:30"),
        ("ko", "medium", "2026. 11. 30. 오전 1:30:00"),
        ("ko", "short", "26. 11. 30. 오전 1:30"),
        ("en", "medium", f"Nov 30, 2026, 1:30:00{NNBSP}AM"),
        ("en", "short", f"11/30/26, 1:30{NNBSP}AM"),
    ],
)
def test_format_datetime_crosses_midnight_in_shanghai(locale: str, fmt: str, expected: str) -> None:
    assert format_datetime(LATE_UTC, locale, SHANGHAI, fmt) == expected


@pytest.mark.parametrize("locale", SUPPORTED)
def test_format_datetime_converts_any_aware_zone(locale: str) -> None:
    same_instant = LATE_UTC.astimezone(timezone(timedelta(hours=-5)))
    assert format_datetime(same_instant, locale, SHANGHAI) == format_datetime(LATE_UTC, locale, SHANGHAI)


@pytest.mark.parametrize("locale", SUPPORTED)
def test_format_datetime_before_midnight_keeps_the_day(locale: str) -> None:
    early = datetime(2026, 11, 29, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    text = format_datetime(early, locale, SHANGHAI, "short")
    assert "29" in text and "30" not in text


@pytest.mark.parametrize("locale", SUPPORTED)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0"),
        (12, "12"),
        (1234567, "1,234,567"),
        (1234567.891, "1,234,567.891"),
        (-1234.5, "-1,234.5"),
        (Decimal("3500.00"), "3,500"),  # format_number drops trailing zeros
        (Decimal("0.125"), "0.125"),
    ],
)
def test_format_number(locale: str, value: int | float | Decimal, expected: str) -> None:
    # zh_Hans, ko and en all group by thousands with "," and use "." as decimal point.
    assert format_number(value, locale) == expected
