"""Running the bot: long polling or an aiohttp webhook server, with start-up checks."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNotFound
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import Application
from bot.background import Background
from bot.commands import register_default_commands
from bot.observability import add_routes, start_metrics_server
from bot.work.cadence import ensure_rules_applied
from storage.db import ensure_migrated

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook"


async def on_startup(app: Application) -> None:
    me = await app.bot.get_me()
    log.info("bot @%s started", me.username)
    await register_default_commands(app.bot, app.i18n)
    async with app.sessionmaker() as session:  # recompute visit due dates if the rules changed
        await ensure_rules_applied(session, app.settings.rules.visits)


async def run_polling(app: Application) -> None:
    """Long polling until cancelled. Refuses to start on an unmigrated database."""
    await ensure_migrated(app.engine)
    stop_metrics = await start_metrics_server(app.settings, app.sessionmaker)
    background = Background(app)
    try:
        try:
            await app.bot.delete_webhook(drop_pending_updates=False)
        except (TelegramBadRequest, TelegramNotFound) as exc:  # a server without webhooks: nothing to delete
            log.warning("deleteWebhook refused: %s", exc.message)
        await on_startup(app)
        await background.start()
        # aiogram stops polling gracefully on SIGINT/SIGTERM (finishing updates in progress).
        await app.dispatcher.start_polling(app.bot, handle_signals=True, close_bot_session=False)
    finally:
        await background.stop()
        await stop_metrics()
        await app.close()


def build_webhook_app(app: Application) -> web.Application:
    """aiohttp app serving POST /webhook; requests without the right
    X-Telegram-Bot-Api-Secret-Token header get 401 (checked by aiogram's handler)."""
    settings = app.settings
    web_app = web.Application()
    handler = SimpleRequestHandler(
        dispatcher=app.dispatcher, bot=app.bot, secret_token=settings.webhook_secret
    )
    handler.register(web_app, path=WEBHOOK_PATH)

    async def _startup(bot: Bot, **_: object) -> None:
        await on_startup(app)
        await bot.set_webhook(
            url=f"{settings.webhook_url}{WEBHOOK_PATH}",
            secret_token=settings.webhook_secret,
            allowed_updates=app.dispatcher.resolve_used_update_types(),
        )

    app.dispatcher.startup.register(_startup)
    add_routes(web_app, app.sessionmaker)  # /metrics and /healthz on the webhook's own server
    setup_application(web_app, app.dispatcher, bot=app.bot)
    return web_app


async def run_webhook(app: Application) -> None:
    await ensure_migrated(app.engine)
    web_app = build_webhook_app(app)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, app.settings.webhook_host, app.settings.webhook_port)
    background = Background(app)
    try:
        await site.start()
        log.info("webhook server listening on %s:%s", app.settings.webhook_host, app.settings.webhook_port)
        await background.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await background.stop()
        await runner.cleanup()
        await app.close()
