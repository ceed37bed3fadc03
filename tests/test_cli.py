"""The console entry point: help for every subcommand, db upgrade, start-up refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main_group
from tests.conftest import TEST_TOKEN

SUBCOMMANDS = ["run", "sandbox", "db", "db upgrade", "import", "invite", "demo-data", "worker", "scan", "broadcast", "report", "audit"]


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_every_subcommand_has_help(sub: str) -> None:
    result = CliRunner().invoke(main_group, [*sub.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_", "WEBHOOK_"))}
    env.update(extra)
    return env


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_upgrade_is_idempotent(tmp_path: Path, db_url: str) -> None:
    first = _run(tmp_path, "db", "upgrade", DATABASE_URL=db_url)
    second = _run(tmp_path, "db", "upgrade", DATABASE_URL=db_url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout


def test_run_refuses_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    result = _run(tmp_path, "run", BOT_TOKEN=TEST_TOKEN, DATABASE_URL=url,
                  TELEGRAM_API_URL="http://127.0.0.1:9")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "fupin-bot db upgrade" in lines[0]
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:9/none"
    for args in (["run"], ["db", "upgrade"]):
        result = _run(tmp_path, *args, BOT_TOKEN=TEST_TOKEN, DATABASE_URL=url)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_invalid_config_is_one_line_exit_2(tmp_path: Path) -> None:
    result = _run(tmp_path, "run", BOT_TOKEN="garbage")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_webhook_needs_url_and_secret(tmp_path: Path, db_url: str) -> None:
    result = _run(tmp_path, "run", "--webhook", BOT_TOKEN=TEST_TOKEN, DATABASE_URL=db_url)
    assert result.returncode == 2
    assert "WEBHOOK_URL" in result.stderr


def test_unreachable_bot_api_is_one_line(tmp_path: Path, db_url: str) -> None:
    result = _run(tmp_path, "run", BOT_TOKEN=TEST_TOKEN, DATABASE_URL=db_url,
                  TELEGRAM_API_URL="http://127.0.0.1:9")
    assert result.returncode == 2, result.stderr
    assert "TELEGRAM_API_URL" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_python_m_bot_matches_console_script(tmp_path: Path) -> None:
    result = _run(tmp_path, "--help")
    assert result.returncode == 0
    for sub in ("run", "sandbox", "db", "import", "invite", "demo-data"):
        assert sub in result.stdout
