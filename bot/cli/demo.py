"""`fupin-bot demo-data`: load (or refresh) the fictional demo county; safe to repeat."""

from __future__ import annotations

from datetime import datetime

import click

from bot.cli.common import CliError, migrated_database, run_async, settings_or_exit


@click.command("demo-data")
@click.option("--upgrade", "do_upgrade", is_flag=True, help="Migrate the database to the latest schema first.")
@click.option("--database-url", default=None, help="Use this database instead of DATABASE_URL.")
def command(do_upgrade: bool, database_url: str | None) -> None:
    """Load a small, clearly fictional county (示范市/示范县) with households, cadres,
    pairings, plan items and visits. Dates are relative to today; running it again
    refreshes the demo rows without duplicating them."""
    overrides = {"database_url": database_url} if database_url else {}
    settings = settings_or_exit(**overrides)

    async def _main() -> str:
        from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

        from bot.demo import load_demo_data
        from storage.migrate import upgrade_async

        if do_upgrade:
            try:
                await upgrade_async(settings.database_url)
            except (OperationalError, DBAPIError, OSError) as exc:
                name = type(getattr(exc, "orig", None) or exc).__name__
                raise CliError(f"database unreachable: {name}: check DATABASE_URL") from None
        try:
            async with migrated_database(settings) as sessionmaker, sessionmaker() as session:
                summary = await load_demo_data(session, datetime.now(settings.tz).date(), settings.rules)
        except SQLAlchemyError as exc:
            name = type(getattr(exc, "orig", None) or exc).__name__
            raise CliError(f"loading the demo data failed: {name}") from None
        return summary.line()

    click.echo(run_async(_main()))
