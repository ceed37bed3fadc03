"""Fixtures shared by the cadre-work tests: the bot on the emulator and the seeded people."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.app import Application, build_application
from bot.runner import on_startup
from tests.e2e.conftest import app, emulator, policy, shipped_policy, tg  # noqa: F401
from tests.work.people import WorkPeople, open_chats, seed_work


@pytest.fixture
async def people(sessionmaker) -> WorkPeople:
    """The registry only (no bot): for service and repository tests."""
    return await seed_work(sessionmaker)


@pytest.fixture
async def chat_people(people: WorkPeople, tg) -> WorkPeople:  # noqa: F811
    """The registry plus every person's chat with the bot opened (for end-to-end tests)."""
    await open_chats(tg)
    return people


@pytest.fixture
async def restart_bot(app, settings, emulator, policy, monkeypatch) -> AsyncIterator[Callable[[], Awaitable[Application]]]:  # noqa: F811
    """A function that stops and closes the running bot, as a process exit would, and starts
    a new one on the same database and emulator (dialog state must come back from storage)."""
    started: list[tuple[Application, asyncio.Task]] = []

    async def restart() -> Application:
        await app.dispatcher.stop_polling()
        await app.close()

        async def already_stopped() -> None:  # the app fixture's teardown stops it again
            return None

        monkeypatch.setattr(app.dispatcher, "stop_polling", already_stopped)
        fresh = build_application(settings.model_copy(update={"telegram_api_url": emulator.base_url}), policy=policy)
        await on_startup(fresh)
        polling = asyncio.create_task(
            fresh.dispatcher.start_polling(fresh.bot, handle_signals=False, close_bot_session=False, polling_timeout=1)
        )
        started.append((fresh, polling))
        return fresh

    yield restart
    for fresh, polling in started:
        await fresh.dispatcher.stop_polling()
        await asyncio.wait_for(polling, timeout=10)
        await fresh.close()
