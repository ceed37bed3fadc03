"""A corpus that does not load stops start-up with one console line (no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.app
from bot.cli import main_group
from bot.config import ConfigError
from bot.policy.corpus import CorpusError
from bot.policy.service import PolicyService
from tests.conftest import TEST_TOKEN


def _broken(directory: Path | None = None) -> PolicyService:
    raise CorpusError("bot/policy/data/sections/32.yaml", 14, "answer.ko", "missing")


def test_load_policy_turns_a_corpus_error_into_one_config_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.app, "PolicyService", _broken)
    with pytest.raises(ConfigError) as caught:
        bot.app.load_policy()
    assert str(caught.value) == "policy corpus: bot/policy/data/sections/32.yaml:14: answer.ko: missing"


def test_run_with_a_broken_corpus_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bot.app, "PolicyService", _broken)
    env = {"BOT_TOKEN": TEST_TOKEN, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
           "TELEGRAM_API_URL": "http://127.0.0.1:9"}
    result = CliRunner().invoke(main_group, ["run"], env=env)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1] == "fupin-bot: policy corpus: bot/policy/data/sections/32.yaml:14: answer.ko: missing"
    assert "Traceback" not in result.output
