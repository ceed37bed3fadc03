"""Gettext set-up: the catalogs in `locales/`, locale negotiation and Babel formatting.

zh_Hans is the source language (msgids are Chinese); ko and en are translations.
Telegram sends language codes such as `zh-hans`, `zh-CN`, `ko-KR` or `en-us`; aiogram's
stock middleware would send `zh-hans` to the fallback, so `normalize_locale` maps every
variant to one of our catalogs explicitly.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _  # noqa: F401  (re-exported for handlers)
from aiogram.utils.i18n import lazy_gettext as __  # noqa: F401
from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.numbers import format_decimal as _babel_format_decimal

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
SOURCE_LOCALE = "zh_Hans"
SUPPORTED = ("zh_Hans", "ko", "en")

# Human-readable names shown by /language, each in its own language.
LANGUAGE_NAMES = {"zh_Hans": "简体中文", "ko": "한국어", "en": "English"}

_ALIASES = {
    "zh": "zh_Hans",
    "zh_hans": "zh_Hans",
    "zh_cn": "zh_Hans",
    "zh_sg": "zh_Hans",
    "zh_my": "zh_Hans",
    "zh_hans_cn": "zh_Hans",
    # Traditional Chinese readers are better served by the Chinese catalog than by English.
    "zh_hant": "zh_Hans",
    "zh_tw": "zh_Hans",
    "zh_hk": "zh_Hans",
    "zh_mo": "zh_Hans",
    "ko": "ko",
    "ko_kr": "ko",
    "ko_kp": "ko",
    "en": "en",
}


def normalize_locale(code: str | None) -> str | None:
    """Map a Telegram/IETF/POSIX language code to a supported catalog, or None."""
    if not code:
        return None
    key = code.strip().replace("-", "_").lower()
    if key in _ALIASES:
        return _ALIASES[key]
    primary = key.split("_", 1)[0]
    if primary == "zh":
        return "zh_Hans"
    if primary in ("ko", "en"):
        return primary
    return None


def create_i18n(default_locale: str = SOURCE_LOCALE) -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


def babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def format_date(value: date, locale: str, fmt: str = "medium") -> str:
    return _babel_format_date(value, format=fmt, locale=babel_locale(locale))


def format_datetime(value: datetime, locale: str, tz: ZoneInfo, fmt: str = "medium") -> str:
    """Format an aware (UTC) datetime in the configured zone for the given locale."""
    return _babel_format_datetime(value, format=fmt, tzinfo=tz, locale=babel_locale(locale))


def format_number(value: int | float | Decimal, locale: str) -> str:
    return _babel_format_decimal(value, locale=babel_locale(locale))
