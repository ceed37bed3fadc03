"""FSM state: in Redis when REDIS_URL is set, so dialogs survive a restart."""

from __future__ import annotations

import os
import secrets

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.app import create_fsm_storage
from bot.config import load_settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _redis_available() -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        return bool(await client.ping())
    except OSError:
        return False
    finally:
        await client.aclose()


async def test_redis_storage_survives_a_new_process_instance(monkeypatch, tmp_path) -> None:
    if not await _redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(redis_url=REDIS_URL)
    key = StorageKey(bot_id=secrets.randbelow(10**9), chat_id=42, user_id=42)
    first = create_fsm_storage(settings)
    await first.set_state(key, "Visit:notes")
    await first.set_data(key, {"household_id": 7})
    await first.close()
    second = create_fsm_storage(settings)  # as after a restart
    try:
        assert await second.get_state(key) == "Visit:notes"
        assert await second.get_data(key) == {"household_id": 7}
    finally:
        await second.set_state(key, None)
        await second.set_data(key, {})
        await second.close()
