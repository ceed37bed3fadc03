"""The sandbox: personas bound in the database, the terminal session core driving the real
bot through the emulator, and the `fupin-bot sandbox` process end to end."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main_group
from bot.demo import COUNTY_PATH
from bot.i18n import create_i18n
from bot.sandbox import (
    PERSONAS,
    SandboxSession,
    open_sandbox,
    prepare_database,
    render_event,
    run_terminal,
    sqlite_file,
)
from storage.db import create_engine, create_sessionmaker
from storage.enums import Role
from storage.models import Account, Household, Region

TODAY = date(2026, 11, 29)
REPO = Path(__file__).resolve().parents[2]

WELCOME = {
    "household": "您好！您已绑定为建档立卡户。可以直接输入问题咨询扶贫政策，发送 /help 查看全部功能。",
    "cadre": "您好！您已绑定为帮扶干部。发送 /help 查看您可用的功能。",
    "admin": "您好！您已绑定为扶贫办管理员。发送 /help 查看您可用的功能。",
    "guest": "您好！我是吉林省精准扶贫服务助手。\n"
    "您可以直接输入问题咨询扶贫政策。\n"
    "如果您是建档立卡户、帮扶干部或管理员，请使用工作人员发给您的邀请链接绑定身份。",
}


def translated(msgid: str, locale: str) -> str:
    return create_i18n().gettext(msgid, locale=locale)


def first_line(msgid: str, locale: str = "zh_Hans") -> str:
    return translated(msgid, locale).splitlines()[0]


async def _accounts(url: str) -> dict[int, Account]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.scalars(select(Account))
            return {a.telegram_user_id: a for a in rows}
    finally:
        await engine.dispose()


# ------------------------------------------------------------------- database layer


async def test_prepare_database_binds_personas(db_url):
    bindings = await prepare_database(db_url, TODAY)
    assert bindings.demo_loaded and bindings.household_id and bindings.cadre_id
    accounts = await _accounts(db_url)
    by_key = {p.key: accounts[p.user_id] for p in PERSONAS}
    assert by_key["household"].role is Role.HOUSEHOLD
    assert by_key["household"].household_id == bindings.household_id
    assert by_key["cadre"].role is Role.CADRE and by_key["cadre"].cadre_id == bindings.cadre_id
    assert by_key["admin"].role is Role.ADMIN and by_key["admin"].admin_region_id == bindings.admin_region_id
    assert by_key["guest"].role is None
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            region = await session.get(Region, bindings.admin_region_id)
            assert region.path == COUNTY_PATH
    finally:
        await engine.dispose()
    # A second start neither reloads nor duplicates.
    again = await prepare_database(db_url, TODAY)
    assert not again.demo_loaded and again.household_id == bindings.household_id
    assert len(await _accounts(db_url)) == len(PERSONAS)


async def test_prepare_database_without_demo_county(db_url):
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            from storage.repositories.regions import RegionRepository

            village = await RegionRepository(session).ensure_chain(["通化市", "某县", "某镇", "某村"])
            session.add(Household(reg_no="REAL-1", head_name="某某", village_id=village.id))
            await session.commit()
    finally:
        await engine.dispose()
    bindings = await prepare_database(db_url, TODAY)
    assert not bindings.demo_loaded
    assert bindings.household_label.endswith("(REAL-1)")
    assert bindings.cadre_id is None and bindings.admin_region_id is None
    assert any("no demo county" in n for n in bindings.notes)
    accounts = await _accounts(db_url)
    assert accounts[PERSONAS[1].user_id].role is None  # no cadre to bind to


async def test_fresh_deletes_the_sqlite_file(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    await prepare_database(url, TODAY)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            session.add(Account(telegram_user_id=42, chat_id=42))
            await session.commit()
    finally:
        await engine.dispose()
    assert 42 in await _accounts(url)
    bindings = await prepare_database(url, TODAY, fresh=True)
    assert bindings.demo_loaded
    assert 42 not in await _accounts(url)
    assert sqlite_file(url) == tmp_path / "s.db"


async def test_unreachable_database_is_one_line():
    from bot.sandbox import SandboxError

    with pytest.raises(SandboxError, match="unreachable"):
        await prepare_database("postgresql+asyncpg://nobody@127.0.0.1:1/none", TODAY)


# -------------------------------------------------------------------- session core


@pytest.fixture
async def sandbox(settings, db_url):
    async with open_sandbox(settings, db_url) as running:
        yield running


@pytest.fixture
def session(sandbox) -> SandboxSession:
    return sandbox.session(reply_timeout=5.0, settle=0.2)


@pytest.mark.parametrize("persona", ["household", "cadre", "admin", "guest"])
async def test_start_and_help_per_persona(session, persona):
    out = await session.handle_line(f":as {persona}")
    assert out[0].startswith(f"now chatting as {persona}")
    out = await session.handle_line("/start")
    expected = translated(WELCOME[persona], "zh_Hans").splitlines()
    assert out[0] == f"bot: {expected[0]}"
    assert [line.strip() for line in out[1:]] == expected[1:]
    out = await session.handle_line("/help")
    assert out[0] == "bot: " + translated("可用命令：", "zh_Hans")
    assert any("/language" in line for line in out)
    # Each persona has its own chat: nothing leaked into the others.
    assert all(not line.startswith("bot →") for line in out)


async def test_whoami_shows_the_bound_records(session):
    out = "\n".join(await session.handle_line("/whoami"))
    assert "张示范" in out and "DEMO-H001" in out
    await session.handle_line(":as admin")
    out = "\n".join(await session.handle_line("/whoami"))
    assert "示范市/示范县" in out


async def test_press_language_button(session):
    await session.handle_line(":as cadre")
    out = await session.handle_line("/language")
    assert out[0] == "bot: " + translated("请选择语言：", "zh_Hans")
    assert out[1].split() == ["[1]", "✓", "简体中文", "[2]", "한국어", "[3]", "English"]
    out = await session.handle_line("#2")
    expected = translated("语言已切换为：{language}", "ko").format(language="한국어")
    assert out == [f"bot (edited): {expected}"]
    # The edit removed the keyboard: no message with buttons is left.
    assert (await session.handle_line("#1")) == ["no bot message with buttons in this chat"]
    out = await session.handle_line("/start")
    assert out[0] == "bot: " + translated(WELCOME["cadre"], "ko")
    # Out-of-range button numbers are explained, not sent.
    await session.handle_line("/language")
    assert (await session.handle_line("#7")) == [
        "no button 7: the latest message with buttons has 3"
    ]


async def test_lang_switches_the_telegram_language(session, sandbox):
    await session.handle_line(":as guest")
    out = await session.handle_line(":lang ko")
    assert out == ["guest's Telegram language is now ko"]
    users = {u["id"]: u for u in await sandbox.client._request("GET", "/users")}
    assert users[PERSONAS[3].user_id]["language_code"] == "ko"
    out = await session.handle_line("/start")
    assert out[0] == "bot: " + first_line(WELCOME["guest"], "ko")
    assert any("\uac00" <= ch <= "\ud7a3" for ch in out[0])  # Hangul: the catalog is translated
    await session.handle_line(":lang en")
    out = await session.handle_line("/start")
    assert out[0] == "bot: " + first_line(WELCOME["guest"], "en")
    # Another persona keeps its own language.
    await session.handle_line(":as household")
    out = await session.handle_line("/start")
    assert out[0] == "bot: " + first_line(WELCOME["household"], "zh_Hans")
    assert (await session.handle_line(":lang fr")) == ["usage: :lang zh|ko|en"]


async def test_sandbox_commands_and_quit(session):
    assert any(":as" in line for line in await session.handle_line(":help"))
    assert (await session.handle_line(":nope"))[0].startswith("unknown sandbox command")
    assert (await session.handle_line(":as nobody"))[0].startswith("you are household")
    assert await session.handle_line("   ") == []
    out = await session.handle_line(":photo 测试")
    assert out and out[0].startswith("bot: ")  # the bot answers media with a hint
    out = await session.handle_line("#abc")  # not a button press: sent as text
    assert out and out[0].startswith("bot: ")
    assert not session.done
    assert await session.handle_line(":quit") == ["bye"]
    assert session.done


async def test_run_terminal_until_end_of_input(sandbox):
    lines: list[str] = []
    stdin = io.StringIO("/start\n:as admin\n/start\n")
    await run_terminal(sandbox, stdin=stdin, emit=lines.append, poll_interval=0.1)
    text = "\n".join(lines)
    assert "fupin-bot sandbox" in lines[0]
    assert "household> /start" in text and "admin> /start" in text
    assert "bot: " + WELCOME["admin"] in text
    assert lines[-1] == "bye"


def test_render_media_and_links():
    photo = {"event": "message", "seq": 1, "photo": [{"file_id": "small"}, {"file_id": "BIG"}],
             "caption": "走访照片"}
    assert render_event(photo) == ["bot: [photo file_id=BIG] 走访照片"]
    doc = {"event": "edit", "seq": 2, "document": {"file_id": "D1", "file_name": "a.xlsx"}}
    assert render_event(doc, "admin") == ["bot → admin (edited): [document a.xlsx file_id=D1]"]
    text = {"event": "message", "seq": 3, "text": "看看",
            "reply_markup": {"inline_keyboard": [[{"text": "政策", "url": "https://example.org/p"}],
                                                 [{"text": "好", "callback_data": "x"}]]}}
    assert render_event(text) == ["bot: 看看", "      [1] 政策 ↗ https://example.org/p", "      [2] 好"]


# ----------------------------------------------------------------------------- CLI


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_", "WEBHOOK_", "REDIS_"))}
    env["PYTHONPATH"] = str(REPO)
    return env


def test_sandbox_process_end_to_end(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--database-url", url],
        input="/start\n:as cadre\n/help\n:quit\n",
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "bot: " + WELCOME["household"] in out
    assert "now chatting as cadre" in out
    assert "/language — " in out
    assert out.rstrip().endswith("bye")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "fupin-sandbox.db").exists()  # the given URL was used


def test_run_without_token_starts_the_sandbox(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        input="/start\n",  # then end of input
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "starting the local sandbox" in result.stdout
    assert "bot: " + WELCOME["household"] in result.stdout
    assert (tmp_path / "fupin-sandbox.db").exists()


def test_sandbox_cli_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main_group, ["sandbox", "--database-url", "mysql://x/y"])
    assert result.exit_code == 2 and "--database-url" in result.output
    result = runner.invoke(
        main_group, ["sandbox", "--database-url", "postgresql://nobody@127.0.0.1:1/none"]
    )
    assert result.exit_code == 2 and "unreachable" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------ notifications engine


def test_is_own_database(tmp_path, monkeypatch):
    from bot.sandbox import DEFAULT_DATABASE_FILE, PersonaBindings, is_own_database

    monkeypatch.chdir(tmp_path)
    plain, loaded = PersonaBindings(), PersonaBindings(demo_loaded=True)
    assert is_own_database(None, plain)  # no --database-url: the default sandbox file
    assert is_own_database(f"sqlite+aiosqlite:///{DEFAULT_DATABASE_FILE}", plain)
    assert is_own_database(f"sqlite+aiosqlite:///{tmp_path / DEFAULT_DATABASE_FILE}", plain)
    assert not is_own_database(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}", plain)
    assert not is_own_database("postgresql+asyncpg://u@127.0.0.1/registry", plain)
    assert not is_own_database("sqlite+aiosqlite:///:memory:", plain)
    # a database the sandbox just filled with the demo county (empty before, or --fresh)
    assert is_own_database(f"sqlite+aiosqlite:///{tmp_path / 'registry.db'}", loaded)
    assert is_own_database("postgresql+asyncpg://u@127.0.0.1/registry", loaded)


async def test_engine_runs_on_the_sandboxs_own_database(sandbox):
    # the `sandbox` fixture starts on an empty database: the demo county was loaded
    assert sandbox.bindings.demo_loaded and sandbox.notifications and sandbox.background is not None
    assert not any("notifications are off" in line for line in sandbox.banner())


async def test_no_engine_on_a_database_that_is_not_the_sandboxs(settings, db_url):
    """A registry copy given with --database-url (here: not empty, so no demo data is
    loaded) must not have its outbox and scans delivered to the emulator."""
    await prepare_database(db_url, TODAY)  # someone else's data already there
    async with open_sandbox(settings, db_url) as running:
        assert not running.bindings.demo_loaded
        assert not running.notifications and running.background is None
        notes = [line for line in running.banner() if "notifications are off" in line]
        assert len(notes) == 1 and notes[0].startswith("note: ")
        out = await running.session(reply_timeout=5.0, settle=0.2).handle_line("/start")
        assert out[0] == "bot: " + translated(WELCOME["household"], "zh_Hans")  # the bot itself runs
    async with open_sandbox(settings, db_url, fresh=True) as running:  # --fresh reloads the demo
        assert running.notifications and running.background is not None
