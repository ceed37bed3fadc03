"""The report spreadsheets (issue #6 part 2, files): the workbook's layout, its figures
against a direct count in the database, the lists against direct queries, the CSV zip, the
figures CSV and `fupin-bot report`, on SQLite and PostgreSQL.

The registry is tests/reports/conftest.py's (`report_people`), with phone numbers and ID
digits added so that their absence from every file means something.
"""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import zipfile
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

import handlers.reports as reports_handlers
from bot.cli import main_group
from bot.reports import export
from bot.reports import service as reports_service
from bot.reports.export import (
    ReportLists,
    build_export,
    column_width,
    display_width,
    write_csv,
    write_csv_zip,
    write_xlsx,
)
from bot.reports.figures import RegionNotFound, build_report
from storage.db import create_engine, create_sessionmaker
from storage.enums import HouseholdStatus, Role, VisitConfirmation
from storage.models import Account, Cadre, Household, Milestone, Pairing, Region, Visit, utcnow
from storage.repositories.report_lists import ReportListRepository
from tests.e2e.conftest import app, emulator, policy, shipped_policy, tg  # noqa: F401
from tests.reports.conftest import (
    COUNTY_A,
    COUNTY_A_ADMIN_USER,
    COUNTY_B,
    EMPTY_VILLAGE,
    PERIOD_START,
    PROVINCE,
    TODAY,
    TOWNSHIP_A1,
    VILLAGE_C,
    seed_reports,
)

HOUSEHOLD_PHONE = "13912345678"
CADRE_PHONE = "13887654321"
ID_LAST4 = "9X7Z"
FORMULA_NAME = "=1+2"

SHEETS = ["汇总", "逾期走访", "逾期事项", "存疑走访", "干部包户", "说明"]
HEADERS = {
    "汇总": ["地区", "户数", "未脱贫", "已脱贫", "返贫", "结对数", "按期走访", "走访覆盖率", "逾期走访",
             "逾期事项", "存疑走访", "平均满意度", "已绑定账号"],
    "逾期走访": ["户编号", "户主", "行政村", "帮扶干部", "干部编号", "上次走访", "应走访日期", "逾期天数"],
    "逾期事项": ["户编号", "户主", "行政村", "类别", "事项", "截止日期", "逾期天数", "帮扶干部", "干部编号"],
    "存疑走访": ["走访日期", "户编号", "户主", "行政村", "帮扶干部", "干部编号", "原因", "标记时间"],
    "干部包户": ["干部编号", "姓名", "单位", "职务", "所在地区", "包户数", "逾期走访", "逾期事项", "最近走访日期"],
    "说明": ["项目", "内容"],
}


# ----------------------------------------------------------------------------- helpers


async def _personalise(sessionmaker) -> None:
    """Phone numbers and ID digits everywhere, a formula-like name on one household with
    an overdue visit, and one expired (unanswered) flagged visit."""
    async with sessionmaker() as s:
        await s.execute(update(Household).values(phone=HOUSEHOLD_PHONE, id_last4=ID_LAST4))
        await s.execute(update(Cadre).values(phone=CADRE_PHONE, unit="示范单位", post="科员"))
        first_overdue = await s.scalar(
            select(Pairing.household_id).where(Pairing.end_date.is_(None), Pairing.next_visit_due < TODAY)
            .order_by(Pairing.household_id).limit(1))
        await s.execute(update(Household).where(Household.id == first_overdue).values(head_name=FORMULA_NAME))
        flagged = await s.scalar(select(Visit.id).where(Visit.flagged.is_(True), Visit.visited_on >= PERIOD_START)
                                 .order_by(Visit.id).limit(1))
        await s.execute(update(Visit).where(Visit.id == flagged)
                        .values(confirmation=VisitConfirmation.EXPIRED, flagged_at=datetime.now().astimezone()))
        await s.commit()


@pytest.fixture
async def people(report_people, sessionmaker):
    await _personalise(sessionmaker)
    return report_people


def _in(path: str):
    return or_(Region.path == path, Region.path.like(path + "/%"))


async def _direct_figures(session, path: str, today: date = TODAY) -> dict[str, Any]:
    """The 汇总 row of `path`, counted with plain SQL (not the reports repository)."""
    def households():
        return select(Household.id).join(Region, Region.id == Household.village_id).where(_in(path))

    start = date(today.year, 1, 1)
    by_status = dict((await session.execute(
        select(Household.status, func.count()).join(Region, Region.id == Household.village_id)
        .where(_in(path)).group_by(Household.status))).tuples().all())
    pairings = await session.scalar(select(func.count()).select_from(Pairing).where(
        Pairing.end_date.is_(None), Pairing.household_id.in_(households())))
    overdue = await session.scalar(select(func.count()).select_from(Pairing).where(
        Pairing.end_date.is_(None), Pairing.next_visit_due < today, Pairing.household_id.in_(households())))
    milestones = await session.scalar(select(func.count()).select_from(Milestone).where(
        Milestone.completed_at.is_(None), Milestone.due_date < today, Milestone.household_id.in_(households())))
    in_period = and_(Visit.visited_on >= start, Visit.visited_on <= today, Visit.household_id.in_(households()))
    flagged = await session.scalar(select(func.count()).select_from(Visit).where(in_period, Visit.flagged.is_(True)))
    ratings, rating_sum = (await session.execute(
        select(func.count(Visit.rating), func.sum(Visit.rating)).where(in_period))).one()
    bound_households = await session.scalar(select(func.count(func.distinct(Account.household_id))).where(
        Account.role == Role.HOUSEHOLD, Account.is_active.is_(True), Account.household_id.in_(households())))
    bound_cadres = await session.scalar(
        select(func.count(func.distinct(Account.cadre_id))).join(Cadre, Cadre.id == Account.cadre_id)
        .join(Region, Region.id == Cadre.region_id)
        .where(Account.role == Role.CADRE, Account.is_active.is_(True), _in(path)))
    return {
        "户数": sum(by_status.values()),
        "未脱贫": by_status.get(HouseholdStatus.NOT_LIFTED, 0),
        "已脱贫": by_status.get(HouseholdStatus.LIFTED, 0),
        "返贫": by_status.get(HouseholdStatus.RETURNED, 0),
        "结对数": pairings,
        "按期走访": pairings - overdue,
        "走访覆盖率": (pairings - overdue) / pairings if pairings else None,
        "逾期走访": overdue,
        "逾期事项": milestones,
        "存疑走访": flagged,
        "平均满意度": rating_sum / ratings if ratings else None,
        "已绑定账号": bound_households + bound_cadres,
    }


async def _direct_lists(session, path: str, today: date = TODAY) -> dict[str, Counter]:
    """The 户编号 (or 干部编号) of every row each list sheet must hold, by plain SQL."""
    async def column(stmt) -> Counter:
        return Counter((await session.scalars(stmt)).all())

    base = (select(Household.reg_no).join(Region, Region.id == Household.village_id).where(_in(path)))
    return {
        "逾期走访": await column(base.join(Pairing, Pairing.household_id == Household.id).where(
            Pairing.end_date.is_(None), Pairing.next_visit_due < today)),
        "逾期事项": await column(base.join(Milestone, Milestone.household_id == Household.id).where(
            Milestone.completed_at.is_(None), Milestone.due_date < today)),
        "存疑走访": await column(base.join(Visit, Visit.household_id == Household.id).where(
            Visit.flagged.is_(True), Visit.visited_on >= date(today.year, 1, 1), Visit.visited_on <= today)),
        "干部包户": await column(
            select(Cadre.code).join(Pairing, Pairing.cadre_id == Cadre.id)
            .join(Household, Household.id == Pairing.household_id)
            .join(Region, Region.id == Household.village_id)
            .where(Pairing.end_date.is_(None), _in(path)).distinct()),
    }


async def _workbook(session, path: str, tmp_path: Path, locale: str = "zh_Hans"):
    filename, written = await build_export(session, path, TODAY, locale, "xlsx", out=tmp_path / "out.xlsx")
    return filename, load_workbook(written)


def _table(ws) -> tuple[list[Any], list[tuple[Any, ...]]]:
    rows = list(ws.iter_rows(values_only=True))
    return list(rows[0]), rows[1:]


def _close(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is expected
    return abs(actual - expected) < 1e-9


# ----------------------------------------------------------------------------- workbook


async def test_workbook_layout(session, people, tmp_path) -> None:
    filename, wb = await _workbook(session, COUNTY_A, tmp_path)
    assert filename == f"扶贫报表_甲县_{TODAY:%Y%m%d}.xlsx"
    assert wb.sheetnames == SHEETS
    for title in SHEETS:
        ws = wb[title]
        header = [c.value for c in ws[1]]
        assert header == HEADERS[title], title
        assert ws.freeze_panes == "A2", title
        assert all(c.font.b for c in ws[1]), title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), title
        for index, name in enumerate(header, start=1):
            letter = ws.cell(row=1, column=index).column_letter
            width = ws.column_dimensions[letter].width
            assert width and width >= display_width(name) + 2, (title, name, width)
    # a CJK header counts double: 最近走访日期 (6 characters) is at least 14 wide
    assert wb["干部包户"].column_dimensions["I"].width >= 14
    about = dict(wb["说明"].iter_rows(min_row=2, values_only=True))
    assert about["地区"] == "甲市/甲县"
    assert about["数据日期"] == datetime(TODAY.year, TODAY.month, TODAY.day)
    assert about["统计起始日期"] == datetime(PERIOD_START.year, 1, 1)


@pytest.mark.parametrize("path", [PROVINCE, COUNTY_A, TOWNSHIP_A1, VILLAGE_C])
async def test_summary_figures_equal_a_direct_count(session, people, tmp_path, path) -> None:
    _, wb = await _workbook(session, path, tmp_path)
    ws = wb["汇总"]
    header, body = _table(ws)
    children = people.children(path)
    assert [row[0] for row in body] == [c.rsplit("/", 1)[-1] for c in children] + ["合计"]
    for row, region in zip(body, [*children, path], strict=True):
        expected = await _direct_figures(session, region)
        for name, value in expected.items():
            actual = row[header.index(name)]
            if name in ("走访覆盖率", "平均满意度"):
                assert _close(actual, value), (region, name, actual, value)
            else:
                assert actual == value and isinstance(actual, int), (region, name, actual, value)
    total = body[-1]
    assert total[header.index("户数")] > 0  # the comparison means something
    last = ws.max_row
    coverage = ws.cell(row=last, column=header.index("走访覆盖率") + 1)
    assert coverage.number_format.endswith("%") and isinstance(coverage.value, float)
    assert all(c.font.b for c in ws[last])  # 合计 in bold
    assert not any(c.font.b for c in ws[2]) or len(body) == 1


async def test_lists_hold_exactly_the_regions_rows_and_no_personal_numbers(session, people, tmp_path) -> None:
    _, wb = await _workbook(session, COUNTY_A, tmp_path)
    expected = await _direct_lists(session, COUNTY_A)
    other = await _direct_lists(session, COUNTY_B)
    for title, key in (("逾期走访", "户编号"), ("逾期事项", "户编号"), ("存疑走访", "户编号"), ("干部包户", "干部编号")):
        header, body = _table(wb[title])
        got = Counter(row[header.index(key)] for row in body)
        assert got == expected[title], title
        assert expected[title], f"{title}: the seed leaves this list empty"
        assert not (set(got) & set(other[title]) - set(expected[title])), title
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for value in row:
                text = str(value)
                assert HOUSEHOLD_PHONE not in text and CADRE_PHONE not in text and ID_LAST4 not in text


async def test_list_cells_are_typed(session, people, tmp_path) -> None:
    _, wb = await _workbook(session, COUNTY_A, tmp_path)
    header, body = _table(wb["逾期走访"])
    for row in body:
        due = row[header.index("应走访日期")]
        assert isinstance(due, datetime)
        assert row[header.index("逾期天数")] == (TODAY - due.date()).days > 0
        assert row[header.index("行政村")].count("/") == 1  # 甲一镇/甲一村: below the county
    dues = [row[header.index("应走访日期")] for row in body]
    assert dues == sorted(dues)  # most overdue first
    ws = wb["逾期走访"]
    formula = [c for r in ws.iter_rows(min_row=2) for c in r if c.value == FORMULA_NAME]
    assert formula and all(c.data_type == "s" for c in formula)  # a name is never a formula
    assert ws.cell(row=2, column=header.index("应走访日期") + 1).number_format == "yyyy-mm-dd"

    header, body = _table(wb["逾期事项"])
    assert {row[header.index("类别")] for row in body} == {"住房安全"}
    assert all(row[header.index("截止日期")] < datetime(TODAY.year, TODAY.month, TODAY.day) for row in body)

    header, body = _table(wb["存疑走访"])
    reasons = Counter(row[header.index("原因")] for row in body)
    assert set(reasons) == {"贫困户否认", "超时未确认"}
    assert all(isinstance(row[header.index("走访日期")], datetime) for row in body)

    header, body = _table(wb["干部包户"])
    assert [row[0] for row in body] == sorted(row[0] for row in body)
    for row in body:
        code = row[header.index("干部编号")]
        n = await session.scalar(
            select(func.count()).select_from(Pairing).join(Cadre, Cadre.id == Pairing.cadre_id)
            .join(Household, Household.id == Pairing.household_id)
            .join(Region, Region.id == Household.village_id)
            .where(Cadre.code == code, Pairing.end_date.is_(None), _in(COUNTY_A)))
        assert row[header.index("包户数")] == n
        assert row[header.index("单位")] == "示范单位" and row[header.index("职务")] == "科员"
    assert sum(row[header.index("逾期走访")] for row in body) == (await _direct_figures(session, COUNTY_A))["逾期走访"]


async def test_an_empty_region_has_headers_and_a_zero_total(session, people, tmp_path) -> None:
    _, wb = await _workbook(session, EMPTY_VILLAGE, tmp_path)
    header, body = _table(wb["汇总"])
    assert len(body) == 1 and body[0][0] == "合计" and body[0][header.index("户数")] == 0
    assert body[0][header.index("走访覆盖率")] is None
    for title in SHEETS[1:5]:
        assert wb[title].max_row == 1, title


async def test_unknown_region_and_format(session, people, tmp_path) -> None:
    with pytest.raises(RegionNotFound):
        await build_export(session, "吉林省/没有这个市", TODAY, "zh_Hans", "xlsx", out=tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
    with pytest.raises(ValueError):
        await build_export(session, COUNTY_A, TODAY, "zh_Hans", "pdf")


async def test_a_temporary_file_when_no_target_is_given(session, people) -> None:
    filename, path = await build_export(session, COUNTY_B, TODAY, "zh_Hans", "csv")
    try:
        assert filename == f"扶贫报表_乙县_{TODAY:%Y%m%d}.zip"
        assert zipfile.is_zipfile(path)
    finally:
        path.unlink()


async def test_headers_follow_the_locale(session, people, tmp_path) -> None:
    _, wb = await _workbook(session, COUNTY_A, tmp_path, locale="en")
    header, _ = _table(wb.worksheets[0])
    assert "Not yet lifted" in header  # 未脱贫, translated in the catalogs
    assert len(wb.sheetnames) == len(SHEETS)
    # cells translated in the writer thread (the locale travels with the context)
    values = {v for row in wb.worksheets[3].iter_rows(min_row=2, values_only=True) for v in row}
    assert {"Denied by the household", "Not confirmed in time"} <= values


async def test_a_failing_list_closes_the_streams(session, people, tmp_path) -> None:
    """A list that fails half-way leaves no open cursor: the session works on."""
    report = await build_report(session, PROVINCE, TODAY)
    repo = ReportListRepository(session, report.path)

    async def broken():
        yield await anext(aiter(repo.overdue_visits(TODAY)))
        raise RuntimeError("disk full")

    lists = ReportLists(overdue_visits=broken(), overdue_milestones=repo.overdue_milestones(TODAY),
                        cadre_loads=repo.cadre_loads(TODAY))
    with pytest.raises(RuntimeError):
        await write_xlsx(report, lists, tmp_path / "broken.xlsx", "zh_Hans")
    assert await session.scalar(select(func.count()).select_from(Household)) > 0

    stream = repo.overdue_milestones(TODAY)
    first = await anext(stream)
    await stream.aclose()
    assert first.days_overdue > 0
    assert await session.scalar(select(func.count()).select_from(Milestone)) > 0


# ----------------------------------------------------------------------------- CSV


async def test_csv_zip_has_one_csv_per_sheet_with_bom(session, people, tmp_path) -> None:
    report = await build_report(session, COUNTY_A, TODAY)
    _, wb = await _workbook(session, COUNTY_A, tmp_path)
    buffer = io.BytesIO()
    await write_csv_zip(report, export.report_lists(session, report), buffer, "zh_Hans")
    archive = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    assert archive.namelist() == [f"{title}.csv" for title in SHEETS]
    for title in SHEETS:
        raw = archive.read(f"{title}.csv")
        assert raw.startswith(b"\xef\xbb\xbf"), title
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0] == HEADERS[title]
        assert len(rows) == wb[title].max_row, title
        text = raw.decode("utf-8-sig")
        assert HOUSEHOLD_PHONE not in text and CADRE_PHONE not in text and ID_LAST4 not in text
    visits = list(csv.reader(io.StringIO(archive.read("逾期走访.csv").decode("utf-8-sig"))))
    assert "'" + FORMULA_NAME in {cell for row in visits for cell in row}  # no formula in Excel
    summary = list(csv.reader(io.StringIO(archive.read("汇总.csv").decode("utf-8-sig"))))
    expected = await _direct_figures(session, COUNTY_A)
    total = dict(zip(summary[0], summary[-1], strict=True))
    assert total["地区"] == "合计" and int(total["户数"]) == expected["户数"]
    assert total["走访覆盖率"] == f"{expected['走访覆盖率'] * 100:.1f}%"
    date.fromisoformat(visits[1][HEADERS["逾期走访"].index("应走访日期")])


async def test_figures_csv(session, people, tmp_path) -> None:
    report = await build_report(session, PROVINCE, TODAY)
    buffer = io.BytesIO()
    await write_csv(report, buffer)
    raw = buffer.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == HEADERS["汇总"]
    assert [r[0] for r in rows[1:]] == [row.name for row in report.rows] + ["合计"]
    assert int(rows[-1][1]) == (await _direct_figures(session, PROVINCE))["户数"]
    await write_csv(report, tmp_path / "f.csv", "ko")
    assert (tmp_path / "f.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_widths_count_cjk_double() -> None:
    assert display_width("户数") == 4 and display_width("ab") == 2
    assert column_width(export.Column("最近走访日期", "date")) == 14
    assert column_width(export.Column("x" * 200)) == 60


# ----------------------------------------------------------------------------- CLI


async def _seed_for_cli(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        await seed_reports(sessionmaker)
        await _personalise(sessionmaker)
    finally:
        await engine.dispose()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """The CLI's working directory (the SQLite test database lives in tmp_path)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch, out_dir: Path) -> str:
    monkeypatch.chdir(out_dir)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    asyncio.run(_seed_for_cli(db_url))
    return db_url


def _report(*args: str):
    return CliRunner().invoke(main_group, ["report", *args])


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_cli_help() -> None:
    result = CliRunner().invoke(main_group, ["report", "--help"])
    assert result.exit_code == 0 and "--region" in result.output
    text = " ".join(result.output.split())  # click wraps the help
    assert "As-of day for what counts as overdue" in text and "statuses and completions are today's" in text


def test_cli_writes_the_workbook_and_the_csvs(cli_db: str, out_dir: Path) -> None:
    out = out_dir / "甲县.xlsx"
    result = _report("--region", "甲市/甲县", "--out", str(out), "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "甲市/甲县" in lines[0] and str(out) in lines[0]
    wb = load_workbook(out)
    assert wb.sheetnames == SHEETS
    header, body = _table(wb["汇总"])
    assert f"{body[-1][header.index('户数')]} households" in lines[0]

    result = _report("--region", "all", "--out", "province.csv", "--date", TODAY.isoformat(), "--locale", "en")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(Path("province.csv").read_text(encoding="utf-8-sig"))))
    assert "Not yet lifted" in rows[0]
    assert "吉林省" in result.output

    result = _report("--region", "甲市", "--out", "a.zip", "--date", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    assert zipfile.ZipFile("a.zip").namelist() == [f"{t}.csv" for t in SHEETS]
    assert sorted(p.name for p in out_dir.iterdir() if p.name.endswith(".part")) == []


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--region", "甲市/没有这个县", "--out", "x.xlsx"], "no region"),
        (["--region", "甲市", "--out", "x.pdf"], ".xlsx, .csv or .zip"),
        (["--region", "甲市", "--out", "missing/x.xlsx"], "does not exist"),
        (["--region", "甲市", "--out", "x.xlsx", "--date", "2026-13-01"], "--date"),
        (["--region", " ", "--out", "x.xlsx"], "--region"),
    ],
)
def test_cli_bad_input_is_one_line_and_leaves_no_file(cli_db: str, out_dir: Path, args, needle) -> None:
    before = set(out_dir.iterdir())
    line = _one_line_error(_report(*args))
    assert needle in line
    assert set(out_dir.iterdir()) == before


def test_cli_unwritable_directory(cli_db: str, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.cli.report as cli_report

    with monkeypatch.context() as m:
        m.setattr(cli_report.os, "access", lambda *a, **k: False)
        assert "not writable" in _one_line_error(_report("--region", "甲市", "--out", "x.xlsx"))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli_report.tempfile, "mkstemp", refuse)
    assert "cannot write" in _one_line_error(_report("--region", "甲市", "--out", "x.xlsx"))
    assert not Path("x.xlsx").exists()


def test_cli_failure_while_writing_leaves_nothing(cli_db: str, out_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail_half_way(session, report, out, locale, output, *, tz):
        out.write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export, "write_export", fail_half_way)
    Path("x.xlsx").write_bytes(b"the previous report")
    line = _one_line_error(_report("--region", "甲市", "--out", "x.xlsx"))
    assert "No space left" in line
    assert Path("x.xlsx").read_bytes() == b"the previous report"  # untouched
    assert [p.name for p in out_dir.iterdir()] == ["x.xlsx"]


# ----------------------------------------------------------------------------- off the loop, one at a time


async def test_the_workbook_is_written_in_a_worker_thread(session, people, tmp_path, monkeypatch) -> None:
    """openpyxl's work (cells, rows, save) never runs on the event loop's thread."""
    threads: set[int] = set()
    real_cell = export._xlsx_cell

    def recording_cell(*args, **kwargs):
        threads.add(threading.get_ident())
        return real_cell(*args, **kwargs)

    monkeypatch.setattr(export, "_xlsx_cell", recording_cell)
    _, wb = await _workbook(session, PROVINCE, tmp_path)
    assert threads and threading.get_ident() not in threads
    assert len(threads) == 1  # one writer thread per export, in order
    assert wb.sheetnames == SHEETS


async def test_the_csv_zip_is_written_in_a_worker_thread(session, people, tmp_path, monkeypatch) -> None:
    threads: set[int] = set()
    real_value = export._csv_value

    def recording_value(*args, **kwargs):
        threads.add(threading.get_ident())
        return real_value(*args, **kwargs)

    monkeypatch.setattr(export, "_csv_value", recording_value)
    _, path = await build_export(session, COUNTY_A, TODAY, "zh_Hans", "csv", out=tmp_path / "out.zip")
    assert threads and threading.get_ident() not in threads
    assert zipfile.ZipFile(path).namelist() == [f"{title}.csv" for title in SHEETS]


async def test_lists_longer_than_a_batch_are_written_whole(session, people, tmp_path, monkeypatch) -> None:
    """Batches of 2 rows: every row still arrives once, in order, the last one of 汇总 bold."""
    monkeypatch.setattr(export, "BATCH_ROWS", 2)
    _, small = await _workbook(session, COUNTY_A, tmp_path)
    expected = await _direct_lists(session, COUNTY_A)
    for title, key in (("逾期走访", "户编号"), ("逾期事项", "户编号"), ("存疑走访", "户编号"), ("干部包户", "干部编号")):
        header, body = _table(small[title])
        assert Counter(row[header.index(key)] for row in body) == expected[title], title
    ws = small["汇总"]
    assert all(c.font.b for c in ws[ws.max_row]) and ws.cell(row=ws.max_row, column=1).value == "合计"
    assert not any(c.font.b for c in ws[2])


async def test_a_cancelled_export_waits_for_the_writer_step_then_cleans_up(
    session, people, tmp_path, monkeypatch
) -> None:
    """Cancelling the export while the writer thread appends a batch: the clean-up (the
    workbook's spilled rows, the partial file) runs only after that step has finished."""
    loop = asyncio.get_running_loop()
    inside, go = asyncio.Event(), threading.Event()
    order: list[str] = []
    real_append, real_discard = export._append_rows, export._discard

    def slow_append(*args):
        if not order:
            order.append("step started")
            loop.call_soon_threadsafe(inside.set)
            go.wait(timeout=30)
        result = real_append(*args)
        if order == ["step started"]:
            order.append("step done")
        return result

    def discard(wb) -> None:
        order.append("discard")
        real_discard(wb)

    monkeypatch.setattr(export, "_append_rows", slow_append)
    monkeypatch.setattr(export, "_discard", discard)
    task = asyncio.create_task(build_export(session, COUNTY_A, TODAY, "zh_Hans", "xlsx", out=tmp_path / "x.xlsx"))
    await inside.wait()
    task.cancel()
    go.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert order == ["step started", "step done", "discard"]
    assert not (tmp_path / "x.xlsx").exists()
    assert await session.scalar(select(func.count()).select_from(Household)) > 0  # cursors closed


class _Gate:
    """Wraps `export.write_export`: the first call stops inside until `release` is set."""

    def __init__(self, fail_first: bool = False) -> None:
        self.events: list[str] = []
        self.first_inside = asyncio.Event()
        self.release = asyncio.Event()
        self.fail_first = fail_first
        self.real = export.write_export

    async def __call__(self, session, report, out, locale, output, *, tz):
        self.events.append(f"start {report.name}")
        if len(self.events) == 1:
            self.first_inside.set()
            await self.release.wait()
            if self.fail_first:
                raise OSError(28, "No space left on device")
        await self.real(session, report, out, locale, output, tz=tz)
        self.events.append(f"end {report.name}")


async def test_two_exports_run_one_after_the_other(sessionmaker, people, tmp_path, monkeypatch) -> None:
    gate = _Gate()
    monkeypatch.setattr(export, "write_export", gate)
    waited = asyncio.Event()

    async def on_wait() -> None:
        waited.set()

    async with sessionmaker() as s1, sessionmaker() as s2:
        first = asyncio.create_task(build_export(s1, COUNTY_A, TODAY, "zh_Hans", "xlsx", out=tmp_path / "a.xlsx"))
        await gate.first_inside.wait()
        second = asyncio.create_task(build_export(s2, COUNTY_B, TODAY, "zh_Hans", "xlsx", out=tmp_path / "b.xlsx",
                                                  on_wait=on_wait))
        await waited.wait()  # the second one is told it waits ...
        assert gate.events == ["start 甲县"]  # ... and has not started
        gate.release.set()
        (name_a, path_a), (name_b, path_b) = await asyncio.gather(first, second)
    assert gate.events == ["start 甲县", "end 甲县", "start 乙县", "end 乙县"]
    assert load_workbook(path_a).sheetnames == SHEETS and load_workbook(path_b).sheetnames == SHEETS
    assert "甲县" in name_a and "乙县" in name_b


async def test_a_failed_or_cancelled_export_frees_the_slot(sessionmaker, people, tmp_path, monkeypatch) -> None:
    gate = _Gate(fail_first=True)
    monkeypatch.setattr(export, "write_export", gate)
    waits: list[str] = []
    third_waits = asyncio.Event()

    async def on_wait(name: str):
        async def told() -> None:
            waits.append(name)
            if name == "third":
                third_waits.set()
        return told

    async with sessionmaker() as s1, sessionmaker() as s2, sessionmaker() as s3:
        first = asyncio.create_task(build_export(s1, COUNTY_A, TODAY, "zh_Hans", "xlsx", out=tmp_path / "a.xlsx"))
        await gate.first_inside.wait()
        # a waiting export that is given up on (the update's task cancelled) leaves no trace
        second = asyncio.create_task(build_export(s2, COUNTY_B, TODAY, "zh_Hans", "xlsx", out=tmp_path / "b.xlsx",
                                                  on_wait=await on_wait("second")))
        third = asyncio.create_task(build_export(s3, COUNTY_B, TODAY, "zh_Hans", "csv", out=tmp_path / "c.zip",
                                                 on_wait=await on_wait("third")))
        await third_waits.wait()
        second.cancel()
        gate.release.set()
        with pytest.raises(OSError):
            await first
        with pytest.raises(asyncio.CancelledError):
            await second
        name, path = await third
    assert waits == ["second", "third"]
    assert gate.events == ["start 甲县", "start 乙县", "end 乙县"]
    assert not (tmp_path / "a.xlsx").exists() and not (tmp_path / "b.xlsx").exists()
    assert name.endswith(".zip") and zipfile.is_zipfile(path)
    # and the slot is free again: no waiting now
    async with sessionmaker() as s4:
        _, again = await build_export(s4, COUNTY_A, TODAY, "zh_Hans", "xlsx", out=tmp_path / "d.xlsx",
                                      on_wait=await on_wait("fourth"))
    assert waits == ["second", "third"] and load_workbook(again).sheetnames == SHEETS


# ----------------------------------------------------------------------------- the chat


class _LockProbe:
    """A Bot API request middleware: each time the bot sends a chat action, a photo, a
    document or a message, another connection writes the admin's account row without ever
    waiting for a lock and records 'ok' or the error, with whether the handler's session
    (`session`, when known) is inside a transaction. A handler whose transaction still holds
    the account touch (last_seen_at) makes the write fail at once: SQLite's write lock (busy
    timeout 0), PostgreSQL's row lock (FOR UPDATE NOWAIT)."""

    METHODS = ("sendChatAction", "sendPhoto", "sendDocument", "sendMessage")

    def __init__(self, db_url: str, telegram_user_id: int) -> None:
        connect_args = {"timeout": 0} if db_url.startswith("sqlite") else {}
        self.engine = create_async_engine(db_url, connect_args=connect_args)
        self.user = telegram_user_id
        self.results: list[tuple[str, str]] = []
        self.session = None  # the handler's, once it called the report service

    def in_transaction(self) -> bool | None:
        return None if self.session is None else self.session.in_transaction()

    async def __call__(self, make_request, bot, method):
        name = getattr(method, "__api_method__", "")
        if name in self.METHODS:
            self.results.append((name, await self.write(), self.in_transaction()))
        return await make_request(bot, method)

    async def write(self) -> str:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(select(Account.id).where(Account.telegram_user_id == self.user)
                                   .with_for_update(nowait=True))
                await conn.execute(update(Account).where(Account.telegram_user_id == self.user)
                                   .values(last_seen_at=utcnow()))
        except DBAPIError as exc:
            return f"locked: {type(exc.orig).__name__}"
        return "ok"


async def _age_last_seen(sessionmaker, telegram_user_id: int) -> None:
    """An old last_seen_at, so that the next update's account touch writes the row."""
    async with sessionmaker() as s:
        await s.execute(update(Account).where(Account.telegram_user_id == telegram_user_id)
                        .values(last_seen_at=datetime(2020, 1, 1, tzinfo=UTC)))
        await s.commit()


async def test_the_chat_holds_no_transaction_while_rendering_or_uploading(
    app, tg, people, sessionmaker, db_url, monkeypatch  # noqa: F811
) -> None:
    """/export and /report: the account touch is committed before the slow work, and no
    transaction (no lock, no pooled connection) is held while the chart is drawn or the file
    is uploaded: a second connection writes the same account row without waiting."""
    probe = _LockProbe(db_url, COUNTY_A_ADMIN_USER)
    app.bot.session.middleware(probe)
    real_view, real_export, real_chart = reports_service.report_view, reports_handlers.build_export, \
        reports_handlers.render_chart_async
    chart_checks: list[tuple[str, bool | None]] = []

    async def report_view(session, *args, **kwargs):
        probe.session = session
        return await real_view(session, *args, **kwargs)

    async def build(session, *args, **kwargs):
        probe.session = session
        return await real_export(session, *args, **kwargs)

    async def chart(*args, **kwargs):
        chart_checks.append((await probe.write(), probe.in_transaction()))
        return await real_chart(*args, **kwargs)

    monkeypatch.setattr(reports_service, "report_view", report_view)
    monkeypatch.setattr(reports_handlers, "build_export", build)
    monkeypatch.setattr(reports_handlers, "render_chart_async", chart)
    try:
        await tg.add_user(COUNTY_A_ADMIN_USER, first_name="甲县管理员", language_code="zh-hans")

        await _age_last_seen(sessionmaker, COUNTY_A_ADMIN_USER)
        [document] = await tg.ask(COUNTY_A_ADMIN_USER, "/export")
        assert document.get("document"), document
        assert probe.results == [("sendChatAction", "ok", None), ("sendDocument", "ok", False)]

        probe.results.clear()
        probe.session = None
        await _age_last_seen(sessionmaker, COUNTY_A_ADMIN_USER)
        [photo] = await tg.ask(COUNTY_A_ADMIN_USER, "/report")
        assert photo.get("photo"), photo
        assert chart_checks == [("ok", False)]
        assert probe.results == [("sendChatAction", "ok", None), ("sendPhoto", "ok", False)]

        # the touch itself was committed, not lost with the early commits
        async with sessionmaker() as s:
            seen = await s.scalar(select(Account.last_seen_at).where(Account.telegram_user_id == COUNTY_A_ADMIN_USER))
        assert seen.year > 2020
    finally:
        await probe.engine.dispose()


async def test_an_export_behind_another_one_is_told_to_wait(app, tg, people) -> None:  # noqa: F811
    await tg.add_user(COUNTY_A_ADMIN_USER, first_name="甲县管理员", language_code="zh-hans")
    slot = export._export_slot()  # the bot runs on this test's event loop
    await slot.acquire()  # another export is being written
    try:
        [notice] = await tg.ask(COUNTY_A_ADMIN_USER, "/export csv")
        assert "另一份报表正在生成" in notice["text"], notice
        assert not notice.get("document")
    finally:
        slot.release()
    [document] = await tg.wait_replies(COUNTY_A_ADMIN_USER, after_seq=notice["seq"], count=1)
    name = document["document"]["file_name"]
    assert name.startswith("扶贫报表_甲县_") and name.endswith(".zip"), document
    assert not slot.locked()
