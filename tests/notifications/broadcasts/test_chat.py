"""/broadcast and /broadcasts through the emulator: compose, audience drill-down, preview,
confirm, rows in the outbox; bad input at each step, forged region callbacks outside the
admin's scope, an empty audience, a test broadcast, scheduling and cancel."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from notifications import broadcasts as bc
from storage.enums import BroadcastState, DeliveryState, NotificationKind
from storage.models import Account, AuditLog, Broadcast, OutboxMessage, Region
from tests.policy_chat.helpers import buttons, labels, rows
from tests.work.people import ADMIN_USER, CADRE_USER, H1_USER, OTHER_COUNTY

pytestmark = pytest.mark.usefixtures("app")

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
ERROR_REPLY = "抱歉，处理您的请求时出错了"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bc, "clock", lambda: NOW)


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def text_of(event: dict[str, Any]) -> str:
    return event.get("text") or event.get("caption") or ""


async def one(tg, user_id: int, text: str) -> dict[str, Any]:
    [reply] = await tg.ask(user_id, text)
    assert ERROR_REPLY not in text_of(reply)
    return reply


async def press(tg, user_id: int, label: str, replies: int = 1) -> list[dict[str, Any]]:
    pressed = await tg.press_button(user_id, label)
    if not replies:
        await tg.callback_answer(pressed["callback_query_id"])
        return []
    events = await tg.wait_replies(user_id, after_seq=pressed["seq"], count=replies)
    assert all(ERROR_REPLY not in text_of(e) for e in events)
    return events


async def alert(tg, user_id: int, message_id: int, data: str) -> str:
    pressed = await tg.press(user_id, message_id, data, forged=True)
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert answer["answer"].get("show_alert") is True, data
    return answer["answer"]["text"]


async def compose(tg, text: str = "明天 <9点> 开会 & 领取补贴") -> None:
    ask = await one(tg, ADMIN_USER, "/broadcast")
    assert "4096" in ask["text"]
    media = await one(tg, ADMIN_USER, text)
    assert labels(media) == ["跳过", "取消"]
    again = await one(tg, ADMIN_USER, "不是图片")  # text where a photo is expected
    assert again["text"].startswith("请发送一张图片或一个文件")
    [langs] = await press(tg, ADMIN_USER, "跳过")
    assert labels(langs) == ["添加韩文文本", "添加英文文本", "下一步", "取消"]
    [ask_ko] = await press(tg, ADMIN_USER, "添加韩文文本")
    assert "韩文" in ask_ko["text"]
    sent = await tg.send_photo(ADMIN_USER, png())  # a photo where text is expected
    [re_ask] = await tg.wait_replies(ADMIN_USER, after_seq=sent["seq"])
    assert re_ask["text"].startswith("请发送文字内容")
    langs = await one(tg, ADMIN_USER, "내일 회의")
    assert labels(langs)[0] == "✓ 添加韩文文本"


async def test_dialog_end_to_end(tg, chat_people, sessionmaker) -> None:
    await compose(tg)
    [role] = await press(tg, ADMIN_USER, "下一步")
    assert labels(role) == ["贫困户", "帮扶干部", "管理员", "全部用户", "取消"]
    [region] = await press(tg, ADMIN_USER, "贫困户")
    assert "示范市/示范县" in region["text"] and labels(region) == ["示范镇", "就选这里", "取消"]
    # forged: a region of another county, and an unknown one
    async with sessionmaker() as s:
        other = await s.scalar(select(Region.id).where(Region.path == "/".join(OTHER_COUNTY)))
        province = await s.scalar(select(Region.id).where(Region.path == "吉林省"))
    for data in (f"bg:in:{other}", f"bg:in:{province}", "bg:in:999999", "bg:up:0"):
        assert await alert(tg, ADMIN_USER, region["message_id"], data) == "这个地区不在您的管辖范围内。"
    [edited] = await press(tg, ADMIN_USER, "示范镇")
    assert edited["event"] == "edit" and "示范镇" in edited["text"]
    assert labels(edited) == ["一村", "二村", "上一级", "就选这里", "取消"]
    [filters] = await press(tg, ADMIN_USER, "就选这里")
    assert "筛选" in filters["text"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(filters))
    [toggled] = await press(tg, ADMIN_USER, "因病")
    assert "✓ 因病" in labels(toggled)
    [toggled] = await press(tg, ADMIN_USER, "✓ 因病")  # off again
    assert "因病" in labels(toggled)
    assert await alert(tg, ADMIN_USER, filters["message_id"], "bf:c:3") == "这个按钮已失效。发送 /broadcast 重新开始。"
    shown, preview = await press(tg, ADMIN_USER, "完成", replies=2)
    assert shown["text"] == "明天 <9点> 开会 & 领取补贴"  # escaped on the way, shown literally
    assert "接收人数：4" in preview["text"] and "另有文本：韩文" in preview["text"]
    assert labels(preview)[:4] == ["立即发送", "今天20:00", "明天08:00", "明天09:00"]
    bad = await one(tg, ADMIN_USER, "下周")
    assert bad["text"].startswith("无法识别这个时间")
    past = await one(tg, ADMIN_USER, "2026-11-30 09:00")
    assert past["text"] == "这个时间已经过去了，请选择以后的时间。"
    [confirm] = await press(tg, ADMIN_USER, "立即发送")
    assert confirm["text"] == "确认立即发送给 4 人？" and labels(confirm)[0] == "确认发送"
    [created] = await press(tg, ADMIN_USER, "确认发送")
    [broadcast] = await rows(sessionmaker, Broadcast)
    assert created["text"].startswith(f"广播 #{broadcast.id} 已开始发送，接收人 4 人。")
    assert broadcast.state is BroadcastState.SENDING and broadcast.recipients == 4
    assert broadcast.texts == {"zh_Hans": "明天 &lt;9点&gt; 开会 &amp; 领取补贴", "ko": "내일 회의"}
    assert broadcast.audience["region_path"] == "吉林省/示范市/示范县/示范镇"
    outbox = await rows(sessionmaker, OutboxMessage)
    assert len(outbox) == 4 and {r.kind for r in outbox} == {NotificationKind.BROADCAST}
    assert {r.key for r in outbox} == {f"broadcast:{r.account_id}:broadcast-{broadcast.id}" for r in outbox}
    [audit] = await rows(sessionmaker, AuditLog, AuditLog.action == "broadcast.create")
    assert audit.actor.startswith("account:") and audit.object_id == str(broadcast.id)
    # a second press of 确认发送 on the old message: the dialog is over
    assert await alert(tg, ADMIN_USER, confirm["message_id"], "bs:confirm") == "这个按钮已失效。发送 /broadcast 重新开始。"
    assert len(await rows(sessionmaker, Broadcast)) == 1

    # /broadcasts shows it with progress; cancel it
    listing = await one(tg, ADMIN_USER, "/broadcasts")
    assert f"#{broadcast.id} 发送中" in listing["text"] and "待发 4 · 已发 0" in listing["text"]
    assert labels(listing) == [f"取消广播 #{broadcast.id}"]
    other = await one(tg, 4202, "/broadcasts")  # the other county's admin sees none of it
    assert other["text"] == "您的管辖范围内还没有广播。"
    assert await alert(tg, 4202, other["message_id"], f"bl:cancel:{broadcast.id}") == (
        "这条广播已经结束或不在您的管辖范围内，无法取消。")
    household = await one(tg, H1_USER, "/broadcasts")
    assert household["text"] == "/broadcast 和 /broadcasts 只供管理员使用。"
    [after] = await press(tg, ADMIN_USER, f"取消广播 #{broadcast.id}")
    assert "已取消" in after["text"] and "已取消 4" in after["text"]
    outbox = await rows(sessionmaker, OutboxMessage)
    assert {r.state for r in outbox} == {DeliveryState.CANCELLED}
    assert len(await rows(sessionmaker, AuditLog, AuditLog.action == "broadcast.cancel")) == 1


async def test_bad_input_empty_audience_test_and_schedule(tg, chat_people, sessionmaker) -> None:
    non_admin = await one(tg, CADRE_USER, "/broadcast")
    assert non_admin["text"] == "/broadcast 和 /broadcasts 只供管理员使用。"
    # (Telegram itself refuses chat texts over 4096 characters: the CLI test covers that limit)
    await one(tg, ADMIN_USER, "/broadcast")
    cancelled = await one(tg, ADMIN_USER, "/cancel")
    assert cancelled["text"] == "已取消，没有发送广播。"
    # a caption over 1024 characters with a photo is refused
    await one(tg, ADMIN_USER, "/broadcast")
    await one(tg, ADMIN_USER, "字" * 1500)
    sent = await tg.send_photo(ADMIN_USER, png())
    [refused] = await tg.wait_replies(ADMIN_USER, after_seq=sent["seq"])
    assert "1024" in refused["text"] and labels(refused) == ["跳过", "取消"]
    # a short text with a photo, then a Korean text too long for a caption
    await one(tg, ADMIN_USER, "/broadcast")
    await one(tg, ADMIN_USER, "短通知")
    sent = await tg.send_photo(ADMIN_USER, png())
    await tg.wait_replies(ADMIN_USER, after_seq=sent["seq"])
    await press(tg, ADMIN_USER, "添加韩文文本")
    too_long = await one(tg, ADMIN_USER, "가" * 1025)
    assert too_long["text"] == "文字太长：1025 字，最多 1024 字。请缩短后重新发送。"

    # empty audience: households of the county that have returned to poverty
    await one(tg, ADMIN_USER, "/broadcast")
    await one(tg, ADMIN_USER, "返贫户请注意")
    sent = await tg.send_photo(ADMIN_USER, png())
    [langs] = await tg.wait_replies(ADMIN_USER, after_seq=sent["seq"])
    assert labels(langs)[-2:] == ["下一步", "取消"]
    await press(tg, ADMIN_USER, "下一步")
    await press(tg, ADMIN_USER, "贫困户")
    await press(tg, ADMIN_USER, "就选这里")
    await press(tg, ADMIN_USER, "返贫")
    [empty] = await press(tg, ADMIN_USER, "完成")
    assert empty["text"] == "没有符合条件的接收人，没有创建广播。请重新选择发送对象。"
    assert await rows(sessionmaker, Broadcast) == []
    # then the cadres of the county: the preview is the photo with the caption
    await press(tg, ADMIN_USER, "帮扶干部")
    photo, preview = await press(tg, ADMIN_USER, "就选这里", replies=2)
    assert photo.get("photo") and photo["caption"] == "返贫户请注意"
    assert "接收人数：4" in preview["text"] or "接收人数：3" in preview["text"]
    # 先发给我测试: a test broadcast to the admin alone, the dialog goes on
    [tested] = await press(tg, ADMIN_USER, "先发给我测试")
    [test] = await rows(sessionmaker, Broadcast)
    assert tested["text"].startswith(f"测试广播 #{test.id}") and test.test_only
    [row] = await rows(sessionmaker, OutboxMessage)
    async with sessionmaker() as s:
        admin = await s.scalar(select(Account.id).where(Account.telegram_user_id == ADMIN_USER))
    assert row.account_id == admin and row.urgent
    # scheduled tomorrow 08:00
    [confirm] = await press(tg, ADMIN_USER, "明天08:00")
    assert confirm["text"].startswith("确认于 2026/12/2 08:00 发送给") or "08:00" in confirm["text"]
    [created] = await press(tg, ADMIN_USER, "确认发送")
    real = [b for b in await rows(sessionmaker, Broadcast) if not b.test_only]
    assert len(real) == 1 and real[0].state is BroadcastState.SCHEDULED
    assert real[0].send_at == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)
    assert f"#{real[0].id} 已安排于" in created["text"]
    assert len(await rows(sessionmaker, OutboxMessage)) == 1  # only the test row: enqueued when due
    # /broadcasts: the scheduled one may be cancelled, the test one is sending
    listing = await one(tg, ADMIN_USER, "/broadcasts")
    assert "待发送" in listing["text"] and "测试" in listing["text"]
    assert f"取消广播 #{real[0].id}" in labels(listing)
