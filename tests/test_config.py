"""Settings: defaults, normalisation and one-line errors naming the variable."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL", "REDIS_URL", "TIMEZONE",
                 "DEFAULT_LOCALE", "WEBHOOK_URL", "WEBHOOK_SECRET", "ID_HASH_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = load_settings()
    assert s.bot_token is None
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.database_url == "sqlite+aiosqlite:///fupin.db"
    assert s.timezone == "Asia/Shanghai" and s.tz.key == "Asia/Shanghai"
    assert s.default_locale == "zh_Hans"
    assert s.redis_url is None


def test_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / ".env").write_text("DEFAULT_LOCALE=ko-KR\nTIMEZONE=Asia/Seoul\n", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    s = load_settings()
    assert s.default_locale == "ko"
    assert s.timezone == "Asia/Seoul"
    assert s.database_url == "postgresql+asyncpg://u@h/db"
    assert s.telegram_api_url == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("var", "value", "fragment"),
    [
        ("BOT_TOKEN", "not-a-token", "BOT_TOKEN"),
        ("TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("REDIS_URL", "http://x", "REDIS_URL"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
        ("DEFAULT_LOCALE", "fr", "DEFAULT_LOCALE"),
        ("WEBHOOK_URL", "nope", "WEBHOOK_URL"),
        ("WEBHOOK_SECRET", "has space", "WEBHOOK_SECRET"),
        ("WEBHOOK_PORT", "99999", "WEBHOOK_PORT"),
        ("ID_HASH_KEY", "short", "ID_HASH_KEY"),
    ],
)
def test_invalid_values_give_one_line(monkeypatch: pytest.MonkeyPatch, var: str, value: str,
                                      fragment: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert fragment in message and "expected" in message
    assert "\n" not in message
