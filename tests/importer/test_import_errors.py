"""Bad input: every error names file, row, column and reason, and nothing is written."""

from __future__ import annotations

import zipfile

import pytest

from storage.importer import ImportFileError, import_file
from tests.importer.helpers import ORDER, counts, example, read_csv_rows, write_csv

KEY = "test-id-hash-key-0123456789"
HH_HEADER = read_csv_rows(example("households"))[0]


def hh_rows(*changes: tuple[int, int, str]) -> list[list[str]]:
    """The example households with (row index, column index, value) changes."""
    rows = read_csv_rows(example("households"))
    for r, c, value in changes:
        rows[r][c] = value
    return rows


@pytest.fixture
async def base(sessionmaker):
    """Households and cadres imported; returns the row counts to compare with."""
    for kind in ("households", "cadres"):
        await import_file(sessionmaker, kind, example(kind), id_hash_key=KEY)
    async with sessionmaker() as s:
        return await counts(s)


async def assert_unchanged(sessionmaker, before):
    async with sessionmaker() as s:
        assert await counts(s) == before


async def run(sessionmaker, kind, path, **kwargs):
    return await import_file(sessionmaker, kind, path, id_hash_key=KEY, **kwargs)


def errs(report):
    return [(e.file, e.row, e.column) for e in report.errors]


async def test_wrong_headers(sessionmaker, base, tmp_path):
    rows = read_csv_rows(example("households"))
    rows[0][0] = "户号"
    rows[0][8] = "人口"
    with pytest.raises(ImportFileError) as exc:
        await run(sessionmaker, "households", write_csv(tmp_path / "h.csv", rows))
    msg = str(exc.value)
    assert msg.startswith("h.csv: wrong headers for households in row 1")
    assert "missing required columns 户编号, 家庭人口" in msg and "unknown headers 户号, 人口" in msg
    await assert_unchanged(sessionmaker, base)


async def test_bad_dates(sessionmaker, base, tmp_path):
    path = write_csv(tmp_path / "p.csv", [["干部编号", "户编号", "开始日期"],
                                           ["EXGB002", "EX2206990001", "2026-02-30"],
                                           ["EXGB002", "EX2206990002", "2026-03-01"],
                                           ["EXGB002", "EX2206990003", "下周"]])
    report = await run(sessionmaker, "pairings", path)
    assert not report.committed and report.invalid_rows == 2
    assert errs(report) == [("p.csv", 2, "开始日期"), ("p.csv", 4, "开始日期")]
    assert report.errors[0].reason == "not a valid calendar date"
    assert report.errors[1].reason.startswith("expected a date such as 2026-03-01")
    assert str(report.errors[0]) == "p.csv:2: 开始日期: not a valid calendar date"
    await assert_unchanged(sessionmaker, base)


async def test_unknown_region(sessionmaker, base, tmp_path):
    report = await run(sessionmaker, "households", write_csv(tmp_path / "h.csv", hh_rows((3, 4, "北京市"))))
    assert errs(report) == [("h.csv", 4, "市州")]
    assert report.errors[0].reason.startswith("unknown region '北京市'")
    await assert_unchanged(sessionmaker, base)


async def test_duplicate_registry_numbers_report_both_rows(sessionmaker, base, tmp_path):
    report = await run(sessionmaker, "households", write_csv(tmp_path / "h.csv", hh_rows((5, 0, "EX2206990002"))))
    assert errs(report) == [("h.csv", 3, "户编号"), ("h.csv", 6, "户编号")]
    assert report.errors[0].reason == "duplicate 户编号 'EX2206990002' (also in row 6)"
    await assert_unchanged(sessionmaker, base)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("utf16.csv", "户编号,户主姓名\n".encode("utf-16"), "UTF-16"),
        ("utf16le.csv", "户编号,户主姓名\n".encode("utf-16-le"), "binary content"),
        ("random.csv", bytes(range(256)) * 4, "not a CSV or XLSX file"),
        ("latin.csv", "户编号".encode() + b"\xff\xfe\xfa\n", "cannot decode the file as UTF-8 or GB18030"),
        ("empty.csv", b"", "the file is empty"),
        ("blank.csv", b"\r\n\r\n  \r\n", "the file is empty"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "legacy Excel .xls"),
        ("header-only.csv", ",".join(HH_HEADER).encode() + b"\r\n", "no data rows below the header"),
    ],
)
async def test_file_level_errors(sessionmaker, base, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFileError) as exc:
        await run(sessionmaker, "households", path)
    assert message in str(exc.value) and "\n" not in str(exc.value)
    assert str(exc.value).startswith(name + ": ")
    await assert_unchanged(sessionmaker, base)


async def test_zip_that_is_not_xlsx_and_missing_file(sessionmaker, base, tmp_path):
    path = tmp_path / "data.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ImportFileError, match="not a CSV or XLSX file"):
        await run(sessionmaker, "households", path)
    with pytest.raises(ImportFileError, match="no such file"):
        await run(sessionmaker, "households", tmp_path / "missing.csv")
    await assert_unchanged(sessionmaker, base)


async def test_unknown_household_and_cadre_in_pairings(sessionmaker, base, tmp_path):
    path = write_csv(tmp_path / "p.csv", [["干部编号", "户编号", "开始日期"],
                                           ["EXGB002", "NOPE", "2026-03-01"],
                                           ["NOBODY", "EX2206990002", "2026-03-01"]])
    report = await run(sessionmaker, "pairings", path)
    assert errs(report) == [("p.csv", 2, "户编号"), ("p.csv", 3, "干部编号")]
    assert "unknown 户编号 'NOPE'" in report.errors[0].reason
    assert "unknown 干部编号 'NOBODY'" in report.errors[1].reason
    await assert_unchanged(sessionmaker, base)


async def test_unknown_household_in_milestones(sessionmaker, base, tmp_path):
    path = write_csv(tmp_path / "m.csv", [["户编号", "事项", "类别", "截止日期", "状态"],
                                           ["NOPE", "x", "其他", "2026-03-01", ""]])
    report = await run(sessionmaker, "milestones", path)
    assert errs(report) == [("m.csv", 2, "户编号")]
    await assert_unchanged(sessionmaker, base)


async def test_bad_id_checksum_is_not_echoed(sessionmaker, base, tmp_path):
    bad = "220699197507220028"
    report = await run(sessionmaker, "households", write_csv(tmp_path / "h.csv", hh_rows((2, 2, bad))))
    assert errs(report) == [("h.csv", 3, "身份证号")]
    assert report.errors[0].reason == "invalid ID number: the check digit does not match"
    assert all(bad not in str(e) for e in report.errors)
    await assert_unchanged(sessionmaker, base)


async def test_bad_enum_label_lists_accepted_values(sessionmaker, base, tmp_path):
    report = await run(sessionmaker, "households", write_csv(tmp_path / "h.csv", hh_rows((1, 10, "送温暖"))))
    assert errs(report) == [("h.csv", 2, "帮扶措施")]
    reason = report.errors[0].reason
    assert reason.startswith("unknown 帮扶措施 '送温暖': expected one of 发展生产, 易地搬迁")
    assert "social_security" in reason
    await assert_unchanged(sessionmaker, base)


async def test_all_errors_are_collected_with_a_cap(sessionmaker, base, tmp_path):
    rows = [HH_HEADER] + [
        [f"X{i}", "某", "", "", "白山市", "示例县", "镇", "村", "0", "因病", "", "", "", "未脱贫", "", "", "", ""]
        for i in range(300)
    ]
    report = await import_file(sessionmaker, "households", write_csv(tmp_path / "h.csv", rows), id_hash_key=KEY,
                               max_errors=200)
    assert report.error_count == 300 and len(report.errors) == 200 and report.invalid_rows == 300
    assert report.errors[-1].row == 201
    await assert_unchanged(sessionmaker, base)


async def test_skip_invalid_imports_the_good_rows(sessionmaker, tmp_path):
    rows = hh_rows((2, 9, "没钱"), (4, 4, "北京市"))
    report = await run(sessionmaker, "households", write_csv(tmp_path / "h.csv", rows), skip_invalid=True)
    assert report.committed and report.created == 6 and report.skipped == 2
    assert errs(report) == [("h.csv", 3, "致贫原因"), ("h.csv", 5, "市州")]
    async with sessionmaker() as s:
        assert (await counts(s))["households"] == 6
    # the corrected file then adds the two missing rows and leaves the rest alone
    again = await run(sessionmaker, "households", example("households"))
    assert (again.created, again.unchanged) == (2, 6)


async def test_cadre_supervisor_errors(sessionmaker, tmp_path):
    header = ["干部编号", "姓名", "单位", "职务", "级别", "联系电话", "市州", "县市区", "上级编号"]
    base = ["", "某", "", "", "县", "", "白山市", "示例县", ""]
    rows = [header,
            ["A", *base[1:8], "MISSING"],
            ["B", *base[1:8], "C"],  # loop B → C → B
            ["C", *base[1:8], "B"],
            ["D", *base[1:8], "D"],  # own supervisor
            ["E", *base[1:4], "处级", *base[5:8], ""],  # bad level
            ["F", *base[1:8], "E"]]  # refers to an invalid row
    report = await run(sessionmaker, "cadres", write_csv(tmp_path / "c.csv", rows), skip_invalid=True)
    got = {(e.row, e.column): e.reason for e in report.errors}
    assert got[(2, "上级编号")].startswith("unknown 上级编号 'MISSING'")
    assert "loop of supervisors" in got[(3, "上级编号")] and "loop" in got[(4, "上级编号")]
    assert got[(5, "上级编号")] == "a cadre cannot be their own supervisor"
    assert got[(6, "级别")].startswith("unknown 级别 '处级'")
    assert got[(7, "上级编号")] == "上级编号 'E' refers to row 6, which is invalid"
    assert report.created == 0 and report.skipped == 6


async def test_loop_through_the_database_is_rejected(sessionmaker, tmp_path):
    header = ["干部编号", "姓名", "单位", "职务", "级别", "联系电话", "市州", "县市区", "上级编号"]
    row = ["", "某", "", "", "县", "", "白山市", "示例县", ""]
    await run(sessionmaker, "cadres", write_csv(tmp_path / "c1.csv", [header, ["A", *row[1:]], ["B", *row[1:8], "A"]]))
    report = await run(sessionmaker, "cadres", write_csv(tmp_path / "c2.csv", [[*header[:8], "上级编号"],
                                                                              ["A", *row[1:8], "B"]]))
    assert [(e.row, e.column) for e in report.errors] == [(2, "上级编号")]
    assert "A → B → A" in report.errors[0].reason


async def test_every_kind_rejects_a_wrong_kind_file(sessionmaker, tmp_path):
    for kind in ORDER:
        other = ORDER[(ORDER.index(kind) + 1) % 4]
        with pytest.raises(ImportFileError, match=f"wrong headers for {kind}|no {kind} header row"):
            await run(sessionmaker, kind, example(other))


async def test_xlsx_number_cells_for_ids_and_row_numbers_after_a_title(sessionmaker, base, tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["建档立卡贫困户信息表"])
    ws.append(HH_HEADER)
    row = read_csv_rows(example("households"))[1]
    row[0] = "NEW1"
    row[2] = 220699196803150014.0  # an ID typed as a number: digits are lost
    ws.append(row)
    path = tmp_path / "h.xlsx"
    wb.save(path)
    report = await run(sessionmaker, "households", path)
    assert errs(report) == [("h.xlsx", 3, "身份证号")]
    assert "format the column as text" in report.errors[0].reason
    await assert_unchanged(sessionmaker, base)


async def test_progress_bar_goes_to_stderr(sessionmaker, tmp_path, monkeypatch):
    import io
    import sys

    buf = io.StringIO()
    monkeypatch.setattr(sys, "stderr", buf)
    report = await run(sessionmaker, "households", example("households"), progress=True)
    assert report.created == 8
    assert "reading households.csv" in buf.getvalue() and "writing households" in buf.getvalue()


async def test_skip_invalid_with_a_row_pointing_into_a_loop(sessionmaker, tmp_path):
    header = ["干部编号", "姓名", "单位", "职务", "级别", "联系电话", "市州", "县市区", "上级编号"]
    row = ["", "某", "", "", "县", "", "白山市", "示例县"]
    rows = [header, ["A", *row[1:], "B"], ["B", *row[1:], "C"], ["C", *row[1:], "B"], ["D", *row[1:], ""]]
    report = await run(sessionmaker, "cadres", write_csv(tmp_path / "c.csv", rows), skip_invalid=True)
    assert sorted(e.row for e in report.errors) == [2, 3, 4]
    assert report.created == 1 and report.skipped == 3 and report.committed
