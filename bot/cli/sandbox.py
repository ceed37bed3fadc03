"""`fupin-bot sandbox`: the real bot against the local Bot API emulator, with demo personas
and a chat in the terminal. Also what `fupin-bot run` starts when BOT_TOKEN is unset."""

from __future__ import annotations

import click

from bot.cli.common import CliError, run_async, settings_or_exit
from bot.config import Settings


@click.command("sandbox")
@click.option(
    "--database-url",
    default=None,
    help="Database for the sandbox (default: sqlite+aiosqlite:///fupin-sandbox.db in this directory; "
    "DATABASE_URL is not used).",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Start over: delete the SQLite sandbox file first (other databases: reload the demo data).",
)
def command(database_url: str | None, fresh: bool) -> None:
    """Chat with the bot in this terminal, without Telegram or a token.

    Starts the project's Bot API emulator on 127.0.0.1, migrates the sandbox database,
    loads the fictional demo county when it is empty, and binds four personas:
    household, cadre, admin (of the demo county) and an unbound guest. Type messages as
    the current persona; `#N` presses button N, `:as NAME` switches persona,
    `:lang zh|ko|en` sets the Telegram language, `:help` lists commands, `:quit` exits.
    """
    start_sandbox(settings_or_exit(), database_url, fresh)


def start_sandbox(settings: Settings, database_url: str | None, fresh: bool) -> None:
    """Run the sandbox until :quit, end of input or Ctrl-C (exit status 0); start-up
    problems are one console line and status 2."""

    async def _main() -> None:
        from bot.sandbox import Sandbox, SandboxError, run_terminal

        try:
            sandbox = await Sandbox.start(settings, database_url, fresh=fresh)
        except SandboxError as exc:
            raise CliError(str(exc)) from None
        try:
            await run_terminal(sandbox)
        finally:
            await sandbox.stop()

    run_async(_main())
