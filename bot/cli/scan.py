"""`fupin-bot scan [--at ISO]`: run every notification scan once, as of a moment.

    fupin-bot scan --at 2026-12-01T09:00        # local time of TIMEZONE
    fupin-bot scan --at 2026-12-01T01:00+00:00  # or with an offset

Prints one line per scan with the notices it enqueued (confirmations: visits flagged).
The running bot's sender delivers what was enqueued. A bad --at is one line on stderr
and exit status 2.
"""

from __future__ import annotations

from datetime import datetime

import click

from bot.cli.common import CliError, fail, migrated_database, run_async, settings_or_exit
from bot.config import Settings


def parse_at(raw: str | None, settings: Settings) -> datetime | None:
    """The moment --at names (aware; a time without offset is local in TIMEZONE), None for
    now; ValueError when it is not an ISO date-time."""
    if raw is None:
        return None
    value = datetime.fromisoformat(raw.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.tz)
    return value


@click.command("scan")
@click.option("--at", "at", default=None, metavar="ISO",
              help="Run as of this moment, e.g. 2026-12-01T09:00 (local time of TIMEZONE unless an offset is given).")
@click.option("--database-url", default=None, help="Use this database instead of DATABASE_URL.")
def command(at: str | None, database_url: str | None) -> None:
    """Run every notification scan once (reminders, overdue alerts, escalations, hardship
    escalations, digests, weekly summaries, expired visit confirmations) and print how
    many notices each enqueued. Safe to repeat: nothing is enqueued twice."""
    overrides = {"database_url": database_url} if database_url else {}
    settings = settings_or_exit(**overrides)
    try:
        moment = parse_at(at, settings)
    except ValueError:
        fail(f"--at: {at!r} is not an ISO date-time such as 2026-12-01T09:00")

    async def _main() -> dict[str, int]:
        from sqlalchemy.exc import SQLAlchemyError

        from notifications.scans import run_all_scans

        try:
            async with migrated_database(settings) as sessionmaker:
                return await run_all_scans(sessionmaker, settings, moment)
        except SQLAlchemyError as exc:
            name = type(getattr(exc, "orig", None) or exc).__name__
            raise CliError(f"scan failed: {name}") from None

    from notifications.scans import FAILED

    counts = run_async(_main())
    for name, count in counts.items():
        click.echo(f"{name}: {'failed' if count == FAILED else count}")
    failed = [name for name, count in counts.items() if count == FAILED]
    if failed:
        fail(f"scan failed: {', '.join(failed)} (see the log)")
