"""`fupin-bot report --region PATH --out FILE`: the admin report as a spreadsheet.

    fupin-bot report --region 白山市/长白朝鲜族自治县 --out 长白.xlsx   # workbook, every sheet
    fupin-bot report --region all --out province.csv                   # the figures alone
    fupin-bot report --region 白山市 --out 白山.zip --date 2026-11-30  # one CSV per sheet

The file is written to a temporary file next to FILE and renamed at the end, so a failed
run leaves nothing behind (and the file is readable by its owner only: it holds names). Bad input (unknown region, unknown extension, a directory that
does not exist or cannot be written) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import cast

import click

from bot.cli.common import CliError, fail, migrated_database, run_async, settings_or_exit
from bot.config import Settings

EXTENSIONS = {".xlsx": "xlsx", ".csv": "figures_csv", ".zip": "zip"}  # bot.reports.export.Output


def _check_out(out: Path) -> str:
    """The export format of `out` by its extension; fails on a bad target."""
    fmt = EXTENSIONS.get(out.suffix.lower())
    if fmt is None:
        fail(f"--out: {out.name!r} must end in .xlsx, .csv or .zip")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        fail(f"--out: directory {parent} does not exist")
    if out.is_dir():
        fail(f"--out: {out} is a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        fail(f"--out: directory {parent} is not writable")
    return fmt


@click.command("report")
@click.option("--region", required=True, metavar="PATH",
              help="The region, e.g. 白山市/长白朝鲜族自治县, or 'all' for the province.")
@click.option("--out", required=True, type=click.Path(path_type=Path), metavar="FILE",
              help="FILE.xlsx (workbook), FILE.csv (the figures) or FILE.zip (one CSV per sheet).")
@click.option("--date", "as_of", default=None, metavar="YYYY-MM-DD",
              help="As-of day for what counts as overdue (default: today in TIMEZONE); "
                   "statuses and completions are today's.")
@click.option("--locale", default="zh_Hans", type=click.Choice(["zh_Hans", "ko", "en"]),
              show_default=True, help="Language of the headers.")
@click.option("--database-url", default=None, help="Use this database instead of DATABASE_URL.")
def command(region: str, out: Path, as_of: str | None, locale: str, database_url: str | None) -> None:
    """Write the admin report of a region (figures per child region, overdue visits,
    overdue milestones, flagged visits, households per cadre) as XLSX or CSV."""
    if not region.strip():
        fail("report: --region needs a non-empty value")
    fmt = _check_out(out)
    day: date | None = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of.strip())
        except ValueError:
            fail(f"--date: {as_of!r} is not a date such as 2026-11-30")
    overrides = {"database_url": database_url} if database_url else {}
    settings = settings_or_exit(**overrides)
    region_path = "" if region.strip().lower() == "all" else region
    name, households = run_async(_main(settings, region_path, out, fmt, day, locale))
    click.echo(f"{name}: {households} households; wrote {out}")


async def _main(
    settings: Settings, region_path: str, out: Path, fmt: str, day: date | None, locale: str
) -> tuple[str, int]:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.reports.export import Output, write_export
    from bot.reports.figures import RegionNotFound, build_report
    from bot.work.rules import local_today
    from storage.repositories.regions import display_path, normalize_path

    today = day or local_today(settings.tz)
    parent = out.parent if str(out.parent) else Path(".")
    tmp: Path | None = None
    try:
        async with migrated_database(settings) as sessionmaker, sessionmaker() as session:
            try:
                report = await build_report(session, normalize_path(region_path), today)
            except RegionNotFound:
                raise CliError(f"report: no region {display_path(normalize_path(region_path))!r}") from None
            try:
                fd, name = tempfile.mkstemp(dir=parent, prefix=f".{out.name}.", suffix=".part")
            except OSError as exc:
                raise CliError(f"--out: cannot write in {parent}: {exc.strerror}") from None
            os.close(fd)
            tmp = Path(name)
            await write_export(session, report, tmp, locale, cast(Output, fmt), tz=settings.tz)
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise CliError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    except SQLAlchemyError as exc:
        reason = type(getattr(exc, "orig", None) or exc).__name__
        raise CliError(f"report failed: {reason}") from None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return display_path(report.path), report.total.households
