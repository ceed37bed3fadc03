"""`fupin-bot worker [--once]`: the outbox sender alone, without Telegram updates.

Runs `notifications.sender.Sender` on DATABASE_URL and the Bot API at TELEGRAM_API_URL.
Several workers (and bot processes) may run at once on PostgreSQL: they claim rows with
SKIP LOCKED. SIGTERM or SIGINT stop it gracefully (sends in flight finish, nothing is left
'sending'). `--once` sends what is due now and exits.
"""

from __future__ import annotations

import asyncio
import signal

import click

from bot.cli.common import fail, migrated_database, run_async, settings_or_exit, setup_logging


@click.command("worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def command(once: bool, verbose: bool) -> None:
    """Deliver queued notifications (the outbox) through the Bot API."""
    settings = settings_or_exit()
    if not settings.bot_token:
        fail("configuration error: BOT_TOKEN is missing: the worker sends through the Bot API")
    setup_logging(verbose)

    async def _main() -> None:
        from bot.app import create_bot
        from bot.i18n import create_i18n
        from notifications.sender import Sender, load_renderers

        load_renderers()
        async with migrated_database(settings) as sessionmaker:
            bot = create_bot(settings)
            sender = Sender(bot, sessionmaker, create_i18n(settings.default_locale), settings)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, sender.stop)
            try:
                if once:
                    handled = await sender.drain()
                    click.echo(f"handled {handled} outbox row(s)")
                else:
                    await sender.run()
            finally:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
                await bot.session.close()

    run_async(_main())
