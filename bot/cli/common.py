"""Shared CLI plumbing: the root group, settings loading, one-line failures, async runs."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings, load_settings
from storage.db import DatabaseError, create_engine, create_sessionmaker, ensure_migrated

T = TypeVar("T")

EXIT_USAGE = 2


class CliError(Exception):
    """A problem the operator can fix; printed as one line, exit status 2."""


def fail(message: str) -> NoReturn:
    click.echo(f"fupin-bot: {message}", err=True)
    sys.exit(EXIT_USAGE)


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        fail(str(exc))


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning operator errors into one console line and status 2."""
    try:
        return asyncio.run(coro)
    except (CliError, ConfigError, DatabaseError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        sys.exit(130)


@asynccontextmanager
async def migrated_database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on DATABASE_URL, after checking the schema is at head.

    Raises DatabaseError (one line: unreachable / not migrated); the engine is disposed
    on the way out whatever happens.
    """
    engine = create_engine(settings.database_url)
    try:
        await ensure_migrated(engine)
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # aiogram logs every update at INFO with user ids; keep that out of the logs by default.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main_group() -> None:
    """fupin-bot: Telegram bot and notification service for precision poverty alleviation."""
