"""`fupin-bot import households|cadres|pairings|milestones FILE`: load registry exports.

Every bad row is listed on stderr as `FILE:ROW: COLUMN: reason`; then, unless
--skip-invalid, nothing is written and the command exits with status 2. File-level
problems (encoding, headers, empty file, not CSV/XLSX) are one line and exit status 2.
The summary (created / updated / unchanged / skipped) goes to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bot.cli.common import CliError, migrated_database, run_async, settings_or_exit
from storage.importer.columns import KINDS

MAX_SHOWN = 200


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS), metavar="households|cadres|pairings|milestones")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=True), metavar="FILE")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and report (skip) the bad ones.")
@click.option("--dry-run", is_flag=True, help="Validate and count, but write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def command(kind: str, file: Path, skip_invalid: bool, dry_run: bool, quiet: bool) -> None:
    """Import registry data from a CSV (UTF-8 or GB18030) or XLSX file.

    Import in the order households, cadres, pairings, milestones. Columns are
    described in docs/import-formats.md; examples/ holds sample files.
    """
    settings = settings_or_exit()
    progress = not quiet and sys.stderr.isatty()

    async def _main() -> int:
        from storage.importer import ImportDatabaseError, ImportFileError, import_file

        async with migrated_database(settings) as sessionmaker:
            try:
                report = await import_file(
                    sessionmaker,
                    kind,
                    file,
                    skip_invalid=skip_invalid,
                    id_hash_key=settings.id_hash_key,
                    visit_rules=settings.rules.visits,
                    dry_run=dry_run,
                    progress=progress,
                    max_errors=MAX_SHOWN,
                )
            except (ImportFileError, ImportDatabaseError) as exc:
                raise CliError(str(exc)) from None

        for error in report.errors:
            click.echo(str(error), err=True)
        hidden = report.error_count - len(report.errors)
        if hidden > 0:
            click.echo(f"... and {hidden} more errors", err=True)
        if report.error_count and not skip_invalid:
            raise CliError(
                f"import failed: {report.invalid_rows} invalid row(s) in {report.file} "
                f"({report.error_count} error(s)); nothing was imported "
                "(fix the file, or use --skip-invalid to import the valid rows)"
            )
        click.echo(report.summary())
        return 0

    run_async(_main())
