"""Locale negotiation: normalize_locale and LocaleMiddleware."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.types import User
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware
from aiogram.utils.i18n import gettext as _

from bot.i18n import LOCALES_DIR, SOURCE_LOCALE, SUPPORTED, create_i18n, normalize_locale
from bot.i18n_catalogs import _read_po, po_path
from bot.middlewares import LocaleMiddleware
from storage.models import Account


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-hant", "zh_Hans"),  # Traditional Chinese readers get the Chinese catalog
        ("zh-cn", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-TW", "zh_Hans"),
        ("zh-HK", "zh_Hans"),
        ("zh_Hans_CN", "zh_Hans"),
        ("ko", "ko"),
        ("ko-kr", "ko"),
        ("ko-KR", "ko"),
        ("en", "en"),
        ("en-us", "en"),
        ("en-GB", "en"),
        (" en-US ", "en"),
        ("fr", None),
        ("ja", None),
        ("pt-br", None),
        ("zz", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_locale(code: str | None, expected: str | None) -> None:
    assert normalize_locale(code) == expected


def test_every_supported_locale_normalizes_to_itself() -> None:
    for locale in SUPPORTED:
        assert normalize_locale(locale) == locale


def _user(language_code: str | None) -> User:
    return User(id=42, is_bot=False, first_name="Test", language_code=language_code)


def _account(language: str | None) -> Account:
    return Account(telegram_user_id=42, chat_id=42, language=language)


def _data(
    language_code: str | None = None, account_language: str | None = None, *, account: bool = True
) -> dict:
    data: dict[str, Any] = {"event_from_user": _user(language_code)}
    if account:
        data["account"] = _account(account_language)
    return data


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return create_i18n()


@pytest.fixture
def middleware(i18n: I18n) -> LocaleMiddleware:
    return LocaleMiddleware(i18n)


def test_catalogs_available(i18n: I18n) -> None:
    assert set(i18n.available_locales) == set(SUPPORTED)
    assert i18n.default_locale == SOURCE_LOCALE


@pytest.mark.parametrize(
    ("telegram_code", "expected"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh-hant", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("ko", "ko"),
        ("ko-KR", "ko"),
        ("en", "en"),
        ("en-GB", "en"),
        ("fr", SOURCE_LOCALE),  # unknown code: default locale
        ("", SOURCE_LOCALE),
        (None, SOURCE_LOCALE),
    ],
)
async def test_telegram_language_code(
    middleware: LocaleMiddleware, telegram_code: str | None, expected: str
) -> None:
    assert await middleware.get_locale(object(), _data(telegram_code)) == expected
    assert await middleware.get_locale(object(), _data(telegram_code, account=False)) == expected


@pytest.mark.parametrize(
    ("account_language", "telegram_code", "expected"),
    [
        ("en", "ko", "en"),  # the language chosen with /language wins
        ("ko", "zh-hans", "ko"),
        ("zh_Hans", "en-US", "zh_Hans"),
        (None, "ko-KR", "ko"),  # nothing chosen: Telegram's code
        ("fr", "ko", "ko"),  # a stored language we do not have: Telegram's code
        ("fr", "fr", SOURCE_LOCALE),
        ("ko", None, "ko"),
    ],
)
async def test_account_language_wins(
    middleware: LocaleMiddleware, account_language: str | None, telegram_code: str | None, expected: str
) -> None:
    assert await middleware.get_locale(object(), _data(telegram_code, account_language)) == expected


async def test_no_user_at_all(middleware: LocaleMiddleware) -> None:
    assert await middleware.get_locale(object(), {}) == SOURCE_LOCALE


async def test_unknown_code_uses_configured_default() -> None:
    middleware = LocaleMiddleware(create_i18n(default_locale="ko"))
    assert await middleware.get_locale(object(), _data("fr")) == "ko"
    assert await middleware.get_locale(object(), _data("zh-hans")) == "zh_Hans"


@pytest.mark.parametrize("code", ["zh-hans", "zh-Hans", "zh", "zh-cn", "zh-TW", "zh-hant"])
async def test_chinese_codes_reach_the_chinese_catalog(code: str) -> None:
    # English as the fallback, so that falling back would show.
    i18n = I18n(path=LOCALES_DIR, default_locale="en", domain="messages")
    assert await LocaleMiddleware(i18n).get_locale(object(), _data(code, account=False)) == "zh_Hans"


@pytest.mark.parametrize("code", ["zh", "zh-cn", "zh-TW"])
async def test_aiogram_stock_middleware_would_fall_back(code: str) -> None:
    # Why LocaleMiddleware exists: aiogram's SimpleI18nMiddleware parses `zh-cn` as
    # zh_Hans_CN and tries only "zh_Hans_CN" and "zh", neither of which is a catalog.
    # (Older aiogram versions sent `zh-hans` to the fallback too; 3.31 maps it.)
    i18n = I18n(path=LOCALES_DIR, default_locale="en", domain="messages")
    data = _data(code, account=False)
    assert await SimpleI18nMiddleware(i18n).get_locale(object(), data) == "en"
    assert await LocaleMiddleware(i18n).get_locale(object(), data) == "zh_Hans"


@pytest.mark.parametrize("locale", SUPPORTED)
async def test_handler_runs_in_the_negotiated_locale(middleware: LocaleMiddleware, locale: str) -> None:
    msgid = "切换语言"
    translated = _read_po(po_path(locale), locale=locale)[msgid].string or msgid

    async def handler(event: object, data: dict[str, Any]) -> str:
        assert data["i18n"] is middleware.i18n
        return _(msgid)

    data = _data("fr", account_language=locale)
    assert await middleware(handler, _user("fr"), data) == translated
