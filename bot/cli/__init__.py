"""`fupin-bot` command line (click). One module per command group.

Console errors are one line on stderr and exit status 2 (`fail`); no tracebacks for bad
input, configuration or an unreachable/unmigrated database.
"""

from __future__ import annotations

import click

from bot.cli.common import main_group


def _register() -> None:
    from bot.cli import broadcast, db, demo, importing, invite, report, run, sandbox, scan, worker

    for module in (run, sandbox, db, importing, invite, demo, worker, scan, broadcast, report):
        main_group.add_command(module.command)
    from bot.cli import audit  # issue #6: the audit trail as CSV

    main_group.add_command(audit.command)


_register()


def main() -> None:
    main_group(prog_name="fupin-bot")


__all__ = ["click", "main", "main_group"]
