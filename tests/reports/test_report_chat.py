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

from bot.reports.render import ReportCB
from bot.work.rules import local_today
from storage.enums import HouseholdStatus, MilestoneCategory
from storage.models import Household, Milestone, Pairing, Region
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


async def test_export_workbook_matches_the_database(app, tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await _overdue(sessionmaker, chat_people)
    [event] = await tg.ask(ADMIN_USER, "/export")
    document = event.get("document")
    assert document and document["file_name"].endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(await _download(app, document["file_id"])), read_only=True)
    summary = workbook.worksheets[0]
    rows = list(summary.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[0] == "地区" and "户数" in header and "逾期走访" in header
    total = body[-1]
    async with sessionmaker() as s:
        county = await RegionRepository(s).by_path("/".join(COUNTY))
        households = await s.scalar(
            select(func.count()).select_from(Household).join(Region, Region.id == Household.village_id)
            .where(Region.path.like(county.path + "/%")))
        overdue = await s.scalar(
            select(func.count()).select_from(Pairing)
            .where(Pairing.end_date.is_(None), Pairing.next_visit_due < _today()))
    assert total[header.index("户数")] == households == 5
    assert total[header.index("逾期走访")] == overdue >= 1
    assert total[header.index("逾期事项")] == 1
    assert total[header.index("已脱贫")] == 1

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
