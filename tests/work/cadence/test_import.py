"""The importer keeps the cadence columns right, and reads the 联系点 column of cadres."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.work.rules import VisitRules
from storage.enums import VisitKind
from storage.importer import import_file
from storage.models import AppMeta, Cadre, Household, Pairing, Region, Visit
from storage.repositories.cadence import RULES_META_KEY, rules_record
from tests.importer.helpers import ORDER, example, read_csv_rows, write_csv

KEY = "test-id-hash-key-0123456789"


async def _import_examples(sessionmaker, kinds=ORDER) -> None:
    for kind in kinds:
        report = await import_file(sessionmaker, kind, example(kind), id_hash_key=KEY)
        assert report.ok and report.committed, report.errors


async def _ids(s, model, column, values) -> dict[str, int]:
    rows = await s.execute(select(column, model.id).where(column.in_(values)))
    return dict(rows.all())


async def test_imported_pairings_get_their_due_dates(sessionmaker) -> None:
    await _import_examples(sessionmaker)
    async with sessionmaker() as s:
        pairings = (await s.scalars(select(Pairing))).all()
        for p in pairings:
            if p.end_date is None:
                assert p.last_visit_on is None
                assert p.next_visit_due == p.start_date + timedelta(days=7)
            else:
                assert p.next_visit_due is None


async def test_reassignment_closes_and_counts_earlier_visits(sessionmaker, tmp_path) -> None:
    await _import_examples(sessionmaker, ("households", "cadres", "pairings"))
    async with sessionmaker() as s:
        hh = (await _ids(s, Household, Household.reg_no, ["EX2206990002"]))["EX2206990002"]
        cadres = await _ids(s, Cadre, Cadre.code, ["EXGB002", "EXGB003"])
        old = await s.scalar(select(Pairing).where(Pairing.household_id == hh, Pairing.end_date.is_(None)))
        assert old.cadre_id == cadres["EXGB003"] and old.next_visit_due == date(2025, 1, 13)
        s.add_all([
            Visit(cadre_id=cadres["EXGB002"], household_id=hh, visited_on=date(2026, 5, 1), kind=VisitKind.HOME),
            Visit(cadre_id=cadres["EXGB002"], household_id=hh, visited_on=date(2026, 3, 20), kind=VisitKind.HOME),
            Visit(cadre_id=cadres["EXGB003"], household_id=hh, visited_on=date(2026, 6, 1), kind=VisitKind.HOME),
        ])
        await s.commit()
        old_id = old.id
    path = write_csv(tmp_path / "p.csv", [["干部编号", "户编号", "开始日期"], ["EXGB002", "EX2206990002", "2026-04-01"]])
    # a dry run computes nothing for good
    report = await import_file(sessionmaker, "pairings", path, dry_run=True)
    assert report.ok and not report.committed
    async with sessionmaker() as s:
        assert (await s.get(Pairing, old_id)).next_visit_due == date(2025, 1, 13)
    report = await import_file(sessionmaker, "pairings", path)
    assert report.created == 1 and report.closed == 1
    async with sessionmaker() as s:
        closed = await s.get(Pairing, old_id)
        assert closed.end_date == date(2026, 4, 1) and closed.next_visit_due is None
        new = await s.scalar(select(Pairing).where(Pairing.household_id == hh, Pairing.end_date.is_(None)))
        # the new cadre's visit since the start counts, the earlier one and the old cadre's do not
        assert new.last_visit_on == date(2026, 5, 1) and new.next_visit_due == date(2026, 5, 31)


async def test_rules_of_the_import(sessionmaker, tmp_path) -> None:
    await _import_examples(sessionmaker, ("households", "cadres"))
    rows = [["干部编号", "户编号", "开始日期"], ["EXGB002", "EX2206990001", "2026-04-01"]]
    await import_file(sessionmaker, "pairings", write_csv(tmp_path / "a.csv", rows),
                      visit_rules=VisitRules(first_contact_days=2))
    # no explicit rules: those the bot applied last (app_meta), not the shipped defaults
    async with sessionmaker() as s:
        s.add(AppMeta(key=RULES_META_KEY, value=rules_record(VisitRules(first_contact_days=4))))
        await s.commit()
    rows = [["干部编号", "户编号", "开始日期"], ["EXGB002", "EX2206990002", "2026-04-01"]]
    await import_file(sessionmaker, "pairings", write_csv(tmp_path / "b.csv", rows))
    async with sessionmaker() as s:
        dues = dict((await s.execute(
            select(Household.reg_no, Pairing.next_visit_due).join(Pairing, Pairing.household_id == Household.id)
        )).all())
    assert dues == {"EX2206990001": date(2026, 4, 3), "EX2206990002": date(2026, 4, 5)}


# ------------------------------------------------------------------ 联系点


async def _leader_village(s, code: str) -> str | None:
    cadre = await s.scalar(select(Cadre).where(Cadre.code == code))
    if cadre.leader_village_id is None:
        return None
    return (await s.get(Region, cadre.leader_village_id)).path


async def test_examples_set_leader_villages(sessionmaker) -> None:
    await _import_examples(sessionmaker, ("households", "cadres"))
    async with sessionmaker() as s:
        assert await _leader_village(s, "EXGB001") == "吉林省/白山市/示例县/示例镇/示例一村"
        assert await _leader_village(s, "EXGB006") == "吉林省/白山市/示例县/样板乡/样板村"
        assert await _leader_village(s, "EXGB002") is None


def _cadres_with(tmp_path, name: str, cells: list[str], header: str = "联系点"):
    rows = read_csv_rows(example("cadres"))
    head = [*rows[0][:-1], header]
    body = [[*row[:-1], cells[i] if i < len(cells) else ""] for i, row in enumerate(rows[1:])]
    return write_csv(tmp_path / name, [head, *body])


async def test_bad_leader_villages_are_row_errors(sessionmaker, tmp_path) -> None:
    await _import_examples(sessionmaker, ("households",))
    path = _cadres_with(tmp_path, "c.csv", [
        "白山市/示例县",  # too short
        "白山市/示例县/示例镇/没有这个村",  # unknown
        "白山市/示例县/示例镇",  # a township, not a village
        "白山市/示例县/示例镇/示例一村/一组",  # too deep
    ])
    report = await import_file(sessionmaker, "cadres", path)
    assert not report.committed
    reasons = {e.row: e.reason for e in report.errors if e.column == "联系点"}
    assert sorted(reasons) == [2, 3, 4, 5]
    assert "expected a village path" in reasons[2] and "(2 parts given)" in reasons[2]
    assert reasons[3].startswith("unknown village '白山市/示例县/示例镇/没有这个村'")
    assert "expected a village path" in reasons[4] and "(3 parts given)" in reasons[4]
    assert "(5 parts given)" in reasons[5]
    # rows whose 上级编号 points at a bad row (EXGB001) fail too, as for any bad row
    assert {e.row for e in report.errors if e.column == "上级编号"} == {6, 7}
    async with sessionmaker() as s:
        assert (await s.scalars(select(Cadre))).all() == []  # nothing written
    # with --skip-invalid the other rows go in
    report = await import_file(sessionmaker, "cadres", path, skip_invalid=True)
    assert report.committed and report.skipped == 6 and report.created == 0


async def test_leader_village_forms_update_and_clear(sessionmaker, tmp_path) -> None:
    await _import_examples(sessionmaker, ("households",))
    path = _cadres_with(tmp_path, "c.csv", ["吉林省/白山/示例县/示例镇/示例二村", "", ""], header="leader_village")
    assert (await import_file(sessionmaker, "cadres", path)).ok
    async with sessionmaker() as s:
        assert await _leader_village(s, "EXGB001") == "吉林省/白山市/示例县/示例镇/示例二村"
    # a file without the column keeps it
    rows = [row[:-1] for row in read_csv_rows(example("cadres"))]
    report = await import_file(sessionmaker, "cadres", write_csv(tmp_path / "no.csv", rows))
    assert report.unchanged == report.rows
    # the shipped file changes it, a re-import is unchanged, an empty cell clears it
    report = await import_file(sessionmaker, "cadres", example("cadres"))
    assert report.updated == 2  # EXGB001 moved to 一村, EXGB006 got 样板村
    report = await import_file(sessionmaker, "cadres", example("cadres"))
    assert report.unchanged == report.rows
    report = await import_file(sessionmaker, "cadres", _cadres_with(tmp_path, "clear.csv", []))
    assert report.updated == 2
    async with sessionmaker() as s:
        assert await _leader_village(s, "EXGB001") is None and await _leader_village(s, "EXGB006") is None
