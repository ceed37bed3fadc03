"""`run --webhook`: Telegram's secret-token header is required (401 without it), and
updates the Bot API posts with it are answered."""

from __future__ import annotations

import socket

import aiohttp
import pytest
from aiohttp import web

from bot.app import build_application
from bot.emulator.client import EmulatorClient
from bot.runner import WEBHOOK_PATH, build_webhook_app
from tests.conftest import TEST_TOKEN

SECRET = "s3cret-Token_for-tests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def webhook_server(settings, emulator):
    port = _free_port()
    app = build_application(settings.model_copy(update={
        "telegram_api_url": emulator.base_url,
        "webhook_url": f"http://127.0.0.1:{port}",
        "webhook_secret": SECRET,
    }))
    runner = web.AppRunner(build_webhook_app(app))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()
    await app.close()


async def test_requests_without_the_secret_get_401(webhook_server) -> None:
    update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"},
                                          "from": {"id": 1, "is_bot": False, "first_name": "x"},
                                          "text": "/start"}}
    async with aiohttp.ClientSession() as http:
        async with http.post(webhook_server + WEBHOOK_PATH, json=update) as resp:
            assert resp.status == 401
        headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong"}
        async with http.post(webhook_server + WEBHOOK_PATH, json=update, headers=headers) as resp:
            assert resp.status == 401


async def test_updates_delivered_by_webhook_are_answered(webhook_server, emulator) -> None:
    async with EmulatorClient(emulator.base_url, TEST_TOKEN) as tg:
        info = await tg.webhook()
        assert info["config"]["url"] == webhook_server + WEBHOOK_PATH
        await tg.add_user(3001, first_name="甲", language_code="zh-hans")
        [reply] = await tg.ask(3001, "/help")
        assert "/language" in reply["text"]
        assert all(c["spec_ok"] for c in await tg.calls())
