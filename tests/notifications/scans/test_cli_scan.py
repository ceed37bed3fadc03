"""`fupin-bot scan --at` through click's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from click.testing import CliRunner
from sqlalchemy import update

from bot.cli import main_group
from storage.models import Pairing
from tests.notifications.scans.conftest import outbox


async def test_scan_at_prints_counts(people, sessionmaker, settings, db_url) -> None:
    async with sessionmaker() as s:
        await s.execute(update(Pairing).where(Pairing.id == people.pairing_h1).values(next_visit_due=date(2026, 12, 4)))
        await s.commit()
    import asyncio

    def invoke(*args: str):
        return CliRunner().invoke(main_group, ["scan", "--database-url", db_url, *args])

    result = await asyncio.to_thread(invoke, "--at", "2026-12-01T09:00")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert "reminders: 1" in lines and "digest: 1" in lines and "weekly: 0" in lines
    assert len(await outbox(sessionmaker)) == 2
    again = await asyncio.to_thread(invoke, "--at", "2026-12-01T01:00+00:00")  # the same moment
    assert again.exit_code == 0 and "reminders: 0" in again.output.splitlines()


def test_scan_rejects_a_bad_date(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main_group, ["scan", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", "--at", "2026-13-45T09:00"]
    )
    assert result.exit_code == 2
    assert "--at" in result.output and "ISO" in result.output
    assert "Traceback" not in result.output


def test_scan_has_help() -> None:
    result = CliRunner().invoke(main_group, ["scan", "--help"])
    assert result.exit_code == 0 and "--at" in result.output
