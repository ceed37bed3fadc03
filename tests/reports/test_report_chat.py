"""/report and /export through the emulator (SQLite and PostgreSQL): the admin receives the
chart (a PNG that decodes) and the workbook (whose figures equal a direct count in the
database), drills down and back up within the scope; forged regions, other counties, empty
regions and non-admins get clear replies and no data."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select

from bot.i18n import create_i18n
from bot.reports import render
from bot.reports.render import ReportCB
from bot.work.rules import local_today
from storage.enums import CadreLevel, HouseholdStatus, MilestoneCategory, Role
from storage.models import Account, Cadre, Household, Milestone, Pairing, Region
from storage.repositories.regions import RegionRepository
from tests.e2e.conftest import app, emulator, policy, shipped_policy, tg  # noqa: F401
from tests.work.conftest import chat_people, people  # noqa: F401
from tests.work.people import ADMIN_USER, CADRE_USER, COUNTY, OTHER_ADMIN_USER, OTHER_COUNTY


async def _download(app, file_id: str) -> bytes:  # noqa: F811
    file = await app.bot.get_file(file_id)
    buffer = io.BytesIO()
    await app.bot.download_file(file.file_path, buffer)
    return buffer.getvalue()


def _today() -> date:
    return local_today(ZoneInfo("Asia/Shanghai"))  # the bot's day, not the machine's


def _buttons(event) -> dict[str, str]:
    markup = event.get("reply_markup") or {"inline_keyboard": []}
    return {b["text"]: b.get("callback_data", "") for row in markup["inline_keyboard"] for b in row}


async def _overdue(sessionmaker, seeded) -> None:
    """Make the figures non-trivial: H1's visit overdue, H5 lifted, one overdue milestone."""
    async with sessionmaker() as s:
        pairing = await s.get(Pairing, seeded.pairing_h1)
        pairing.next_visit_due = _today() - timedelta(days=5)
        (await s.get(Household, seeded.h5)).status = HouseholdStatus.LIFTED
        s.add(Milestone(household_id=seeded.h2, category=MilestoneCategory.HOUSING, title="危房改造",
                        due_date=_today() - timedelta(days=3)))
        await s.commit()


async def test_admin_gets_the_chart_and_drills_down_and_back(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await _overdue(sessionmaker, chat_people)
    [event] = await tg.ask(ADMIN_USER, "/report")
    assert event.get("photo"), event
    caption = event["caption"]
    assert "示范县" in caption and "户数 5" in caption and "逾期计划事项 1" in caption
    png = await _download(app, event["photo"][-1]["file_id"])
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert image.format == "PNG"
    buttons = _buttons(event)
    assert "示范镇" in buttons and "⬆️ 上一级" not in buttons  # the admin's own region: no way up

    [town] = await tg.ask(ADMIN_USER, "/report 示范镇")  # by name
    assert "示范镇" in town["caption"]
    assert "⬆️ 上一级" in _buttons(town)
    pressed = await tg.press_button(ADMIN_USER, "⬆️ 上一级")
    [back] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"], count=1)
    assert "示范县" in back["caption"]


async def _seed_other_county(sessionmaker) -> None:
    """邻县 gets data too: a lifted household with an overdue visit and an overdue plan item,
    so any figure that forgot the region filter would be off."""
    async with sessionmaker() as s:
        village = await RegionRepository(s).ensure_chain([*OTHER_COUNTY, "邻镇", "邻村"])
        household = Household(reg_no="N0001", head_name="外县户", village_id=village.id,
                              status=HouseholdStatus.LIFTED)
        cadre = Cadre(code="NC01", name="邻县干部", level=CadreLevel.TOWNSHIP, region_id=village.id)
        s.add_all([household, cadre])
        await s.flush()
        s.add_all([
            Pairing(cadre_id=cadre.id, household_id=household.id, start_date=date(2026, 1, 1),
                    next_visit_due=_today() - timedelta(days=10)),
            Milestone(household_id=household.id, category=MilestoneCategory.HOUSING, title="外县事项",
                      due_date=_today() - timedelta(days=10)),
        ])
        await s.commit()


async def _direct_counts(sessionmaker, prefix: str | None) -> dict[str, int]:
    """户数, 逾期走访, 逾期事项 and 已脱贫 counted straight in the database, over the
    households whose village path starts with `prefix` + '/' (None: everywhere)."""

    def where(stmt):
        return stmt if prefix is None else stmt.where(Region.path.like(prefix + "/%"))

    today = _today()
    async with sessionmaker() as s:
        households = select(func.count()).select_from(Household).join(Region, Region.id == Household.village_id)
        return {
            "户数": await s.scalar(where(households)),
            "已脱贫": await s.scalar(where(households.where(Household.status == HouseholdStatus.LIFTED))),
            "逾期走访": await s.scalar(where(
                select(func.count()).select_from(Pairing)
                .join(Household, Household.id == Pairing.household_id)
                .join(Region, Region.id == Household.village_id)
                .where(Pairing.end_date.is_(None), Pairing.next_visit_due < today))),
            "逾期事项": await s.scalar(where(
                select(func.count()).select_from(Milestone)
                .join(Household, Household.id == Milestone.household_id)
                .join(Region, Region.id == Household.village_id)
                .where(Milestone.completed_at.is_(None), Milestone.due_date < today))),
        }


async def test_export_workbook_matches_the_database(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await _overdue(sessionmaker, chat_people)
    await _seed_other_county(sessionmaker)
    [event] = await tg.ask(ADMIN_USER, "/export")
    document = event.get("document")
    assert document and document["file_name"].endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(await _download(app, document["file_id"])), read_only=True)
    summary = workbook.worksheets[0]
    rows = list(summary.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[0] == "地区" and "户数" in header and "逾期走访" in header
    total = body[-1]
    county = await _direct_counts(sessionmaker, "/".join(COUNTY))
    everywhere = await _direct_counts(sessionmaker, None)
    for column, expected in county.items():
        assert total[header.index(column)] == expected, column
        assert everywhere[column] > expected, column  # 邻县 counts too: a missing filter shows
    assert county["逾期走访"] >= 1 and county["逾期事项"] >= 1 and county["已脱贫"] >= 1

    [csv_event] = await tg.ask(ADMIN_USER, "/export csv")
    archive = zipfile.ZipFile(io.BytesIO(await _download(app, csv_event["document"]["file_id"])))
    assert len(archive.namelist()) >= 5
    assert all(archive.read(name).startswith(b"\xef\xbb\xbf") for name in archive.namelist())


async def test_the_report_buttons_export_the_region_shown(app, tg, chat_people) -> None:  # noqa: F811
    await tg.ask(ADMIN_USER, "/report 示范镇")
    pressed = await tg.press_button(ADMIN_USER, "📥 导出 Excel")
    [event] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"], count=1)
    assert "示范镇" in event["document"]["file_name"]


async def test_other_counties_forged_ids_and_non_admins_get_no_data(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    # by name: a region of another county is "not found", as if it did not exist
    [reply] = await tg.ask(ADMIN_USER, "/report 邻县")
    assert "没有找到" in reply["text"]
    [reply] = await tg.ask(ADMIN_USER, "/export 不存在的县")
    assert "没有找到" in reply["text"]
    # a forged button to the other county (and to a region id that does not exist)
    [first] = await tg.ask(ADMIN_USER, "/report")
    async with sessionmaker() as s:
        other = await RegionRepository(s).by_path("/".join(OTHER_COUNTY))
    for region_id in (other.id, 999_999):
        for action in ("show", "xlsx"):
            pressed = await tg.press(ADMIN_USER, first["message_id"],
                                     ReportCB(action=action, region_id=region_id).pack(), forged=True)
            answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
            assert "不在您的管辖范围内" in answer["text"]
    assert not any(m.get("document") for m in await tg.messages(ADMIN_USER))
    # the other county's admin sees their own (empty) county
    [reply] = await tg.ask(OTHER_ADMIN_USER, "/report")
    assert "暂无数据" in reply["text"]
    # a cadre: the generic refusal, for the command and for a button
    [reply] = await tg.ask(CADRE_USER, "/report")
    assert "权限" in reply["text"]
    [reply] = await tg.ask(CADRE_USER, "/export")
    assert "权限" in reply["text"]
    pressed = await tg.press(CADRE_USER, reply["message_id"], ReportCB(action="show", region_id=other.id).pack(),
                             forged=True)
    answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
    assert "管理员" in answer["text"]


async def test_an_empty_township_says_so(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    async with sessionmaker() as s:
        await RegionRepository(s).ensure_chain([*COUNTY, "空镇"])
        await s.commit()
    [reply] = await tg.ask(ADMIN_USER, "/report 空镇")
    assert "暂无数据" in reply["text"] and "空镇" in reply["text"]
    assert "⬆️ 上一级" in _buttons(reply)


# ------------------------------------------------------------------ lookup by name


async def test_lookup_by_path_tail_and_by_pressing_a_region(app, tg, chat_people) -> None:  # noqa: F811
    for typed in ("示范县/示范镇", "示范市/示范县/示范镇", "/示范县/示范镇/"):
        [town] = await tg.ask(ADMIN_USER, f"/report {typed}")
        assert town.get("photo") and "<b>示范镇</b>" not in town["caption"], typed
        assert town["caption"].startswith("示范镇 扶贫工作报表"), typed
    # drilling down by the button, not by typing
    [county] = await tg.ask(ADMIN_USER, "/report")
    pressed = await tg.press_button(ADMIN_USER, "示范镇")
    assert pressed["message_id"] == county["message_id"]
    [town] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"], count=1)
    assert town["caption"].startswith("示范镇 扶贫工作报表")
    assert "⬆️ 上一级" in _buttons(town)


async def test_two_regions_of_one_name_are_ambiguous(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    async with sessionmaker() as s:
        regions = RegionRepository(s)
        await regions.ensure_chain([*COUNTY, "示范镇", "同名村"])
        await regions.ensure_chain([*COUNTY, "东镇", "同名村"])
        await regions.ensure_chain([*OTHER_COUNTY, "邻镇", "同名村"])  # out of scope: not counted
        await s.commit()
    [reply] = await tg.ask(ADMIN_USER, "/report 同名村")
    assert "有 2 个地区叫「同名村」" in reply["text"] and not reply.get("photo")
    [reply] = await tg.ask(ADMIN_USER, "/export 同名村")
    assert "有 2 个地区叫「同名村」" in reply["text"] and not reply.get("document")
    [reply] = await tg.ask(ADMIN_USER, "/report 东镇/同名村")  # the parent makes it one
    assert "<b>同名村</b>" not in reply["text"] and "同名村" in reply["text"] and "暂无数据" in reply["text"]
    [reply] = await tg.ask(OTHER_ADMIN_USER, "/report 同名村")  # the neighbour has one only
    assert "同名村" in reply["text"] and "暂无数据" in reply["text"]


async def test_wildcards_in_a_typed_name_are_literal(people, session) -> None:  # noqa: F811
    regions = RegionRepository(session)
    await regions.ensure_chain([*COUNTY, "示范镇", "甲_村"])
    await regions.ensure_chain([*COUNTY, "示范镇", "甲x村"])
    await regions.ensure_chain([*COUNTY, "示范镇", "乙%村"])
    await session.commit()
    scope = "/".join(COUNTY)
    for typed in ("示范县/%", "示范县/示范_", "示范%", "示范_", "%", "_", "示范镇/%村", "示范镇/__村", "示范镇/甲%"):
        assert await regions.named_in_scope(typed, scope) == [], typed
    [found] = await regions.named_in_scope("示范镇/甲_村", scope)  # not 甲x村 as well
    assert found.name == "甲_村"
    [found] = await regions.named_in_scope("乙%村", scope)
    assert found.name == "乙%村"
    [found] = await regions.named_in_scope("示范镇/乙%村", scope)
    assert found.name == "乙%村"
    [found] = await regions.named_in_scope("示范县/示范镇", scope)
    assert found.name == "示范镇"


async def test_wildcards_through_the_chat(app, tg, chat_people) -> None:  # noqa: F811
    for typed in ("示范县/%", "示范县/示范_", "示范%"):
        [reply] = await tg.ask(ADMIN_USER, f"/report {typed}")
        assert "没有找到" in reply["text"] and not reply.get("photo"), typed


async def test_a_very_long_name_gets_a_clear_reply(app, tg, chat_people) -> None:  # noqa: F811
    # 4,000 characters; escaped, the last two would be several times longer than a message may be
    for command, typed in (("/report", "长" * 4000), ("/export", "示范县/" + "<b>" * 1332), ("/export csv", "&" * 4000)):
        [reply] = await tg.ask(ADMIN_USER, f"{command} {typed}")
        text = reply["text"]
        assert "没有找到" in text and len(text) < 300 and "…" in text, command
        assert not reply.get("document") and not reply.get("photo")


def test_the_echoed_name_is_clipped_then_escaped() -> None:
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        ambiguous = render.ambiguous_region_text("长" * 4000, 2)
        assert len(ambiguous) < 300 and "长" * 63 + "…」" in ambiguous
        assert render.typed_name("<" * 100) == "&lt;" * 63 + "…"  # never a cut-off entity
        assert render.typed_name("a\n b") == "a b"
        assert "「" + "示范" * 32 + "」" in render.region_not_found_text("示范" * 32)  # 64: not clipped


# -------------------------------------------------------------------- buttons


async def test_the_csv_button_sends_the_zip_of_the_region_shown(app, tg, chat_people) -> None:  # noqa: F811
    [report] = await tg.ask(ADMIN_USER, "/report")
    pressed = await tg.press_button(ADMIN_USER, "📄 导出 CSV")
    assert pressed["message_id"] == report["message_id"]
    [event] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"], count=1)
    document = event["document"]
    assert document["file_name"].endswith(".zip") and "示范县" in document["file_name"]
    archive = zipfile.ZipFile(io.BytesIO(await _download(app, document["file_id"])))
    assert len(archive.namelist()) >= 5
    assert "示范县" in event["caption"]


async def test_forged_report_buttons_are_refused(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    [first] = await tg.ask(ADMIN_USER, "/report")
    async with sessionmaker() as s:
        other = await RegionRepository(s).by_path("/".join(OTHER_COUNTY))
    own = chat_people.county
    forged = [
        f"rp:csv:{other.id}",  # the other county's export
        f"rp:zzz:{own}",  # an unknown action on the admin's own region
        f"rp::{own}",
        "rp:show:10000000000",  # beyond a 32-bit id (PostgreSQL would refuse it)
        f"rp:xlsx:{2**31}",
        "rp:show:0",
        "rp:show:-5",
    ]
    before = len(await tg.messages(ADMIN_USER))
    for data in forged:
        pressed = await tg.press(ADMIN_USER, first["message_id"], data, forged=True)
        answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
        assert answer["show_alert"] and "不在您的管辖范围内" in answer["text"], data
    assert len(await tg.messages(ADMIN_USER)) == before  # nothing sent
    # the real buttons still work afterwards
    pressed = await tg.press_button(ADMIN_USER, "示范镇")
    [town] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"], count=1)
    assert town["caption"].startswith("示范镇 扶贫工作报表")


# ------------------------------------------------------------ other admins


PROVINCE_ADMIN_USER = 4210  # admin_region_id NULL: the whole province
KO_ADMIN_USER = 4211  # 示范县, Korean


async def _admin(tg, sessionmaker, user_id: int, region_id: int | None, language: str) -> None:  # noqa: F811
    async with sessionmaker() as s:
        s.add(Account(telegram_user_id=user_id, chat_id=user_id, role=Role.ADMIN, admin_region_id=region_id,
                      language=language))
        await s.commit()
    await tg.add_user(user_id, first_name="管理员", language_code=language)
    await tg.ask(user_id, "/start")


async def test_province_admin_reports_and_exports_the_province(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await _overdue(sessionmaker, chat_people)
    await _seed_other_county(sessionmaker)
    await _admin(tg, sessionmaker, PROVINCE_ADMIN_USER, None, "zh-hans")
    [event] = await tg.ask(PROVINCE_ADMIN_USER, "/report")
    assert event.get("photo") and event["caption"].startswith("吉林省 扶贫工作报表")
    assert "户数 6" in event["caption"]  # both counties
    buttons = _buttons(event)
    assert "示范市" in buttons and "⬆️ 上一级" not in buttons
    [event] = await tg.ask(PROVINCE_ADMIN_USER, "/export")
    document = event["document"]
    assert document["file_name"].endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(await _download(app, document["file_id"])), read_only=True)
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    header, total = rows[0], rows[-1]
    for column, expected in (await _direct_counts(sessionmaker, "吉林省")).items():
        assert total[header.index(column)] == expected, column
    [event] = await tg.ask(PROVINCE_ADMIN_USER, "/report 邻县")  # any county of the province
    assert event.get("photo") and event["caption"].startswith("邻县 扶贫工作报表")


async def test_a_korean_admin_reads_korean(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await _admin(tg, sessionmaker, KO_ADMIN_USER, chat_people.county, "ko")
    [event] = await tg.ask(KO_ADMIN_USER, "/report")
    caption = event["caption"]
    assert caption.startswith("示范县 빈곤 구제 업무 보고서")
    assert "扶贫工作报表" not in caption and "户数" not in caption
    [reply] = await tg.ask(KO_ADMIN_USER, "/report 没有这个地方")
    assert "찾을 수 없습니다" in reply["text"] and "没有找到" not in reply["text"]
    assert "没有这个地方" in reply["text"]
