"""Engine and session factory, plus the migration-state check the bot runs at start-up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class DatabaseError(Exception):
    """The database is unreachable or not migrated; `str()` is one console line."""


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The Alembic revision the database is at, None when it was never migrated."""
    try:
        async with engine.connect() as conn:
            has_table = await conn.run_sync(
                lambda sync: sync.dialect.has_table(sync, "alembic_version")
            )
            if not has_table:
                return None
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except (OperationalError, DBAPIError, OSError) as exc:
        raise DatabaseError(f"database unreachable: {type(exc.__cause__ or exc).__name__}") from None


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Raise DatabaseError with a one-line hint unless the database is at the head revision."""
    from storage.migrate import head_revision

    rev = await current_revision(engine)
    head = head_revision()
    if rev is None:
        raise DatabaseError("database is not migrated: run `fupin-bot db upgrade` first")
    if rev != head:
        raise DatabaseError(
            f"database is at revision {rev}, code expects {head}: run `fupin-bot db upgrade`"
        )
