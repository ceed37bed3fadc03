"""`fupin-bot db upgrade`: create or migrate the schema (idempotent)."""

from __future__ import annotations

import click
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.cli.common import fail, settings_or_exit


@click.group("db")
def command() -> None:
    """Database schema management."""


@command.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to upgrade to.")
def upgrade_cmd(revision: str) -> None:
    """Create or migrate the database schema to the latest revision (safe to repeat)."""
    from storage.migrate import upgrade

    settings = settings_or_exit()
    try:
        upgrade(settings.database_url, revision)
    except (OperationalError, DBAPIError, OSError) as exc:
        fail(f"database unreachable: {type(getattr(exc, 'orig', None) or exc).__name__}: check DATABASE_URL")
    click.echo("database is up to date")
