"""`fupin-bot run`: the bot by long polling (default) or webhook; the sandbox without a token."""

from __future__ import annotations

import click

from bot.cli.common import CliError, fail, run_async, settings_or_exit, setup_logging


@click.command("run")
@click.option("--webhook", is_flag=True, help="Serve an aiohttp webhook (needs WEBHOOK_URL, WEBHOOK_SECRET).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def command(webhook: bool, verbose: bool) -> None:
    """Run the bot. Without BOT_TOKEN this starts the local sandbox with demo data."""
    settings = settings_or_exit()
    if not settings.bot_token:
        if webhook:
            fail("configuration error: BOT_TOKEN is missing: --webhook needs a token from @BotFather")
        click.echo("BOT_TOKEN is not set: starting the local sandbox (see `fupin-bot sandbox --help`).")
        from bot.cli.sandbox import start_sandbox

        start_sandbox(settings, database_url=None, fresh=False)
        return
    if webhook and not settings.webhook_url:
        fail("configuration error: WEBHOOK_URL is missing: expected the public https URL of this server")
    if webhook and not settings.webhook_secret:
        fail("configuration error: WEBHOOK_SECRET is missing: expected 1-256 characters of A-Z a-z 0-9 _ -")
    setup_logging(verbose)

    async def _main() -> None:
        from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

        from bot.app import build_application
        from bot.runner import run_polling, run_webhook

        app = build_application(settings)
        try:
            await (run_webhook(app) if webhook else run_polling(app))
        except TelegramUnauthorizedError:
            raise CliError("BOT_TOKEN was rejected by the Bot API (401): check the token") from None
        except TelegramNetworkError:
            raise CliError(
                f"cannot reach the Bot API at {settings.telegram_api_url}: check TELEGRAM_API_URL"
            ) from None

    run_async(_main())
