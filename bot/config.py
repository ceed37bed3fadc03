"""The one settings object of the service, read from the environment or a `.env` file.

Every knob an operator can turn lives here (see the configuration table in README.md).
`load_settings()` turns a validation failure into `ConfigError` carrying one clear line
that names the variable and what it expects; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import math
import re
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.work.rules import Rules, RulesError, load_rules

SUPPORTED_LOCALES = ("zh_Hans", "ko", "en")

_TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ConfigError(Exception):
    """A configuration value is missing or invalid; `str()` is one line for the console."""


class Settings(BaseSettings):
    """Service configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: str | None = Field(default=None, description="Telegram bot token from @BotFather")
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="base URL of a Bot API server, used as {base}/bot{token}/{method}",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///fupin.db",
        description="SQLAlchemy async URL (sqlite+aiosqlite:///FILE or postgresql+asyncpg://...)",
    )
    redis_url: str | None = Field(default=None, description="redis://host:port/db for FSM state")
    timezone: str = Field(default="Asia/Shanghai", description="an IANA time zone such as Asia/Shanghai")
    default_locale: str = Field(default="zh_Hans", description="one of zh_Hans, ko, en")
    webhook_url: str | None = Field(default=None, description="public https URL Telegram posts updates to")
    webhook_secret: str | None = Field(
        default=None, description="1-256 characters of A-Z a-z 0-9 _ - (Telegram's secret_token)"
    )
    webhook_host: str = Field(default="0.0.0.0", description="address the webhook server listens on")
    webhook_port: int = Field(default=8080, ge=1, le=65535, description="a TCP port, 1-65535")
    id_hash_key: str | None = Field(
        default=None, description="secret key (16+ characters) for hashing national ID numbers"
    )
    invite_ttl_days: int = Field(default=14, ge=1, le=365, description="days an invitation stays valid, 1-365")
    cadence_file: Path | None = Field(
        default=None, description="a YAML file of visit-cadence rules (defaults: bot/work/cadence.yaml)"
    )
    send_rate: float = Field(
        default=25.0, gt=0, le=1000,
        description="messages per second the sender may send in all, 0-1000 (above 30 needs Telegram paid broadcasts)",
    )
    send_max_attempts: int = Field(default=8, ge=1, le=100, description="delivery attempts before a message fails, 1-100")
    quiet_hours: str = Field(
        default="21:00-08:00", description="local hours that hold non-urgent messages, HH:MM-HH:MM, or empty for none"
    )
    escalate_after_days: int = Field(
        default=7, ge=1, le=365, description="days overdue before supervisor and admins are alerted, 1-365"
    )
    late_after_days: int = Field(
        default=2, ge=1, le=60, description="reminders later than this go into one catch-up digest, 1-60 days"
    )
    digest_time: str = Field(default="08:30", description="local time of the cadres' daily digest, HH:MM")
    metrics_host: str = Field(default="127.0.0.1", description="address of the /metrics and /healthz server")
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="port of /metrics and /healthz, 0 = off")
    bot_username: str | None = Field(
        default=None, description="the bot's @username for invitation links when no token is set"
    )
    chart_font: Path | None = Field(
        default=None,
        description="a font file with CJK and Hangul glyphs for report charts (.otf/.ttf/.ttc); "
        "defaults to a system Noto Sans CJK, else the one in the mplfonts package",
    )

    @field_validator("bot_token")
    @classmethod
    def _check_token(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not _TOKEN_RE.match(value):
            raise ValueError("expected a token like 123456:ABC-DEF... from @BotFather")
        return value

    @field_validator("telegram_api_url", "webhook_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if value.startswith("sqlite:///"):
            value = "sqlite+aiosqlite:///" + value.removeprefix("sqlite:///")
        elif value.startswith(("postgresql://", "postgres://")):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("expected sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis:// URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as Asia/Shanghai") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        from bot.i18n import normalize_locale

        locale = normalize_locale(value)
        if locale is None:
            raise ValueError("expected one of " + ", ".join(SUPPORTED_LOCALES))
        return locale

    @field_validator("webhook_secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not _SECRET_RE.match(value):
            raise ValueError("expected 1-256 characters of A-Z a-z 0-9 _ -")
        return value

    @field_validator("id_hash_key")
    @classmethod
    def _check_key(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if len(value) < 16:
            raise ValueError("expected a secret of at least 16 characters")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected HH:MM-HH:MM such as 21:00-08:00, or empty")
        return value

    @field_validator("digest_time")
    @classmethod
    def _check_digest(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("expected HH:MM such as 08:30")
        return value.strip()

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def rules(self) -> Rules:
        """The cadence rules (CADENCE_FILE over the shipped defaults); RulesError if invalid."""
        return load_rules(self.cadence_file)

    @property
    def send_concurrency(self) -> int:
        """Sends in flight at once: about 0.3 s of sending at SEND_RATE (Telegram answers in
        tens to hundreds of ms, so 1,000/s needs a few hundred requests open), at least 64."""
        return max(64, math.ceil(self.send_rate * 0.3))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        raw = self.database_url.split(":///", 1)[1]
        return None if raw in ("", ":memory:") else Path(raw)


def load_settings(**overrides: object) -> Settings:
    """Build Settings, raising ConfigError with one console line on invalid input."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.rules  # noqa: B018 - read the cadence file now: a bad one stops start-up with one line
        return settings
    except RulesError as exc:
        raise ConfigError(f"configuration error: CADENCE_FILE: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        info = Settings.model_fields.get(field)
        expected = info.description if info and info.description else ""
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        detail = msg if msg and "expected" in msg else f"{msg}; expected {expected}".strip("; ")
        raise ConfigError(f"configuration error: {field.upper()} is invalid: {detail}") from None
