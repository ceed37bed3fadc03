"""Fixtures: an in-process emulator, a real aiogram Bot pointed at it, and a control client."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.emulator import BotSeed, EmulatorClient, RunningEmulator, start_emulator

TOKEN = "123456:TEST-token"
BOT_USERNAME = "fupin_demo_bot"
USER_ID = 1001


def make_bot(base_url: str, token: str = TOKEN) -> Bot:
    """The unmodified aiogram Bot, talking to the emulator."""
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))


def png_bytes(width: int = 1000, height: int = 500) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator(
        bots=[BotSeed(TOKEN, BOT_USERNAME, "Fupin Demo")], webhook_retry_delay=0.05
    )
    yield running
    await running.stop()


@pytest_asyncio.fixture
async def bot(emulator: RunningEmulator) -> AsyncIterator[Bot]:
    instance = make_bot(emulator.base_url)
    yield instance
    await instance.session.close()


@pytest_asyncio.fixture
async def client(emulator: RunningEmulator) -> AsyncIterator[EmulatorClient]:
    async with EmulatorClient(emulator.base_url, TOKEN) as instance:
        yield instance


@pytest_asyncio.fixture
async def user(client: EmulatorClient) -> int:
    """A user who has already written to the bot (so the chat exists)."""
    await client.add_user(USER_ID, "Li", last_name="Wei", username="liwei", language_code="zh")
    await client.send_text(USER_ID, "/start")
    return USER_ID
