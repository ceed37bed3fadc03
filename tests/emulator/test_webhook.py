"""Webhook mode: the emulator POSTs updates to the bot like Telegram does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiogram.methods import SendMessage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.emulator import BotSeed, EmulatorClient, start_emulator

from .conftest import TOKEN, USER_ID, make_bot

pytestmark = pytest.mark.asyncio


class Receiver:
    """A webhook endpoint recording what it receives; fails the first ``failures`` requests."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], dict]] = []
        self.event = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures > 0:
            self.failures -= 1
            return web.Response(status=500)
        self.received.append((dict(request.headers), await request.json()))
        self.event.set()
        return web.json_response({})


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, TestServer]]:
    target = Receiver(failures=1)
    app = web.Application()
    app.router.add_post("/hook", target.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield target, server
    await server.close()


async def test_webhook_delivery_with_secret(
    bot: Bot, client: EmulatorClient, receiver: tuple[Receiver, TestServer]
) -> None:
    target, server = receiver
    url = str(server.make_url("/hook"))
    await client.add_user(USER_ID, "Li")
    assert await bot.set_webhook(url, secret_token="s3cr3t-Token_1")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    sent = await client.send_text(USER_ID, "/start")
    await asyncio.wait_for(target.event.wait(), 5)  # first attempt got a 500, the retry succeeds
    headers, update = target.received[0]
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cr3t-Token_1"
    assert update["update_id"] == sent["update_id"] and update["message"]["text"] == "/start"
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
    deliveries = (await client.webhook())["deliveries"]
    assert [d["status"] for d in deliveries] == [500, 200]
    await bot.delete_webhook()
    assert (await bot.get_webhook_info()).url == ""
    await client.send_text(USER_ID, "polling again")
    assert len(await bot.get_updates()) == 1


async def test_set_webhook_validation(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook("https://example.org/hook", secret_token="not allowed!")
    with pytest.raises(TelegramBadRequest, match="bad webhook"):
        await bot.set_webhook("ftp://example.org/hook")


async def test_aiogram_webhook_handler_reply_is_executed(bot: Bot, client: EmulatorClient) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> SendMessage:
        return message.answer(f"echo: {message.text}")  # answered inside the webhook response

    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="hook-secret", handle_in_background=False).register(
        app, path="/tg"
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        await bot.set_webhook(str(server.make_url("/tg")), secret_token="hook-secret")
        await client.add_user(USER_ID, "Li")
        [reply] = await client.ask(USER_ID, "你好")
        assert reply["text"] == "echo: 你好" and reply["from_bot"]
        [call] = await client.calls("sendMessage")
        assert call["spec_ok"] and call["params"]["chat_id"] == USER_ID
    finally:
        await bot.delete_webhook()
        await server.close()


async def test_stop_is_prompt_with_active_webhook_and_long_poll() -> None:
    running = await start_emulator(
        bots=[BotSeed(TOKEN, "fupin_demo_bot"), BotSeed("777:poller", "poller_test_bot")]
    )
    hooked, poller = make_bot(running.base_url), make_bot(running.base_url, "777:poller")
    try:
        await hooked.set_webhook("http://127.0.0.1:9/unreachable")
        poll = asyncio.create_task(poller.get_updates(timeout=30))
        await asyncio.sleep(0.2)
        await asyncio.wait_for(running.stop(), 5)
        assert await asyncio.wait_for(poll, 5) == []
    finally:
        await hooked.session.close()
        await poller.session.close()
