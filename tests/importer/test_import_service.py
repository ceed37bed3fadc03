"""import_file on SQLite and PostgreSQL: examples, idempotence, formats, upsert semantics."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from storage.enums import CadreLevel, HouseholdStatus, PovertyCause
from storage.idhash import APP_META_KEY, hash_id_number
from storage.importer import import_file
from storage.models import AppMeta, AuditLog, Cadre, Household, Milestone, Pairing, Region
from storage.repositories.regions import RegionRepository
from tests.importer.helpers import (
    EXAMPLES,
    ORDER,
    counts,
    csv_to_xlsx,
    example,
    read_csv_rows,
    reencode,
    snapshot,
    write_csv,
)

KEY = "test-id-hash-key-0123456789"
EXAMPLE_IDS = [row[2] for row in read_csv_rows(example("households"))[1:] if row[2]]


async def import_examples(sessionmaker, **kwargs):
    return {kind: await import_file(sessionmaker, kind, example(kind), id_hash_key=KEY, **kwargs) for kind in ORDER}


async def test_examples_import_cleanly_in_order(sessionmaker):
    reports = await import_examples(sessionmaker)
    for kind, report in reports.items():
        assert report.ok and report.committed, (kind, report.errors)
        assert report.created == report.rows and report.updated == report.unchanged == report.skipped == 0
    async with sessionmaker() as s:
        assert (await counts(s))["households"] == 8
        hh = await s.scalar(select(Household).where(Household.reg_no == "EX2206990001"))
        assert hh.causes == PovertyCause.ILLNESS | PovertyCause.LACK_FUNDS
        assert hh.income_per_capita == Decimal("3560.50") and hh.status is HouseholdStatus.NOT_LIFTED
        village = await s.get(Region, hh.village_id)
        assert village.path == "吉林省/白山市/示例县/示例镇/示例一村" and village.level == "village"
        # supervisor defined further down in the file
        c5 = await s.scalar(select(Cadre).where(Cadre.code == "EXGB005"))
        c6 = await s.scalar(select(Cadre).where(Cadre.code == "EXGB006"))
        assert c5.supervisor_id == c6.id and c5.level is CadreLevel.TOWNSHIP
        # the household re-assigned within the file keeps its history
        pairings = (await s.scalars(select(Pairing).where(Pairing.household_id == hh.id)
                                    .order_by(Pairing.start_date))).all()
        assert [(p.start_date, p.end_date) for p in pairings] == [
            (date(2025, 1, 6), date(2026, 3, 1)), (date(2026, 3, 1), None)]
        done = (await s.scalars(select(Milestone.title).where(Milestone.completed_at.is_not(None)))).all()
        assert sorted(done) == sorted(["落实雨露计划助学补助", "残疾人两项补贴发放", "参加食用菌种植技术培训"])
        audit = (await s.scalars(select(AuditLog).order_by(AuditLog.id))).all()
        assert [a.action for a in audit] == [f"import.{k}" for k in ORDER]
        assert audit[0].actor == "cli" and audit[0].details["file"] == "households.csv"
        assert audit[0].details["created"] == 8


async def test_reimport_changes_nothing(sessionmaker):
    await import_examples(sessionmaker)
    async with sessionmaker() as s:
        before = await snapshot(s)
    reports = await import_examples(sessionmaker)
    for report in reports.values():
        assert (report.created, report.updated, report.skipped) == (0, 0, 0)
        assert report.unchanged == report.rows and not report.changed
        assert "nothing changed" in report.summary()
    async with sessionmaker() as s:
        after = await snapshot(s)
    assert len(after.pop("audit_log")) == len(before.pop("audit_log")) + 4
    assert after == before  # timestamps included: updated_at did not move


@pytest.mark.parametrize("variant", ["utf-8", "gb18030", "xlsx", "xlsx-text", "shipped-xlsx"])
async def test_encodings_and_xlsx_give_the_same_result(sessionmaker, tmp_path, variant):
    await import_examples(sessionmaker)
    async with sessionmaker() as s:
        before = await snapshot(s)
    for kind in ORDER:
        src = example(kind)
        if variant == "shipped-xlsx":
            if kind != "households":
                continue
            path = EXAMPLES / "households.xlsx"
        elif variant.startswith("xlsx"):
            path = csv_to_xlsx(src, tmp_path / f"{kind}.xlsx", typed=variant == "xlsx")
        else:
            path = reencode(src, tmp_path / f"{kind}.csv", variant)
        report = await import_file(sessionmaker, kind, path, id_hash_key=KEY)
        assert report.ok, report.errors
        assert (report.created, report.updated, report.unchanged) == (0, 0, report.rows), (kind, variant)
    async with sessionmaker() as s:
        after = await snapshot(s)
    after.pop("audit_log"), before.pop("audit_log")
    assert after == before


async def test_gb18030_into_an_empty_database(sessionmaker, tmp_path):
    path = reencode(example("households"), tmp_path / "households.csv", "gb18030")
    assert path.read_bytes()[:3] != b"\xef\xbb\xbf"
    report = await import_file(sessionmaker, "households", path, id_hash_key=KEY)
    assert report.created == 8
    async with sessionmaker() as s:
        names = (await s.scalars(select(Household.head_name).order_by(Household.reg_no))).all()
    assert names[0] == "张示例"


async def test_english_aliases_and_title_row(sessionmaker, tmp_path):
    rows = read_csv_rows(example("households"))
    english = ["reg_no", "head_name", "id_number", "phone", "city", "county", "township", "village", "members",
               "causes", "measure", "income_per_capita", "income_year", "status", "students", "disabled",
               "housing_grade", "dibao"]
    await import_file(sessionmaker, "households", example("households"), id_hash_key=KEY)
    path = write_csv(tmp_path / "h.csv", [english, *rows[1:]])
    report = await import_file(sessionmaker, "households", path, id_hash_key=KEY)
    assert report.unchanged == 8


async def test_id_numbers_are_stored_only_hashed(sessionmaker, tmp_path):
    await import_examples(sessionmaker)
    async with sessionmaker() as s:
        dump = repr(await snapshot(s))
        hh = await s.scalar(select(Household).where(Household.reg_no == "EX2206990007"))
    for clear in EXAMPLE_IDS:
        assert clear not in dump and clear[:14] not in dump
    assert hh.id_last4 == "019X"
    assert hh.id_hash == hash_id_number(KEY, "22069919731028019X")


async def test_without_a_configured_key_one_is_generated_and_reused(sessionmaker):
    first = await import_file(sessionmaker, "households", example("households"))
    again = await import_file(sessionmaker, "households", example("households"))
    assert first.created == 8 and again.unchanged == 8
    async with sessionmaker() as s:
        key = (await s.get(AppMeta, APP_META_KEY)).value
        hh = await s.scalar(select(Household).where(Household.reg_no == "EX2206990001"))
    assert hh.id_hash == hash_id_number(key, "220699196803150014")


async def test_only_real_changes_are_updates(sessionmaker, tmp_path):
    await import_file(sessionmaker, "households", example("households"), id_hash_key=KEY)
    async with sessionmaker() as s:
        before = {h.reg_no: h.updated_at for h in (await s.scalars(select(Household))).all()}
    rows = read_csv_rows(example("households"))
    rows[2][13] = "已脱贫"  # EX2206990002 lifted
    rows[3][11] = "2,890元"  # same amount, other spelling: unchanged
    report = await import_file(sessionmaker, "households", write_csv(tmp_path / "h.csv", rows), id_hash_key=KEY)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 7)
    async with sessionmaker() as s:
        after = {h.reg_no: (h.updated_at, h.status) for h in (await s.scalars(select(Household))).all()}
    assert after["EX2206990002"][1] is HouseholdStatus.LIFTED
    assert after["EX2206990002"][0] > before["EX2206990002"]
    assert all(after[k][0] == before[k] for k in before if k != "EX2206990002")


async def test_absent_optional_column_keeps_stored_values(sessionmaker, tmp_path):
    await import_file(sessionmaker, "households", example("households"), id_hash_key=KEY)
    rows = [[c for i, c in enumerate(r) if i not in (2, 3)] for r in read_csv_rows(example("households"))]
    report = await import_file(sessionmaker, "households", write_csv(tmp_path / "h.csv", rows), id_hash_key=KEY)
    assert report.unchanged == 8
    async with sessionmaker() as s:
        hh = await s.scalar(select(Household).where(Household.reg_no == "EX2206990001"))
    assert hh.id_last4 == "0014" and hh.phone == "13900000001"
    rows = read_csv_rows(example("households"))
    rows[1][2] = ""  # an empty cell in a present column clears the ID
    report = await import_file(sessionmaker, "households", write_csv(tmp_path / "h2.csv", rows), id_hash_key=KEY)
    assert report.updated == 1
    async with sessionmaker() as s:
        hh = await s.scalar(select(Household).where(Household.reg_no == "EX2206990001"))
    assert hh.id_hash is None and hh.id_last4 is None


async def test_pairing_reassignment_closes_the_old_pairing(sessionmaker, tmp_path):
    await import_examples(sessionmaker)
    path = write_csv(tmp_path / "p.csv", [["干部编号", "户编号", "开始日期"], ["EXGB002", "EX2206990002", "2026年5月1日"]])
    report = await import_file(sessionmaker, "pairings", path)
    assert (report.created, report.closed, report.unchanged) == (1, 1, 0)
    assert "1 earlier pairings closed" in report.summary()
    again = await import_file(sessionmaker, "pairings", path)
    assert (again.created, again.closed, again.unchanged) == (0, 0, 1)
    async with sessionmaker() as s:
        hh_id = await s.scalar(select(Household.id).where(Household.reg_no == "EX2206990002"))
        rows = (await s.execute(select(Cadre.code, Pairing.start_date, Pairing.end_date).join(Cadre)
                                .where(Pairing.household_id == hh_id).order_by(Pairing.start_date))).all()
    assert [tuple(r) for r in rows] == [("EXGB003", date(2025, 1, 6), date(2026, 5, 1)),
                                        ("EXGB002", date(2026, 5, 1), None)]


async def test_pairing_with_the_current_cadre_is_unchanged_and_older_ones_are_rejected(sessionmaker, tmp_path):
    await import_examples(sessionmaker)
    async with sessionmaker() as s:
        before = await counts(s)
    path = write_csv(tmp_path / "p.csv", [["干部编号", "户编号", "开始日期"],
                                           ["EXGB003", "EX2206990002", "2025-06-01"],  # same cadre, open
                                           ["EXGB002", "EX2206990004", "2024-12-31"]])  # before the latest
    report = await import_file(sessionmaker, "pairings", path)
    assert not report.committed
    assert [(e.row, e.column) for e in report.errors] == [(3, "开始日期")]
    assert "latest pairing (2025-01-06)" in report.errors[0].reason
    async with sessionmaker() as s:
        assert await counts(s) == before


async def test_milestone_status_changes(sessionmaker, tmp_path):
    await import_examples(sessionmaker)
    header = ["户编号", "事项", "类别", "截止日期", "状态"]
    async with sessionmaker() as s:
        done_at = await s.scalar(select(Milestone.completed_at).where(Milestone.title == "落实雨露计划助学补助"))
    rows = [header,
            ["EX2206990001", "办理大病医疗保险报销", "医疗保障", "2026-06-30", "已完成"],  # completes
            ["EX2206990002", "落实雨露计划助学补助", "教育", "2026/3/31", "已完成"],  # keeps completed_at
            ["EX2206990003", "残疾人两项补贴发放", "低保兜底", "2026-04-30", "未完成"],  # reopens
            ["EX2206990008", "推荐县城务工岗位", "就业", "2026-07-15", "未完成"]]  # new due date
    report = await import_file(sessionmaker, "milestones", write_csv(tmp_path / "m.csv", rows))
    assert (report.created, report.updated, report.unchanged) == (0, 3, 1)
    async with sessionmaker() as s:
        got = {m.title: m for m in (await s.scalars(select(Milestone))).all()}
    assert got["办理大病医疗保险报销"].completed_at is not None
    assert got["落实雨露计划助学补助"].completed_at == done_at
    assert got["残疾人两项补贴发放"].completed_at is None
    assert got["推荐县城务工岗位"].due_date == date(2026, 7, 15)


async def test_existing_fictional_city_is_accepted(sessionmaker, tmp_path):
    async with sessionmaker() as s:
        await RegionRepository(s).ensure_chain(["演示市", "演示县"])
        await s.commit()
    rows = read_csv_rows(example("households"))[:2]
    rows[1][4] = "演示市"
    report = await import_file(sessionmaker, "households", write_csv(tmp_path / "h.csv", rows), id_hash_key=KEY)
    assert report.created == 1


async def test_city_aliases_are_canonicalized(sessionmaker, tmp_path):
    rows = read_csv_rows(example("households"))[:2]
    rows[1][4] = "延边州"
    report = await import_file(sessionmaker, "households", write_csv(tmp_path / "h.csv", rows), id_hash_key=KEY)
    assert report.created == 1
    async with sessionmaker() as s:
        assert await RegionRepository(s).by_path("延边朝鲜族自治州/示例县/示例镇/示例一村") is not None


async def test_session_target_and_dry_run(session, sessionmaker):
    report = await import_file(session, "households", example("households"), id_hash_key=KEY, dry_run=True)
    assert report.created == 8 and not report.committed and "dry run" in report.summary()
    async with sessionmaker() as s:
        assert (await counts(s))["households"] == 0
    report = await import_file(session, "households", example("households"), id_hash_key=KEY)
    assert report.committed
    async with sessionmaker() as s:
        assert (await counts(s))["households"] == 8


async def test_large_file_uses_batched_queries(sessionmaker, engine, tmp_path):
    n = 3000
    header = read_csv_rows(example("households"))[0]
    rows = [header] + [
        [f"BIG{i:06d}", "测试户", "", "", "白山市", "示例县", f"镇{i % 7}", f"村{i % 40}", "3", "因病", "发展生产",
         "3000", "2025", "未脱贫", "0", "0", "", "否"]
        for i in range(n)
    ]
    path = write_csv(tmp_path / "big.csv", rows)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        report = await import_file(sessionmaker, "households", path, id_hash_key=KEY)
        assert report.created == n
        first = len(statements)
        report = await import_file(sessionmaker, "households", path, id_hash_key=KEY)
        assert report.unchanged == n
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    villages = 7 * 40  # distinct (township, village) pairs: the only per-item queries (ensure_chain)
    assert first < 6 * villages + 60, first
    assert len(statements) - first < 30  # lookups are IN queries per 500-row chunk
