"""End-to-end harness: the real bot (aiogram dispatcher, real HTTP session) polling the
project's Bot API emulator, on the test database.

Every test using `tg` ends by checking that each request the bot made exists in the Bot
API description and carried its required parameters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.app import Application, build_application
from bot.config import Settings
from bot.emulator import start_emulator
from bot.emulator.client import EmulatorClient
from bot.policy.service import PolicyService
from bot.runner import on_startup
from tests.conftest import TEST_TOKEN

BOT_USERNAME = "fupin_test_bot"


@pytest.fixture
async def emulator() -> AsyncIterator[object]:
    running = await start_emulator(bots=[{"token": TEST_TOKEN, "username": BOT_USERNAME,
                                          "first_name": "扶贫助手"}])
    yield running
    await running.stop()


@pytest.fixture(scope="session")
def shipped_policy() -> PolicyService:
    """The shipped policy corpus and engine, built once per run (building takes a moment)."""
    return PolicyService()


@pytest.fixture
def policy(shipped_policy: PolicyService) -> PolicyService:
    """The policy service the bot uses; test packages may override it with a fixture corpus."""
    return shipped_policy


@pytest.fixture
async def app(settings: Settings, emulator, policy: PolicyService) -> AsyncIterator[Application]:
    """The bot, long-polling the emulator in the background for the test's duration."""
    bot_settings = settings.model_copy(update={"telegram_api_url": emulator.base_url})
    application = build_application(bot_settings, policy=policy)
    await on_startup(application)
    polling = asyncio.create_task(
        application.dispatcher.start_polling(
            application.bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    yield application
    await application.dispatcher.stop_polling()
    await asyncio.wait_for(polling, timeout=10)
    await application.close()


@pytest.fixture
async def tg(emulator, app: Application) -> AsyncIterator[EmulatorClient]:
    """A client acting as human users; checks the bot's calls against the spec at the end."""
    async with EmulatorClient(emulator.base_url, TEST_TOKEN) as client:
        yield client
        bad = [c for c in await client.calls() if not c["spec_ok"]]
        assert not bad, f"requests not matching the Bot API description: {bad}"


async def texts(client: EmulatorClient, user_id: int, text: str, count: int = 1) -> list[str]:
    """Send `text` as the user and return the bot's reply texts."""
    events = await client.ask(user_id, text, count=count)
    return [e.get("text") or e.get("caption") or "" for e in events]
