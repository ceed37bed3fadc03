"""Cell parsers and header matching (no database)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from storage.enums import CadreLevel, HouseholdStatus, MilestoneCategory, PovertyCause, SupportMeasure
from storage.importer.columns import HOUSEHOLDS, PAIRINGS, normalize_header
from storage.importer.parsing import (
    CellValueError,
    RowParser,
    find_header,
    map_headers,
    parse_category,
    parse_causes,
    parse_code,
    parse_count,
    parse_date,
    parse_done,
    parse_grade,
    parse_id_number,
    parse_income,
    parse_level,
    parse_measure,
    parse_phone,
    parse_status,
    parse_yes_no,
)
from storage.importer.readers import ImportFileError


@pytest.mark.parametrize(
    "raw",
    ["2026-03-01", "2026/3/1", "2026.3.1", "2026年3月1日", " 2026-3-1 ", datetime(2026, 3, 1), date(2026, 3, 1),
     "2026-03-01 00:00:00", 46082],
)
def test_dates(raw):
    assert parse_date(raw) == date(2026, 3, 1)


@pytest.mark.parametrize("raw", ["2026-02-30", "2026/13/1", "2026.0.1", "1/3/2026", "tomorrow", "2026-03", "20260301",
                                 "1800-01-01"])
def test_bad_dates(raw):
    with pytest.raises(CellValueError):
        parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3560.5", "3560.50"), ("3,560.50元", "3560.50"), ("12,345元", "12345.00"), ("0", "0.00"), (4120, "4120.00"),
     (3980.2, "3980.20"), ("1，234.5", "1234.50"), ("¥800", "800.00")],
)
def test_income(raw, expected):
    assert parse_income(raw) == Decimal(expected)


@pytest.mark.parametrize("raw", ["-1", "3.555", "12,34", "abc", "1.2.3", True])
def test_bad_income(raw):
    with pytest.raises(CellValueError):
        parse_income(raw)


def test_counts():
    assert parse_count(1)("3") == 3 and parse_count(0)(0) == 0 and parse_count(1)(4.0) == 4
    for raw in ("0", "-2", "2.5", "x", 1.5):
        with pytest.raises(CellValueError):
            parse_count(1)(raw)


def test_causes_separators_and_english():
    expected = PovertyCause.ILLNESS | PovertyCause.LACK_FUNDS
    for raw in ("因病、缺资金", "因病,缺资金", "因病，缺资金", " 因病 、 缺资金 ", "illness, lack_funds", "因病、ILLNESS、缺资金"):
        assert parse_causes(raw) == expected
    with pytest.raises(CellValueError) as exc:
        parse_causes("因病、没钱")
    assert "unknown 致贫原因 '没钱'" in str(exc.value) and "缺资金" in str(exc.value) and "lack_funds" in str(exc.value)


def test_labels():
    assert parse_measure("社会保障兜底") is SupportMeasure.SOCIAL_SECURITY
    assert parse_measure("relocation") is SupportMeasure.RELOCATION
    assert parse_status("已脱贫") is HouseholdStatus.LIFTED and parse_status("Returned") is HouseholdStatus.RETURNED
    assert parse_level("县") is CadreLevel.COUNTY and parse_level("乡级") is CadreLevel.TOWNSHIP
    assert parse_level("village") is CadreLevel.VILLAGE
    assert parse_category("危房改造") is MilestoneCategory.HOUSING
    assert parse_category("drinking_water") is MilestoneCategory.DRINKING_WATER
    with pytest.raises(CellValueError) as exc:
        parse_status("脱贫了")
    assert "expected one of 未脱贫, 已脱贫, 返贫 (or not_lifted, lifted, returned)" in str(exc.value)
    with pytest.raises(CellValueError):
        parse_level("处级")


def test_small_enums():
    assert parse_grade("c").value == "C" and parse_grade("D级").value == "D"
    assert parse_yes_no("是") is True and parse_yes_no("否") is False and parse_yes_no("no") is False
    assert parse_done("已完成") is True and parse_done("未完成") is False
    for fn, raw in ((parse_grade, "E"), (parse_yes_no, "也许"), (parse_done, "进行中")):
        with pytest.raises(CellValueError):
            fn(raw)


def test_codes_ids_phones():
    assert parse_code()(2206990001) == "2206990001"
    assert parse_code()(2206990001.0) == "2206990001"
    assert parse_code()("'00123") == "00123"
    with pytest.raises(CellValueError):
        parse_code()("A 1")
    with pytest.raises(CellValueError) as exc:
        parse_id_number(2.2069919680315e17)
    assert "format the column as text" in str(exc.value)
    assert parse_id_number("22069919731028019x") == "22069919731028019X"
    assert parse_phone("139 0000 0001") == "13900000001"
    assert parse_phone("0431-88881234") == "0431-88881234"
    with pytest.raises(CellValueError) as exc:
        parse_phone("call me")
    assert "call me" not in str(exc.value)


def test_header_normalization_and_aliases():
    assert normalize_header("县(市、区)") == normalize_header("县市区") == normalize_header("县（市区）")
    assert normalize_header(" Reg-No ") == "reg_no"
    header = map_headers(PAIRINGS, ["cadre_code", "户编号 ", "开始日期*", "序号"], 1, "p.csv")
    assert header.names == {"cadre_code": "cadre_code", "reg_no": "户编号", "start_date": "开始日期*"}


def test_header_errors():
    with pytest.raises(ImportFileError) as exc:
        map_headers(PAIRINGS, ["干部编号", "户号", "开始日期", "备注"], 1, "p.csv")
    msg = str(exc.value)
    assert "missing required columns 户编号" in msg and "unknown headers 户号, 备注" in msg and "\n" not in msg
    with pytest.raises(ImportFileError) as exc:
        map_headers(PAIRINGS, ["干部编号", "户编号", "开始日期", "结对日期"], 1, "p.csv")
    assert "duplicate columns 结对日期 (same as 开始日期)" in str(exc.value)
    with pytest.raises(ImportFileError) as exc:  # a data row instead of a header: no values echoed
        map_headers(HOUSEHOLDS, ["H1", "张三", "220699196803150014"], 1, "h.csv")
    assert "no households header row found" in str(exc.value) and "2206991968" not in str(exc.value)
    with pytest.raises(ImportFileError) as exc:
        map_headers(HOUSEHOLDS, ["干部编号", "姓名", "单位", "职务", "级别", "联系电话", "市州", "县市区"], 1, "c.csv")
    assert "this looks like a cadres file" in str(exc.value)


def test_title_rows_above_the_header_are_skipped():
    rows = iter([(1, ["结对帮扶名单", None, None]), (3, ["干部编号", "户编号", "开始日期"]), (4, ["C1", "H1", "2026-1-2"])])
    header = find_header(PAIRINGS, rows, "p.xlsx")
    assert header.header_row == 3
    parsed = RowParser(header).parse(*next(rows))
    assert parsed.errors == [] and parsed.record.start_date == date(2026, 1, 2)


def test_row_parser_collects_every_bad_cell():
    header = map_headers(HOUSEHOLDS, [c.header for c in HOUSEHOLDS.columns], 1, "h.csv")
    cells = ["H1", "", "220699196803150015", "x", "白山市", "示例县", "示例镇", "示例村", "0", "没钱", "发展生产",
             "-5", "1800", "未脱贫", "", "", "Z", "maybe"]
    parsed = RowParser(header).parse(2, cells)
    assert parsed.record is None
    columns = [c for c, _ in parsed.errors]
    assert columns == ["户主姓名", "身份证号", "联系电话", "家庭人口", "致贫原因", "人均纯收入", "收入年度", "危房等级", "享受低保"]
    assert all("220699196803150015" not in reason for _, reason in parsed.errors)
    ok = RowParser(header).parse(3, ["H2", "张某", "", "", "白山市", "示例县", "示例镇", "示例村", "2", "因病", "", "", "",
                                     "未脱贫", "", "", "", ""])
    assert ok.errors == []
    rec = ok.record
    assert rec.students == 0 and rec.dibao is False and rec.measure is None and rec.housing_grade is None
    assert rec.id_number is None and rec.income_per_capita is None


def test_students_cannot_exceed_members():
    header = map_headers(HOUSEHOLDS, [c.header for c in HOUSEHOLDS.columns], 1, "h.csv")
    cells = ["H1", "张某", "", "", "白山市", "县", "镇", "村", "2", "因学", "", "", "", "未脱贫", "3", "0", "", "否"]
    assert RowParser(header).parse(2, cells).errors == [("在校学生数", "more than 家庭人口 (2)")]


def test_docs_describe_every_column_and_label():
    from pathlib import Path

    from storage.enums import CAUSE_LABELS, MEASURE_LABELS, MILESTONE_CATEGORY_LABELS, STATUS_LABELS
    from storage.importer.columns import JILIN_CITIES, SPECS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "import-formats.md").read_text("utf-8")
    for spec in SPECS.values():
        assert f"fupin-bot import {spec.kind}" in doc
        for col in spec.columns:
            assert f"| {col.header}" in doc and f"`{col.alias}`" in doc and col.fmt in doc
            assert all(alt in doc for alt in col.alternatives)
    for labels in (CAUSE_LABELS, MEASURE_LABELS, STATUS_LABELS, MILESTONE_CATEGORY_LABELS):
        for value in labels.values():
            assert all(v in doc for v in (value if isinstance(value, tuple) else (value,)))
    assert all(city in doc for city in JILIN_CITIES)
