"""aiogram FSM storage in the `fsm_records` table, so a half-finished dialog survives a
restart when no Redis is configured (bot/app.py `create_fsm_storage`).

Why our own: aiogram ships Memory, Redis and Mongo storages only. On PyPI (checked with
`pip index versions` / `pip download`, 2026-11) the candidates were
`aiogram-sqlalchemy-storage` 0.2.0.post0 (one maintainer; it declares its own table
outside our Alembic migrations, and writes with check-then-insert, which races into an
IntegrityError when two updates of one chat overlap), and `aiogram-sqlite-storage` /
`aiogram-fsm-sqlitestorage` (SQLite only, synchronous sqlite3). None covers SQLite and
PostgreSQL through SQLAlchemy async with a portable upsert, so this module does, over the
`FsmRecord` model of our own migrations.

Contract:
- one row per key (state and data together); the key comes from aiogram's
  `DefaultKeyBuilder` (bot id, chat, thread, user, destiny), so it is the same after a
  restart with the same token;
- writes are single upserts (`INSERT ... ON CONFLICT DO UPDATE`, on SQLite and
  PostgreSQL), so concurrent writes of one key never fail on the primary key;
- the row is deleted when the state is None and the data empty (`FSMContext.clear()`);
- inside an update, writes join the update's own session (`FsmSessionMiddleware`, bound
  after `DbSessionMiddleware`): they commit with the handler's other writes or roll back
  with them on an error, so a failed step does not advance the dialog. This is needed on
  SQLite, which has one writer at a time: every update writes (the account's last_seen)
  and keeps its transaction open until the handler returns, so a state write on a second
  connection would wait for it until the lock timeout. Outside an update (tests, jobs)
  each call is its own short transaction;
- **data must be JSON**: dicts with string keys, lists, strings, numbers, booleans, None.
  Store dates as ISO strings and ids as ints. Anything else raises `TypeError` at
  `set_data`/`update_data` (never a silent change); tuples come back as lists.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StateType, StorageKey
from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmRecord, utcnow

log = logging.getLogger(__name__)
_EMPTY_JSON = "{}"  # how SQLAlchemy's JSON type stores {} on both databases
# A one-item list rather than the session itself: the middleware empties it when the update
# ends, so a task spawned by the handler (which copies the context) falls back to its own
# sessions instead of writing into a finished transaction.
_update_session: ContextVar[list[AsyncSession | None] | None] = ContextVar("fsm_update_session", default=None)


class FsmSessionMiddleware(BaseMiddleware):
    """Makes the update's DB session (data["session"], opened by DbSessionMiddleware) the
    one SqlStorage uses while the handler runs; register it after DbSessionMiddleware."""

    async def __call__(
        self,
        handler: Callable[[Any, dict[str, Any]], Awaitable[Any]],
        event: Any,
        data: dict[str, Any],
    ) -> Any:
        holder: list[AsyncSession | None] = [data.get("session")]
        token = _update_session.set(holder)
        try:
            return await handler(event, data)
        finally:
            holder[0] = None
            _update_session.reset(token)


class CommitBeforeSending(BaseRequestMiddleware):
    """Bot request middleware: before the bot sends anything while an update is handled,
    commit what the update wrote so far (dialog state included).

    The user can only answer what they have seen. Without this, a handler that sets the
    next dialog step and then replies would commit only when it returns, and a quick answer
    (or a second device) could be read against the previous step. One rule in one place
    instead of "remember to commit before replying" in every handler. A session that cannot
    commit (a failed flush) is logged, and the reply (usually the error message) still
    goes out; the session is left for the update's middleware to roll back.
    """

    async def __call__(self, make_request: Any, bot: Any, method: Any) -> Any:
        holder = _update_session.get()
        session = holder[0] if holder else None
        if session is not None and session.in_transaction():
            try:
                await session.commit()
            except SQLAlchemyError as exc:
                # not rolled back here: that would expire every loaded object under the handler
                log.warning("could not commit before sending %s: %s", type(method).__name__, type(exc).__name__)
        return await make_request(bot, method)


def default_key_builder() -> KeyBuilder:
    """Keys like `fsm:<bot id>:<chat>:<user>:default`: stable across restarts, distinct
    per bot when several bots share one database."""
    return DefaultKeyBuilder(with_bot_id=True, with_destiny=True)


def to_json_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round-trip copy of `data`; TypeError names the problem when it is not JSON."""
    try:
        return json.loads(json.dumps(dict(data), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"FSM data must be JSON-serialisable (ints, strings, ISO dates): {exc}") from None


class SqlStorage(BaseStorage):
    """FSM state and data in SQL (SQLite or PostgreSQL), one short transaction per call."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        key_builder: KeyBuilder | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.key_builder = key_builder or default_key_builder()

    def _key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[tuple[AsyncSession, bool]]:
        """(session, own): the running update's session on our database (the caller's
        transaction: do not commit), else a new session of our own (commit it)."""
        holder = _update_session.get()
        shared = holder[0] if holder else None
        if shared is not None and shared.bind is self.sessionmaker.kw.get("bind"):
            yield shared, False
            return
        async with self.sessionmaker() as session:
            yield session, True

    @staticmethod
    def _insert(session: AsyncSession) -> Any:
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            return postgresql.insert(FsmRecord)
        if dialect == "sqlite":
            return sqlite.insert(FsmRecord)
        raise RuntimeError(f"SqlStorage supports SQLite and PostgreSQL, not {dialect}")

    async def _upsert(self, key: str, **values: Any) -> None:
        now = utcnow()
        async with self._session() as (session, own):
            stmt = self._insert(session).values(
                key=key, state=values.get("state"), data=values.get("data", {}), updated_at=now
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[FsmRecord.key], set_={**values, "updated_at": now}
            )
            await session.execute(stmt)
            if own:
                await session.commit()

    async def _clear_part(self, key: str, **values: Any) -> None:
        """Set a part to empty; delete the row when both parts are then empty."""
        async with self._session() as (session, own):
            await session.execute(
                update(FsmRecord).where(FsmRecord.key == key).values(**values, updated_at=utcnow())
            )
            await session.execute(
                delete(FsmRecord).where(
                    FsmRecord.key == key,
                    FsmRecord.state.is_(None),
                    cast(FsmRecord.data, String) == _EMPTY_JSON,
                )
            )
            if own:
                await session.commit()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        if value is None:
            await self._clear_part(self._key(key), state=None)
        else:
            await self._upsert(self._key(key), state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as (session, _own):
            return await session.scalar(select(FsmRecord.state).where(FsmRecord.key == self._key(key)))

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        payload = to_json_data(data)
        if payload:
            await self._upsert(self._key(key), data=payload)
        else:
            await self._clear_part(self._key(key), data={})

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as (session, _own):
            data = await session.scalar(select(FsmRecord.data).where(FsmRecord.key == self._key(key)))
        return dict(data) if data else {}

    async def close(self) -> None:
        """Nothing to release: the engine belongs to the application (Application.close)."""
