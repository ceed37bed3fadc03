"""Fixtures shared by the cadre-work tests: the bot on the emulator and the seeded people."""

from __future__ import annotations

import pytest

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
