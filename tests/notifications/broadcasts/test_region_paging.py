"""The /broadcast region picker pages a region's children 20 at a time (issue #5 part 5):
a county with 46 towns, every town on exactly one page, forged page numbers clamped, forged
regions outside the admin's scope refused; on SQLite and PostgreSQL through the emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from notifications import broadcasts as bc
from storage.models import Broadcast, Region
from storage.repositories.regions import RegionRepository
from tests.notifications.broadcasts.test_chat import alert, one, press
from tests.policy_chat.helpers import buttons, labels, last_bot_message, rows
from tests.work.people import ADMIN_USER, COUNTY, OTHER_COUNTY

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TOWNS = [f"镇{i:02d}" for i in range(1, 46)]  # + 示范镇 = 46 children of the county
OUT_OF_SCOPE = "这个地区不在您的管辖范围内。"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bc, "clock", lambda: NOW)


@pytest.fixture
async def many_towns(chat_people, sessionmaker) -> dict[str, int]:
    async with sessionmaker() as session:
        regions = RegionRepository(session)
        for town in TOWNS:
            await regions.ensure_chain([*COUNTY, town])
        await session.commit()
        found = await session.execute(select(Region.path, Region.id))
        return dict(found.all())


def towns_on(message) -> list[str]:
    return [label for label in labels(message) if label == "示范镇" or label.startswith("镇")]


async def forged(tg, message_id: int, data: str):
    pressed = await tg.press(ADMIN_USER, message_id, data, forged=True)
    [event] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"])
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert not answer["answer"].get("show_alert")
    return event


async def not_modified(tg) -> list:
    return [c for c in await tg.calls("editMessageText") if "not modified" in (c.get("description") or "")]


async def test_region_picker_pages(tg, many_towns, sessionmaker) -> None:
    county_id = many_towns["/".join(COUNTY)]
    await one(tg, ADMIN_USER, "/broadcast")
    await one(tg, ADMIN_USER, "分页测试")
    await press(tg, ADMIN_USER, "跳过")
    await press(tg, ADMIN_USER, "下一步")
    [first] = await press(tg, ADMIN_USER, "帮扶干部")
    assert "下级地区第 1/3 页" in first["text"]
    page_1 = towns_on(first)
    assert page_1 == ["示范镇", *TOWNS[:19]]
    assert labels(first)[-3:] == ["下一页", "就选这里", "取消"] and "上一页" not in labels(first)
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(first))

    [second] = await press(tg, ADMIN_USER, "下一页")
    assert second["event"] == "edit" and second["message_id"] == first["message_id"]
    assert "下级地区第 2/3 页" in second["text"] and towns_on(second) == TOWNS[19:39]
    assert labels(second)[-4:] == ["上一页", "下一页", "就选这里", "取消"]
    [third] = await press(tg, ADMIN_USER, "下一页")
    assert "下级地区第 3/3 页" in third["text"] and towns_on(third) == TOWNS[39:]
    assert "下一页" not in labels(third)
    seen = page_1 + towns_on(second) + towns_on(third)
    assert sorted(seen) == sorted(["示范镇", *TOWNS]) and len(seen) == len(set(seen)) == 46

    # forged page numbers are clamped to the first and the last page
    before = await forged(tg, first["message_id"], f"bn:{county_id}:-7")
    assert "下级地区第 1/3 页" in before["text"] and towns_on(before) == page_1
    beyond = await forged(tg, first["message_id"], f"bn:{county_id}:99")
    assert "下级地区第 3/3 页" in beyond["text"] and towns_on(beyond) == TOWNS[39:]
    # the same page again changes nothing: the edit is refused as not modified, no new message
    refused = len(await not_modified(tg))
    again = await tg.press(ADMIN_USER, first["message_id"], f"bn:{county_id}:2", forged=True)
    assert not (await tg.callback_answer(again["callback_query_id"]))["answer"].get("show_alert")
    async with asyncio.timeout(10):  # wait for the bot's refused edit (not a timed assertion)
        while True:
            if len(await not_modified(tg)) > refused:
                break
            await asyncio.sleep(0.05)
    assert (await last_bot_message(tg, ADMIN_USER))["message_id"] == first["message_id"]
    before = await forged(tg, first["message_id"], f"bn:{county_id}:-7")
    assert "下级地区第 1/3 页" in before["text"] and towns_on(before) == page_1
    # forged regions outside the scope (another county, the province, none) are refused
    for data in (f"bn:{many_towns['/'.join(OTHER_COUNTY)]}:0", f"bn:{many_towns['吉林省']}:1", "bn:999999:0"):
        assert await alert(tg, ADMIN_USER, first["message_id"], data) == OUT_OF_SCOPE
    for data in (f"bg:in:{many_towns['/'.join(OTHER_COUNTY)]}", "bg:up:0"):
        assert await alert(tg, ADMIN_USER, first["message_id"], data) == OUT_OF_SCOPE

    # into a town of page 2, up again (page 1), then page 2 and choose the county
    await press(tg, ADMIN_USER, "下一页")
    [town] = await press(tg, ADMIN_USER, "镇25")
    assert "镇25" in town["text"] and "页" not in town["text"]
    assert labels(town) == ["上一级", "就选这里", "取消"]  # a town without villages: no paging
    [up] = await press(tg, ADMIN_USER, "上一级")
    assert "下级地区第 1/3 页" in up["text"]
    [_shown, preview] = await press(tg, ADMIN_USER, "就选这里", replies=2)
    assert "接收人数：3" in preview["text"]  # the county's three bound cadres
    await press(tg, ADMIN_USER, "立即发送")
    await press(tg, ADMIN_USER, "确认发送")
    [broadcast] = await rows(sessionmaker, Broadcast)
    assert broadcast.audience["region_path"] == "/".join(COUNTY)
    # paging after the region step is over: stale
    assert await alert(tg, ADMIN_USER, first["message_id"], f"bn:{county_id}:1") == (
        "这个按钮已失效。发送 /broadcast 重新开始。")


async def test_region_page_service(people, session) -> None:
    regions = RegionRepository(session)
    for town in TOWNS:
        await regions.ensure_chain([*COUNTY, town])
    await session.commit()
    county = await regions.by_path("/".join(COUNTY))
    pages = [await bc.region_page(session, county.id, n) for n in range(3)]
    assert [(p.page, p.pages, len(p.children)) for p in pages] == [(0, 3, 20), (1, 3, 20), (2, 3, 6)]
    assert (await bc.region_page(session, county.id, 50)).page == 2
    assert (await bc.region_page(session, county.id, -1)).page == 0
    empty = await bc.region_page(session, (await regions.by_path("/".join([*COUNTY, "镇01"]))).id, 3)
    assert (empty.page, empty.pages, empty.children) == (0, 1, [])
    assert bc.clamp_page(5, 0, 20) == (0, 1) and bc.clamp_page(1, 21, 20) == (1, 2) and bc.clamp_page(2, 40, 20) == (1, 2)
