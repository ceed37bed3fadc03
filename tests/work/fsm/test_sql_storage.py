"""SqlStorage (bot/fsm_storage.py): FSM state and data in `fsm_records`, on both databases."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select

from bot.app import create_fsm_storage
from bot.fsm_storage import SqlStorage
from storage.db import create_engine, create_sessionmaker
from storage.models import FsmRecord


class Dialog(StatesGroup):
    first = State()
    second = State()


KEY = StorageKey(bot_id=123456789, chat_id=4101, user_id=4101)
OTHER = StorageKey(bot_id=123456789, chat_id=4102, user_id=4102)


async def _rows(sessionmaker) -> list[FsmRecord]:
    async with sessionmaker() as s:
        return list((await s.scalars(select(FsmRecord).order_by(FsmRecord.key))).all())


async def test_round_trip(sessionmaker) -> None:
    storage = SqlStorage(sessionmaker)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}
    await storage.set_state(KEY, Dialog.first)
    assert await storage.get_state(KEY) == "Dialog:first"
    await storage.set_data(KEY, {"household_id": 7, "day": "2026-11-29", "nested": {"a": [1, 2]}, "n": None})
    assert await storage.get_data(KEY) == {"household_id": 7, "day": "2026-11-29", "nested": {"a": [1, 2]},
                                           "n": None}
    assert await storage.update_data(KEY, {"kind": "home", "household_id": 8}) == {
        "household_id": 8, "day": "2026-11-29", "nested": {"a": [1, 2]}, "n": None, "kind": "home"}
    assert await storage.get_value(KEY, "kind") == "home"
    assert await storage.get_value(KEY, "missing", 5) == 5
    await storage.set_state(KEY, "Dialog:second")  # a plain string works too
    assert await storage.get_state(KEY) == "Dialog:second"
    assert (await storage.get_data(KEY))["kind"] == "home"  # state change keeps the data
    # another key is independent
    assert await storage.get_state(OTHER) is None and await storage.get_data(OTHER) == {}
    [row] = await _rows(sessionmaker)
    assert row.key == "fsm:123456789:4101:4101:default"
    await storage.close()


async def test_unicode_and_returned_copy(sessionmaker) -> None:
    storage = SqlStorage(sessionmaker)
    await storage.set_data(KEY, {"notes": "走访了解 <b> 情况 & 조사"})
    got = await storage.get_data(KEY)
    got["notes"] = "changed"
    assert await storage.get_data(KEY) == {"notes": "走访了解 <b> 情况 & 조사"}


async def test_data_must_be_json(sessionmaker) -> None:
    storage = SqlStorage(sessionmaker)
    await storage.set_data(KEY, {"ok": 1})
    with pytest.raises(TypeError, match="JSON"):
        await storage.set_data(KEY, {"day": date(2026, 11, 29)})
    with pytest.raises(TypeError, match="JSON"):
        await storage.update_data(KEY, {"x": float("nan")})
    assert await storage.get_data(KEY) == {"ok": 1}  # nothing half-written
    await storage.set_data(KEY, {"pair": (1, 2)})
    assert await storage.get_data(KEY) == {"pair": [1, 2]}  # tuples come back as lists


async def test_second_instance_sees_the_same_dialog(db_url) -> None:
    """Two storages on two engines of one database = the bot before and after a restart."""
    engine_1 = create_engine(db_url)
    first = SqlStorage(create_sessionmaker(engine_1))
    await first.set_state(KEY, Dialog.second)
    await first.set_data(KEY, {"household_id": 3, "visited_on": "2026-11-28"})
    await first.close()
    await engine_1.dispose()

    engine_2 = create_engine(db_url)
    try:
        second = SqlStorage(create_sessionmaker(engine_2))
        assert await second.get_state(KEY) == "Dialog:second"
        assert await second.get_data(KEY) == {"household_id": 3, "visited_on": "2026-11-28"}
    finally:
        await engine_2.dispose()


async def test_clear_deletes_the_row(sessionmaker) -> None:
    storage = SqlStorage(sessionmaker)
    await storage.set_state(KEY, Dialog.first)
    await storage.set_data(KEY, {"a": 1})
    await storage.set_state(OTHER, Dialog.first)
    # state cleared, data kept: the row stays
    await storage.set_state(KEY, None)
    assert await storage.get_state(KEY) is None and await storage.get_data(KEY) == {"a": 1}
    assert len(await _rows(sessionmaker)) == 2
    # data cleared too (FSMContext.clear() does both): the row goes
    await storage.set_data(KEY, {})
    assert [r.key for r in await _rows(sessionmaker)] == ["fsm:123456789:4102:4102:default"]
    # the other order: data first, then state
    await storage.set_data(OTHER, {"b": 2})
    await storage.set_data(OTHER, {})
    assert len(await _rows(sessionmaker)) == 1  # state still set
    await storage.set_state(OTHER, None)
    assert await _rows(sessionmaker) == []
    # clearing what does not exist is fine and creates nothing
    await storage.set_state(KEY, None)
    await storage.set_data(KEY, {})
    assert await _rows(sessionmaker) == []


async def test_concurrent_writes_of_one_key(sessionmaker) -> None:
    storage = SqlStorage(sessionmaker)
    await asyncio.gather(*(storage.set_data(KEY, {"n": n}) for n in range(12)))
    assert (await storage.get_data(KEY))["n"] in range(12)
    await asyncio.gather(
        *(storage.set_state(OTHER, Dialog.first) for _ in range(6)),
        *(storage.set_data(OTHER, {"n": n}) for n in range(6)),
    )
    assert await storage.get_state(OTHER) == "Dialog:first"
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(FsmRecord)) == 2


def test_app_uses_sql_storage_without_redis(settings, sessionmaker) -> None:
    assert settings.redis_url is None
    assert isinstance(create_fsm_storage(settings, sessionmaker), SqlStorage)
    with pytest.raises(ValueError, match="sessionmaker"):
        create_fsm_storage(settings)


async def test_inside_an_update_writes_join_its_transaction(sessionmaker) -> None:
    """In an update the storage uses the update's session: its writes are seen by its own
    reads at once, commit with the handler's work and roll back with it on an error."""
    from bot.fsm_storage import FsmSessionMiddleware

    storage = SqlStorage(sessionmaker)
    middleware = FsmSessionMiddleware()

    async def step(_event, data):
        await storage.set_state(KEY, Dialog.second)
        await storage.update_data(KEY, {"step": 2})
        assert await storage.get_state(KEY) == "Dialog:second"  # read-your-writes
        if data.get("fail"):
            raise RuntimeError("handler failed")
        return "ok"

    # a failing handler: the update's transaction rolls back, the dialog does not advance
    await storage.set_state(KEY, Dialog.first)
    async with sessionmaker() as update_session:
        with pytest.raises(RuntimeError):
            await middleware(step, object(), {"session": update_session, "fail": True})
        await update_session.rollback()
    assert await storage.get_state(KEY) == "Dialog:first"
    assert await storage.get_data(KEY) == {}
    # a successful one: committed with the update
    async with sessionmaker() as update_session:
        assert await middleware(step, object(), {"session": update_session}) == "ok"
        await update_session.commit()
    assert await storage.get_state(KEY) == "Dialog:second"
    assert await storage.get_data(KEY) == {"step": 2}


async def test_a_session_of_another_database_is_not_joined(sessionmaker, tmp_path) -> None:
    from bot.fsm_storage import FsmSessionMiddleware
    from storage.migrate import upgrade

    other_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    await asyncio.to_thread(upgrade, other_url)
    other_engine = create_engine(other_url)
    storage = SqlStorage(sessionmaker)

    async def step(_event, _data):
        await storage.set_state(KEY, Dialog.first)

    try:
        async with create_sessionmaker(other_engine)() as foreign:
            await FsmSessionMiddleware()(step, object(), {"session": foreign})
            await foreign.rollback()
    finally:
        await other_engine.dispose()
    assert await storage.get_state(KEY) == "Dialog:first"  # written through its own session


async def test_a_task_outliving_the_update_uses_its_own_session(sessionmaker) -> None:
    from bot.fsm_storage import FsmSessionMiddleware

    storage = SqlStorage(sessionmaker)
    later = asyncio.Event()

    async def step(_event, _data):
        async def background():
            await later.wait()
            await storage.set_state(OTHER, Dialog.second)

        return asyncio.create_task(background())  # copies the update's context

    async with sessionmaker() as update_session:
        task = await FsmSessionMiddleware()(step, object(), {"session": update_session})
        await update_session.commit()
    later.set()
    await task
    assert await storage.get_state(OTHER) == "Dialog:second"  # committed on its own
