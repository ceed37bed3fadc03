"""Migration round trips keep the data (SQLite and PostgreSQL): downgrading 0005 and 0003
must not lose rows of other tables. On SQLite a batch "move and copy" drops and recreates a
table, and with foreign keys on that DROP fires the ON DELETE actions of every table that
references it (the outbox rows of the accounts were deleted, accounts lost their cadre)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from storage.db import create_engine, create_sessionmaker
from storage.enums import BroadcastState, CadreLevel, NotificationKind, RegionLevel, Role, VisitKind
from storage.migrate import alembic_config, upgrade
from storage.models import (
    Account,
    Broadcast,
    Cadre,
    Household,
    Invitation,
    OutboxMessage,
    Pairing,
    PolicyQuestion,
    Region,
    Visit,
    utcnow,
)
from tests.conftest import _admin_exec, _pg_base_url, _swap_db

COUNTED = ("accounts", "broadcasts", "outbox", "cadres", "pairings", "visits", "invitations",
           "policy_questions")


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, never migrated database of its own (the shared test database stays at head)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
        return
    base = _pg_base_url()
    if base is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL")
    name = f"fupin_mig_{secrets.token_hex(4)}"
    asyncio.run(_admin_exec(base, f'CREATE DATABASE "{name}"'))
    try:
        yield _swap_db(base, name)
    finally:
        asyncio.run(_admin_exec(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as s:
            village = Region(level=RegionLevel.VILLAGE, name="一村", path="吉林省/一村")
            s.add(village)
            await s.flush()
            cadre = Cadre(code="C1", name="刘", level=CadreLevel.VILLAGE, region_id=village.id,
                          leader_village_id=village.id)
            household = Household(reg_no="H1", head_name="张", village_id=village.id)
            s.add_all([cadre, household])
            await s.flush()
            s.add(Pairing(cadre_id=cadre.id, household_id=household.id, start_date=date(2026, 1, 1)))
            s.add(Visit(cadre_id=cadre.id, household_id=household.id, visited_on=date(2026, 3, 2),
                        kind=VisitKind.HOME))
            account = Account(telegram_user_id=1001, chat_id=1001, role=Role.CADRE, cadre_id=cadre.id,
                              username="liu")
            s.add(account)
            await s.flush()
            s.add(Invitation(code_hash="x" * 64, role=Role.CADRE, cadre_id=cadre.id,
                             expires_at=utcnow(), used_by_account_id=account.id))
            s.add(PolicyQuestion(account_id=account.id, locale="zh_Hans", question="低保"))
            broadcast = Broadcast(created_by=f"account:{account.id}", admin_account_id=account.id,
                                  texts={"zh_Hans": "通知"}, state=BroadcastState.DONE,
                                  test_account_ids=[account.id])
            s.add(broadcast)
            await s.flush()
            s.add(OutboxMessage(key="b1", kind=NotificationKind.BROADCAST, account_id=account.id,
                                broadcast_id=broadcast.id))
            await s.commit()
    finally:
        await engine.dispose()


async def _snapshot(url: str) -> dict[str, object]:
    """Row counts and the links a lost row or an ON DELETE SET NULL would change."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            found: dict[str, object] = {
                t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar() for t in COUNTED
            }
            found["account.cadre_id"] = (await conn.execute(text("SELECT cadre_id FROM accounts"))).scalar()
            found["broadcast.admin"] = (await conn.execute(
                text("SELECT admin_account_id FROM broadcasts"))).scalar()
            found["invitation.used_by"] = (await conn.execute(
                text("SELECT used_by_account_id FROM invitations"))).scalar()
            found["outbox.broadcast_id"] = (await conn.execute(text("SELECT broadcast_id FROM outbox"))).scalar()
            return found
    finally:
        await engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    async def go() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: {c["name"] for c in inspect(sync).get_columns(table)}
                )
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_downgrade_0005_keeps_accounts_broadcasts_and_outbox(blank_url: str) -> None:
    upgrade(blank_url)
    asyncio.run(_seed(blank_url))
    before = asyncio.run(_snapshot(blank_url))
    assert all(before[t] == 1 for t in COUNTED) and before["account.cadre_id"] is not None

    _downgrade(blank_url, "0004")
    assert "username" not in _columns(blank_url, "accounts")
    assert "test_account_ids" not in _columns(blank_url, "broadcasts")
    assert asyncio.run(_snapshot(blank_url)) == before

    upgrade(blank_url)
    assert "username" in _columns(blank_url, "accounts")
    assert asyncio.run(_snapshot(blank_url)) == before


def test_downgrade_to_0002_and_back_keeps_the_registry(blank_url: str) -> None:
    """0003 drops columns of cadres, pairings, visits and milestones: the cadres' accounts,
    invitations and pairings stay (outbox and broadcasts go with 0004, as they should)."""
    upgrade(blank_url)
    asyncio.run(_seed(blank_url))
    before = asyncio.run(_snapshot(blank_url))

    _downgrade(blank_url, "0002")
    assert "leader_village_id" not in _columns(blank_url, "cadres")
    assert "next_visit_due" not in _columns(blank_url, "pairings")
    assert "flagged_at" not in _columns(blank_url, "visits")

    async def registry() -> dict[str, object]:
        engine = create_engine(blank_url)
        try:
            async with engine.connect() as conn:
                found: dict[str, object] = {
                    t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar()
                    for t in COUNTED if t not in ("broadcasts", "outbox")
                }
                found["account.cadre_id"] = (await conn.execute(text("SELECT cadre_id FROM accounts"))).scalar()
                found["invitation.used_by"] = (await conn.execute(
                    text("SELECT used_by_account_id FROM invitations"))).scalar()
                return found
        finally:
            await engine.dispose()

    kept = asyncio.run(registry())
    assert kept == {k: v for k, v in before.items() if k in kept}

    upgrade(blank_url)  # and the upgrade of a populated 0002 database keeps them too
    assert asyncio.run(registry()) == kept
