"""`fupin-bot audit --since DATE [--region PATH]`: the audit trail as CSV on stdout.

    fupin-bot audit --since 2026-12-01                      # from local midnight (TIMEZONE)
    fupin-bot audit --since 2026-12-01T09:00 --region 白山市  # a region's subtree only

Columns: at,actor,action,region,object_type,object_id,details (at in local time with its
offset; actor as stored: 'cli' or 'account:<id>'; region the full path, empty for
province-wide entries; details compact JSON), oldest first. With --region only entries of
that region's subtree are printed (as its admin sees them: no province-wide entries).
A bad date or an unknown region is one line on stderr and exit status 2.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bot.cli.common import CliError, fail, migrated_database, run_async, settings_or_exit
from bot.config import Settings


def parse_since(raw: str, settings: Settings) -> datetime:
    """--since as an aware UTC moment: YYYY-MM-DD is local midnight in TIMEZONE, an ISO
    date-time without offset is local time. ValueError when it is neither."""
    text = raw.strip()
    if not text or not text[:4].isdigit():
        raise ValueError(raw)
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.tz)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(raw) from None


@click.command("audit")
@click.option("--since", "since", required=True, metavar="DATE",
              help="First day (YYYY-MM-DD, from local midnight of TIMEZONE) or an ISO date-time.")
@click.option("--region", "region", default=None, metavar="PATH",
              help="Only entries of this region's subtree, e.g. 白山市/长白朝鲜族自治县 (default: all).")
@click.option("--database-url", default=None, help="Use this database instead of DATABASE_URL.")
def command(since: str, region: str | None, database_url: str | None) -> None:
    """Print the audit trail (imports, invitations, bindings, broadcasts, plan changes,
    policy reloads) since DATE as CSV, oldest first."""
    overrides = {"database_url": database_url} if database_url else {}
    settings = settings_or_exit(**overrides)
    try:
        moment = parse_since(since, settings)
    except ValueError:
        fail(f"audit: --since: expected a date such as 2026-12-01 or an ISO date-time, got {since!r}")
    if region is not None and not region.strip():
        fail("audit: --region: empty region path")
    run_async(_audit(settings, moment, region))


class _Echo:
    """A `write(str)` target that goes through click (CliRunner captures it)."""

    def write(self, text: str) -> None:
        click.echo(text, nl=False)


async def _audit(settings: Settings, since: datetime, region: str | None) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.reports.audit import write_csv
    from storage.repositories.regions import RegionRepository

    try:
        async with migrated_database(settings) as sessionmaker, sessionmaker() as session:
            scope = None
            if region is not None:
                node = await RegionRepository(session).by_path(region)
                if node is None:
                    raise CliError(f"audit: unknown region {region.strip()!r}")
                scope = node.path
            return await write_csv(session, _Echo(), scope_path=scope, since=since, tz=settings.tz)
    except SQLAlchemyError as exc:
        name = type(getattr(exc, "orig", None) or exc).__name__
        raise CliError(f"audit failed: database error ({name})") from None
