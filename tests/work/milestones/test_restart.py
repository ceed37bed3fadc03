"""A /milestone dialog survives a bot restart: its state (JSON only) lives in SQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from storage.enums import MilestoneCategory
from storage.models import Milestone
from tests.work.milestones.flow import NOW, photo, press, say, text_of
from tests.work.people import CADRE_USER

pytestmark = pytest.mark.usefixtures("frozen_clock")


async def test_done_dialog_survives_a_restart(tg, chat_people, sessionmaker, restart_bot) -> None:
    async with sessionmaker() as s:
        s.add(Milestone(household_id=chat_people.h1, category=MilestoneCategory.HOUSING, title="改造危房",
                        due_date=date(2026, 12, 1)))
        await s.commit()
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    await press(tg, CADRE_USER, "张大山")
    await press(tg, CADRE_USER, "改造危房")
    await photo(tg, CADRE_USER, caption="新房照片")

    await restart_bot()
    reply = await say(tg, CADRE_USER, "已入住")
    assert text_of(reply).startswith("已收到文字说明和照片。")
    summary = await press(tg, CADRE_USER, "完成")
    assert "说明：新房照片\n已入住" in text_of(summary)
    await press(tg, CADRE_USER, "确认完成")
    async with sessionmaker() as s:
        [row] = (await s.scalars(select(Milestone))).all()
    assert row.completed_at == NOW and row.evidence_text == "新房照片\n已入住" and row.evidence_photo_file_id
