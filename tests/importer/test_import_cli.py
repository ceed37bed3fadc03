"""`fupin-bot import` through click's CliRunner: exit status 0 on success, 2 and one line on errors."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from bot.cli import main_group
from storage.db import create_engine, create_sessionmaker
from tests.importer.helpers import ORDER, counts, example, read_csv_rows, write_csv


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for var in ("ID_HASH_KEY", "DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()

    def invoke(*args: str, url: str = db_url):
        return runner.invoke(main_group, ["import", *args], env={"DATABASE_URL": url}, catch_exceptions=False)

    return invoke


def db_counts(url: str) -> dict[str, int]:
    async def _run():
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as s:
                return await counts(s)
        finally:
            await engine.dispose()

    return asyncio.run(_run())


def test_examples_via_cli(cli, db_url):
    for kind in ORDER:
        result = cli(kind, str(example(kind)), "--quiet")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"{kind} from {kind}.csv: ") and " created, 0 updated" in result.stdout
        assert result.stderr == ""
    result = cli("households", str(example("households")))
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "households from households.csv: 0 created, 0 updated, 8 unchanged, 0 skipped (nothing changed)"
    )
    assert db_counts(db_url)["households"] == 8


def test_file_error_is_one_line_exit_2(cli, db_url, tmp_path):
    path = tmp_path / "h.csv"
    path.write_bytes("户编号,户主姓名\n".encode("utf-16"))
    result = cli("households", str(path))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("fupin-bot: h.csv: the file is UTF-16")
    result = cli("households", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and result.stderr == "fupin-bot: missing.csv: no such file\n"
    assert db_counts(db_url)["households"] == 0


def test_row_errors_exit_2_and_write_nothing(cli, db_url, tmp_path):
    rows = read_csv_rows(example("households"))
    rows[1][2] = "220699196803150015"
    path = write_csv(tmp_path / "h.csv", rows)
    result = cli("households", str(path))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "h.csv:2: 身份证号: invalid ID number: the check digit does not match"
    assert lines[-1].startswith("fupin-bot: import failed: 1 invalid row(s) in h.csv")
    assert "220699196803150015" not in result.output
    assert db_counts(db_url)["households"] == 0
    result = cli("households", str(path), "--skip-invalid")
    assert result.exit_code == 0
    assert "7 created, 0 updated, 0 unchanged, 1 skipped" in result.stdout
    assert result.stderr.splitlines() == [lines[0]]


def test_unmigrated_database_is_refused(cli, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("one run is enough")
    result = cli("households", str(example("households")), url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    assert result.exit_code == 2
    assert result.stderr == "fupin-bot: database is not migrated: run `fupin-bot db upgrade` first\n"


def test_unknown_kind_is_a_usage_error(cli):
    result = cli("villages", str(example("households")))
    assert result.exit_code == 2
