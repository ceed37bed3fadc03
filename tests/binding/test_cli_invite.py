"""`fupin-bot invite` through click's CliRunner on both databases."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import func, select

from bot.cli import main_group
from bot.invitations import RedeemStatus, hash_code, redeem
from storage.db import create_engine, create_sessionmaker
from storage.enums import Role
from storage.models import Account, AuditLog, Invitation
from tests.binding.conftest import COUNTY, Seed, new_account, seed
from tests.conftest import TEST_TOKEN

LINK_RE = re.compile(r"^https://t\.me/fupin_test_bot\?start=([A-Za-z0-9_-]{1,64})$")


def _run(coro):
    return asyncio.run(coro)


async def _with_session(db_url: str, fn):
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return await fn(session)
    finally:
        await engine.dispose()


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Seed:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("BOT_USERNAME", "fupin_test_bot")
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    monkeypatch.delenv("INVITE_TTL_DAYS", raising=False)
    return _run(_with_session(db_url, seed))


def invoke(*args: str):
    return CliRunner().invoke(main_group, ["invite", *args])


def _count(db_url: str, model) -> int:
    return _run(_with_session(db_url, lambda s: s.scalar(select(func.count()).select_from(model))))


def _redeem(db_url: str, code: str, telegram_user_id: int):
    async def go(session):
        account = await new_account(session, telegram_user_id)
        result = await redeem(session, account, code)
        await session.commit()
        return result

    return _run(_with_session(db_url, go))


def _single_link(result) -> str:
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    match = LINK_RE.match(lines[0])
    assert match, lines[0]
    return match.group(1)


def test_household_link(cli_env: Seed, db_url: str):
    code = _single_link(invoke("--household", "H0001"))
    assert len(code) >= 22

    async def check(session):
        invitation = await session.scalar(select(Invitation).where(Invitation.code_hash == hash_code(code)))
        assert invitation is not None and invitation.role is Role.HOUSEHOLD
        assert invitation.household_id == cli_env.households["H0001"]
        days = (invitation.expires_at - invitation.created_at).total_seconds() / 86400
        assert days == pytest.approx(14, abs=0.01)
        audit = await session.scalar(select(AuditLog))
        assert audit.actor == "cli" and code not in json.dumps(audit.details)

    _run(_with_session(db_url, check))
    result = _redeem(db_url, code, 2001)
    assert result.status is RedeemStatus.BOUND and result.household_reg_no == "H0001"


def test_cadre_and_admin_links(cli_env: Seed, db_url: str):
    cadre = _single_link(invoke("--cadre", "C001", "--ttl-days", "3"))
    county = _single_link(invoke("--admin", COUNTY))
    county_full = _single_link(invoke("--admin", "吉林省/" + COUNTY))
    province = _single_link(invoke("--admin", "all"))
    assert len({cadre, county, county_full, province}) == 4

    async def check(session):
        rows = {r.code_hash: r for r in (await session.scalars(select(Invitation))).all()}
        c = rows[hash_code(cadre)]
        assert c.role is Role.CADRE and c.cadre_id == cli_env.cadre_id
        assert (c.expires_at - c.created_at).days == 3
        assert rows[hash_code(county)].region_id == cli_env.county_id
        assert rows[hash_code(county_full)].region_id == cli_env.county_id
        p = rows[hash_code(province)]
        assert p.role is Role.ADMIN and p.region_id is None

    _run(_with_session(db_url, check))
    assert _redeem(db_url, county, 2002).admin_scope == COUNTY
    whole = _redeem(db_url, province, 2003)
    assert whole.role is Role.ADMIN and whole.admin_scope is None


def test_qr_png(cli_env: Seed, tmp_path: Path):
    target = tmp_path / "invite.png"
    result = invoke("--household", "H0002", "--qr", str(target))
    _single_link(result)
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(target) as img:
        img.load()
        assert img.format == "PNG" and img.width == img.height and img.width >= 200


def test_bulk_csv_and_qr_dir(cli_env: Seed, db_url: str, tmp_path: Path):
    out = tmp_path / "links.csv"
    qr_dir = tmp_path / "qr" / "county"
    result = invoke("--households-in", COUNTY, "--out", str(out), "--qr-dir", str(qr_dir))
    assert result.exit_code == 0, result.output
    assert "3 invitations" in result.stdout
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["户编号", "户主姓名", "行政村", "邀请链接"]
    body = {r[0]: r for r in rows[1:]}
    # H0003 is in another city, H0004 is bound already.
    assert set(body) == {"H0001", "H0002", "'=H0005"}
    assert body["H0001"][1:3] == ["张三", "民主村"]
    assert body["H0002"][1:3] == ["李<四>", "望天鹅村"]
    assert body["'=H0005"][1] == "'=SUM(A1)"  # no formulas in Excel
    codes = {}
    for reg_no, row in body.items():
        match = LINK_RE.match(row[3])
        assert match, row[3]
        codes[reg_no] = match.group(1)
    assert len(set(codes.values())) == 3
    pngs = sorted(p.name for p in qr_dir.iterdir())
    assert pngs == ["=H0005.png", "H0001.png", "H0002.png"]
    with Image.open(qr_dir / "H0001.png") as img:
        assert img.format == "PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert _count(db_url, Invitation) == 3
    assert _redeem(db_url, codes["H0002"], 2010).household_head_name == "李<四>"

    # Once H0002 is bound, a second run of the whole province skips it.
    out2 = tmp_path / "all.csv"
    result = invoke("--households-in", "all", "--out", str(out2))
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out2.read_text(encoding="utf-8-sig"))))
    assert sorted(r[0] for r in rows[1:]) == ["'=H0005", "H0001", "H0003"]


def test_bulk_village_then_nothing_left(cli_env: Seed, tmp_path: Path):
    out = tmp_path / "village.csv"
    result = invoke("--households-in", "通化市/集安市/清河镇/野猪沟村", "--out", str(out))
    assert result.exit_code == 0 and "wrote 1 invitations" in result.stdout
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["H0003"]
    _redeem(os.environ["DATABASE_URL"], LINK_RE.match(rows[1][3]).group(1), 2020)
    empty = tmp_path / "empty.csv"
    result = invoke("--households-in", "通化市/集安市", "--out", str(empty))
    assert result.exit_code == 0 and "wrote 0 invitations" in result.stdout
    assert list(csv.reader(io.StringIO(empty.read_text(encoding="utf-8-sig")))) == [
        ["户编号", "户主姓名", "行政村", "邀请链接"]
    ]


def _assert_usage_error(result) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--household", "H0001", "--cadre", "C001"],
        ["--admin", "all", "--households-in", "all", "--out", "x.csv"],
        ["--households-in", COUNTY],
        ["--household", "H0001", "--out", "x.csv"],
        ["--households-in", COUNTY, "--out", "x.csv", "--qr", "x.png"],
        ["--household", "  "],
        ["--household", "H0001", "--qr", "no/such/dir/x.png"],
    ],
)
def test_usage_errors(cli_env: Seed, db_url: str, tmp_path: Path, args):
    _assert_usage_error(invoke(*args))
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.png").exists()
    assert _count(db_url, Invitation) == 0


def test_bad_ttl(cli_env: Seed, db_url: str):
    result = invoke("--household", "H0001", "--ttl-days", "0")
    assert result.exit_code == 2
    assert _count(db_url, Invitation) == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--household", "H9999"], "H9999"),
        (["--cadre", "C999"], "C999"),
        (["--admin", "白山市/不存在县"], "unknown region"),
        (["--households-in", "不存在市"], "unknown region"),
    ],
)
def test_unknown_targets_write_nothing(cli_env: Seed, db_url: str, tmp_path: Path, args, needle):
    files = tmp_path / "files"
    files.mkdir()
    extra = (
        ["--out", str(files / "out.csv"), "--qr-dir", str(files / "qr")]
        if args[0] == "--households-in"
        else ["--qr", str(files / "out.png")]
    )
    result = invoke(*args, *extra)
    _assert_usage_error(result)
    assert needle in result.stderr
    assert list(files.iterdir()) == []
    assert _count(db_url, Invitation) == 0
    assert _count(db_url, AuditLog) == 0


def test_no_username_and_no_token(cli_env: Seed, db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BOT_USERNAME")
    result = invoke("--household", "H0001")
    _assert_usage_error(result)
    assert "BOT_USERNAME" in result.stderr and "BOT_TOKEN" in result.stderr
    assert _count(db_url, Invitation) == 0


class _FakeBotApi(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == f"/bot{TEST_TOKEN}/getMe":
            status, body = (
                200,
                {
                    "ok": True,
                    "result": {
                        "id": 123456789,
                        "is_bot": True,
                        "first_name": "扶贫",
                        "username": "fupin_test_bot",
                    },
                },
            )
        else:
            status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeBotApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_username_from_get_me(cli_env: Seed, monkeypatch: pytest.MonkeyPatch, fake_api: str):
    monkeypatch.delenv("BOT_USERNAME")
    monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", fake_api)
    _single_link(invoke("--cadre", "C001"))


def test_rejected_token(cli_env: Seed, db_url: str, monkeypatch: pytest.MonkeyPatch, fake_api: str):
    monkeypatch.delenv("BOT_USERNAME")
    monkeypatch.setenv("BOT_TOKEN", "987654321:another-token-the-api-rejects")
    monkeypatch.setenv("TELEGRAM_API_URL", fake_api)
    result = invoke("--cadre", "C001")
    _assert_usage_error(result)
    assert "401" in result.stderr
    assert _count(db_url, Invitation) == 0


def test_unreachable_api(cli_env: Seed, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BOT_USERNAME")
    monkeypatch.setenv("BOT_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:9")
    result = invoke("--cadre", "C001")
    _assert_usage_error(result)
    assert "BOT_USERNAME" in result.stderr


def test_account_stays_unbound_by_cli(cli_env: Seed, db_url: str):
    """Creating links does not bind anybody."""
    _single_link(invoke("--household", "H0001"))
    bound = _run(
        _with_session(
            db_url,
            lambda s: s.scalar(select(func.count()).select_from(Account).where(Account.role.is_not(None))),
        )
    )
    assert bound == 1  # only the seeded account
