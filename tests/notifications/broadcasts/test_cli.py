"""`fupin-bot broadcast` through click's CliRunner on both databases: dry run, real run,
scheduled run, `--test-to` named test accounts, and one-line errors with exit status 2."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from bot.cli import main_group
from notifications import broadcasts as bc
from storage.db import create_engine, create_sessionmaker
from storage.enums import BroadcastState
from storage.models import Account, Broadcast, OutboxMessage
from tests.work.people import H1_USER, H2_USER, OTHER_ADMIN_USER, PUBLIC_USER, seed_work

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _with_session(db_url: str, fn):
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await fn(session)
    finally:
        await engine.dispose()


async def _seed(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        await seed_work(create_sessionmaker(engine))
    finally:
        await engine.dispose()


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("QUIET_HOURS", raising=False)
    monkeypatch.setattr(bc, "clock", lambda: NOW)
    asyncio.run(_seed(db_url))
    return db_url


def invoke(*args: str):
    return CliRunner().invoke(main_group, ["broadcast", *args])


def _count(db_url: str, model) -> int:
    return asyncio.run(_with_session(db_url, lambda s: s.scalar(select(func.count()).select_from(model))))


def test_dry_run_counts_and_writes_nothing(cli_env: str) -> None:
    result = invoke("--text", "通知", "--audience", "role=household,region=示范市/示范县", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["recipients: 4"]
    result = invoke("--text", "通知", "--audience", "role=all,region=示范市/示范县/示范镇/一村", "--dry-run")
    assert result.stdout.splitlines() == ["recipients: 4"]  # H1 H2 H4 + 刘
    assert _count(cli_env, Broadcast) == 0


def test_real_and_scheduled_runs(cli_env: str) -> None:
    result = invoke("--text", "开会 <今天>", "--text-ko", "회의", "--audience", "role=cadre,region=示范市/示范县")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "recipients: 3" and lines[1].startswith("broadcast: ")
    broadcast_id = int(lines[1].split(": ")[1])

    async def check(session):
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast.texts == {"zh_Hans": "开会 &lt;今天&gt;", "ko": "회의"}
        assert broadcast.state is BroadcastState.SENDING and broadcast.created_by == "cli"
        keys = (await session.scalars(select(OutboxMessage.key))).all()
        assert len(keys) == 3 and all(k.endswith(f":broadcast-{broadcast_id}") for k in keys)

    asyncio.run(_with_session(cli_env, check))
    later = invoke("--text", "明天的通知", "--at", "2026-12-02T09:00")
    assert later.exit_code == 0, later.output
    assert later.stdout.splitlines()[0] == "recipients: 4"  # every bound household
    assert _count(cli_env, OutboxMessage) == 3  # the scheduled one is enqueued when due


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--audience", "role=guest"), "--audience: role must be one of"),
        (("--audience", "region=没有的市"), "--audience: unknown region"),
        (("--audience", "role=cadre,students=yes"), "for role=household only"),
        (("--audience", "cause=因穷"), "unknown poverty cause"),
        (("--at", "tomorrow"), "--at: expected an ISO date"),
        (("--at", "2026-11-30T09:00"), "--at is in the past"),
        (("--audience", "region=示范市/示范县,status=返贫"), "the audience is empty"),
        (("--text-en", "   "), "the en text is empty"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli_env: str, args, message: str) -> None:
    result = invoke("--text", "通知", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _count(cli_env, Broadcast) == 0


def test_text_over_4096_is_refused(cli_env: str) -> None:
    result = invoke("--text", "长" * 4097)
    assert result.exit_code == 2 and "4097 characters; at most 4096" in result.stderr
    assert _count(cli_env, Broadcast) == 0


# ------------------------------------------------------------------ --test-to


def _set_username(db_url: str, telegram_user_id: int, username: str) -> None:
    async def run(session):
        await session.execute(update(Account).where(Account.telegram_user_id == telegram_user_id)
                              .values(username=username))
        await session.commit()

    asyncio.run(_with_session(db_url, run))


def test_test_to_sends_only_the_test_copy(cli_env: str) -> None:
    _set_username(cli_env, H2_USER, "soonja_h2")
    dry = invoke("--text", "测试通知", "--test-to", f"@Soonja_H2,{OTHER_ADMIN_USER}", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == ["recipients: 2"] and _count(cli_env, Broadcast) == 0
    result = invoke("--text", "测试通知", "--audience", "role=household,region=示范市/示范县",
                    "--test-to", f"@Soonja_H2, {OTHER_ADMIN_USER}，@soonja_h2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "recipients: 2" and lines[1].startswith("broadcast: ")
    broadcast_id = int(lines[1].split(": ")[1])

    async def check(session):
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast.test_only and broadcast.admin_account_id is None
        assert broadcast.state is BroadcastState.SENDING and broadcast.recipients == 2
        rows = (await session.scalars(select(OutboxMessage))).all()
        accounts = {a.id: a.telegram_user_id for a in (await session.scalars(select(Account))).all()}
        assert sorted(accounts[r.account_id] for r in rows) == sorted([H2_USER, OTHER_ADMIN_USER])
        # no admin asked for it at once: the named accounts' copies are not urgent (quiet hours)
        assert all(not r.urgent and r.broadcast_id == broadcast_id for r in rows)

    asyncio.run(_with_session(cli_env, check))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (f"{H1_USER},@nobody_here", "--test-to: not found among active bound accounts: @nobody_here"),
        (f"{PUBLIC_USER},{H1_USER},999", f"not found among active bound accounts: {PUBLIC_USER}, 999"),
        (" , ", "--test-to: expected Telegram user ids or @usernames"),
        (",".join(str(5000 + i) for i in range(21)), "--test-to: at most 20 accounts"),
    ],
)
def test_test_to_unknown_names_exit_2(cli_env: str, names: str, message: str) -> None:
    result = invoke("--text", "测试通知", "--test-to", names)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert _count(cli_env, Broadcast) == 0 and _count(cli_env, OutboxMessage) == 0


def test_test_to_with_at_is_refused(cli_env: str) -> None:
    result = invoke("--text", "测试通知", "--test-to", str(H1_USER), "--at", "2026-12-02T09:00")
    assert result.exit_code == 2 and "cannot be used with --at" in result.stderr
    assert _count(cli_env, Broadcast) == 0


def test_test_to_at_night_waits_for_the_end_of_quiet_hours(cli_env: str, monkeypatch) -> None:
    night = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    monkeypatch.setattr(bc, "clock", lambda: night)
    monkeypatch.setenv("QUIET_HOURS", "21:00-08:00")
    result = invoke("--text", "测试通知", "--test-to", str(H2_USER))
    assert result.exit_code == 0, result.output
    broadcast_id = int(result.stdout.splitlines()[1].split(": ")[1])

    async def check(session):
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast.test_only and broadcast.state is BroadcastState.SCHEDULED
        assert broadcast.send_at == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
        assert (await session.scalars(select(OutboxMessage))).all() == []

    asyncio.run(_with_session(cli_env, check))
