"""Shared fixtures: a migrated database per test on SQLite and (when TEST_DATABASE_URL is
set) PostgreSQL, sessions, settings.

PostgreSQL: a private database `fupin_test_<random>` is created from TEST_DATABASE_URL for
the test run (so parallel runs do not collide), migrated once, truncated between tests and
dropped at the end. SQLite: one migrated template file per run, copied for each test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.config import Settings, load_settings
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.models import Base

TEST_TOKEN = "123456789:TEST-token-for-fupin-bot-emulator"
PG_ENV = "TEST_DATABASE_URL"


def _pg_base_url() -> str | None:
    raw = os.environ.get(PG_ENV, "").strip()
    if not raw:
        return None
    if raw.startswith(("postgresql://", "postgres://")):
        raw = "postgresql+asyncpg://" + raw.split("://", 1)[1]
    return raw


def _swap_db(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


async def _admin_exec(url: str, sql: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    base = _pg_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    name = f"fupin_test_{secrets.token_hex(4)}"
    asyncio.run(_admin_exec(base, f'CREATE DATABASE "{name}"'))
    url = _swap_db(base, name)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin_exec(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_pg(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database for one test."""
    if request.param == "sqlite":
        target = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    url = request.getfixturevalue("pg_database")
    asyncio.run(_truncate_pg(url))
    return url


@pytest.fixture
def settings(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's working directory
    return load_settings(
        database_url=db_url,
        bot_token=TEST_TOKEN,
        id_hash_key="test-id-hash-key-0123456789",
        bot_username="fupin_test_bot",
    )


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as s:
        yield s
