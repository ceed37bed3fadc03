"""/households, the card and /today through the emulator: cadre and admin lists, paging,
card and back, forged presses, other roles, Korean, escaping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.i18n import format_date
from bot.work import households as service
from storage.models import AuditLog, Visit
from tests.policy_chat.helpers import buttons, count, labels
from tests.work.households.seed import NOW, TODAY, add_hardship, add_households, seed_due, set_due
from tests.work.people import (
    ADMIN_USER,
    CADRE_KO_USER,
    CADRE_USER,
    H1_USER,
    OTHER_ADMIN_USER,
    PUBLIC_USER,
    SUPERVISOR_USER,
)

pytestmark = pytest.mark.usefixtures("app")

NO_COMMAND = "没有这个命令，或者您没有使用它的权限。发送 /help 查看可用命令。"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "current_time", lambda: NOW)


@pytest.fixture
async def due(chat_people, sessionmaker):
    await seed_due(sessionmaker, chat_people)
    return chat_people


async def _one(tg, user_id: int, text: str) -> dict:
    [reply] = await tg.ask(user_id, text)
    return reply


async def _press(tg, user_id: int, label: str) -> dict:
    pressed = await tg.press_button(user_id, label)
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert not answer["answer"].get("show_alert"), answer
    [edited] = await tg.wait_replies(user_id, after_seq=pressed["seq"])
    assert edited["event"] == "edit" and edited["message_id"] == pressed["message_id"]
    return edited


async def _refused(tg, user_id: int, message_id: int, data: str) -> str:
    pressed = await tg.press(user_id, message_id, data, forged=True)
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert answer["answer"].get("show_alert") is True, data
    return answer["answer"]["text"]


def _d(value, locale: str = "zh_Hans") -> str:
    return format_date(value, locale)


async def test_cadre_list_card_and_back(tg, due) -> None:
    reply = await _one(tg, CADRE_USER, "/households")
    text = reply["text"]
    assert text.startswith("我帮扶的贫困户（共 3 户）")
    assert "第 1/" not in text  # one page: no page line, no navigation
    # overdue first: H2 (visit overdue 4 days), H3 (two overdue milestones), then H1 (due today)
    assert text.index("김순자") < text.index("王<小>二") < text.index("张大山")
    assert f"下次应访：{_d(TODAY - timedelta(days=4))}（已逾期 4 天）" in text
    assert f"上次走访：{_d(TODAY - timedelta(days=30))} · 下次应访：{_d(TODAY)}\n" in text  # due today: not overdue
    assert "逾期事项：2 项" in text and "尚未走访" in text
    assert labels(reply) == ["1. ⚠️ 김순자", "2. ⚠️ 王<小>二", "3. 张大山"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(reply))
    assert all(b["callback_data"].startswith("hhc:") for b in buttons(reply))

    card = await _press(tg, CADRE_USER, "2. ⚠️ 王<小>二")
    text = card["text"]
    assert text.startswith("王<小>二（户编号 W0003）")  # escaped in HTML, shown literally
    assert "所在村：示范市/示范县/示范镇/一村" in text
    assert "脱贫状态：未脱贫" in text
    assert f"帮扶干部：刘干部 · 结对时间：{_d(TODAY.replace(day=1))}" in text
    assert f"⚠️ [逾期] 住房安全：危房改造<C级> · 截止 {_d(TODAY.replace(day=20))}" in text
    assert "[已完成] 住房安全：已办完的事" in text and "[未完成] 住房安全：今天到期" in text
    assert f"• {_d(TODAY.replace(day=20))} · 入户走访 · 农户已确认（评分 5）" in text
    assert "电话联系 · 农户称未走访 ⚠️ 存疑" in text
    assert labels(card) == ["‹ 返回列表"]

    back = await _press(tg, CADRE_USER, "‹ 返回列表")
    assert back["text"] == reply["text"] and labels(back) == labels(reply)
    # the whole navigation is one message
    assert len([m for m in await tg.messages(CADRE_USER) if m["from_bot"]]) == 2  # /start's reply and the list


async def test_household_profile_on_the_card(tg, due) -> None:
    await _one(tg, CADRE_USER, "/households")
    card = await _press(tg, CADRE_USER, "3. 张大山")
    text = card["text"]
    assert "家庭人口：4 人" in text and "致贫原因：因病、因学" in text
    assert "在校学生：1 人 · 残疾人：0 人" in text and "危房等级：C · 享受低保：否" in text
    assert "帮扶措施：—" in text and "人均纯收入：—" in text
    assert "暂无走访记录。" in text and "暂无计划事项。" in text


async def test_cadre_paging(tg, due, sessionmaker) -> None:
    await add_households(sessionmaker, due, 7, cadre_id=due.cadre)  # 10 households: two pages
    first = await _one(tg, CADRE_USER, "/households")
    assert "（共 10 户）" in first["text"] and "第 1/2 页" in first["text"]
    assert labels(first)[-1] == "下一页 ›" and len(labels(first)) == 9
    second = await _press(tg, CADRE_USER, "下一页 ›")
    assert "第 2/2 页" in second["text"]
    assert labels(second) == ["9. 户006", "10. 户007", "‹ 上一页"]
    card = await _press(tg, CADRE_USER, "10. 户007")
    assert card["text"].startswith("户007（户编号 X007）")
    back = await _press(tg, CADRE_USER, "‹ 返回列表")
    assert labels(back) == labels(second)  # back to the page it came from
    again = await _press(tg, CADRE_USER, "‹ 上一页")
    assert labels(again) == labels(first)


async def test_admin_sees_the_county(tg, due) -> None:
    reply = await _one(tg, ADMIN_USER, "/households")
    assert reply["text"].startswith("辖区内的贫困户（共 5 户）")
    assert labels(reply) == ["1. ⚠️ 김순자", "2. ⚠️ 박철수", "3. ⚠️ 王<小>二", "4. 张大山", "5. 赵四"]
    card = await _press(tg, ADMIN_USER, "2. ⚠️ 박철수")
    assert "帮扶干部：박간부" in card["text"] and "[逾期] 住房安全：别人的事项" in card["text"]
    # 赵四's cadre has no Telegram account; not visited, not scheduled yet
    await _press(tg, ADMIN_USER, "‹ 返回列表")
    card = await _press(tg, ADMIN_USER, "5. 赵四")
    assert "帮扶干部：孙干部" in card["text"] and "下次应访：未排定" in card["text"]

    other = await _one(tg, OTHER_ADMIN_USER, "/households")
    assert other["text"] == "您的辖区内没有建档立卡户。" and not other.get("reply_markup")


async def test_forged_presses_are_refused(tg, due, sessionmaker) -> None:
    own = await _one(tg, CADRE_USER, "/households")
    mid = own["message_id"]
    text = await _refused(tg, CADRE_USER, mid, f"hhc:{due.h5}:0")  # another cadre's household
    assert "无权查看" in text
    await _refused(tg, CADRE_USER, mid, f"hhc:{due.h4}:0")
    for garbage in ("hhc:abc:0", "hhc:0:0", "hhc:-1:0", f"hhc:{10**20}:0", "hhc:999999:0",
                    f"hhc:{due.h1}:-1", f"hhc:{due.h1}:{10**30}", "hhl:-1", "hhl:x", f"hhl:{10**30}", "hhc:"):
        await _refused(tg, CADRE_USER, mid, garbage)
    admin = await _one(tg, OTHER_ADMIN_USER, "/households")
    await _refused(tg, OTHER_ADMIN_USER, admin["message_id"], f"hhc:{due.h1}:0")  # outside the scope
    # households and the public may press nothing here
    [start] = [m for m in await tg.messages(H1_USER) if m["from_bot"]][-1:]
    assert "只对帮扶干部和扶贫办管理员开放" in await _refused(tg, H1_USER, start["message_id"], f"hhc:{due.h1}:0")
    await _refused(tg, H1_USER, start["message_id"], "hhl:0")
    [start] = [m for m in await tg.messages(PUBLIC_USER) if m["from_bot"]][-1:]
    await _refused(tg, PUBLIC_USER, start["message_id"], f"hhc:{due.h1}:0")
    # nothing was edited, nothing written
    messages = [m for m in await tg.messages(CADRE_USER) if m["from_bot"]]
    assert messages[-1]["text"] == own["text"] and not messages[-1].get("edit_history")
    assert await count(sessionmaker, Visit) == 2 and await count(sessionmaker, AuditLog) == 0


async def test_page_past_the_end_shows_the_last_page(tg, due) -> None:
    reply = await _one(tg, CADRE_USER, "/households")
    pressed = await tg.press(CADRE_USER, reply["message_id"], "hhl:7", forged=True)
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert not answer["answer"].get("show_alert")
    # the list is unchanged (one page): nothing to edit, or the same text
    bot_messages = [m for m in await tg.messages(CADRE_USER) if m["from_bot"]]
    assert bot_messages[-1]["text"] == reply["text"]


async def test_other_roles_get_the_fallback(tg, due) -> None:
    for user in (H1_USER, PUBLIC_USER):
        assert (await _one(tg, user, "/households"))["text"] == NO_COMMAND
        assert (await _one(tg, user, "/today"))["text"] == NO_COMMAND
    assert (await _one(tg, ADMIN_USER, "/today"))["text"] == NO_COMMAND


async def test_cadre_without_households(tg, due) -> None:
    reply = await _one(tg, SUPERVISOR_USER, "/households")
    assert reply["text"] == "您目前没有结对帮扶的贫困户。" and not reply.get("reply_markup")
    today = await _one(tg, SUPERVISOR_USER, "/today")
    assert today["text"] == f"今天是 {_d(TODAY)}\n您目前没有结对帮扶的贫困户。"


async def test_today_overdue_and_this_week(tg, due, sessionmaker) -> None:
    await add_hardship(sessionmaker, due.h3, due.cadre, ack_due=NOW - timedelta(hours=1))
    await add_hardship(sessionmaker, due.h1, due.cadre)  # due tomorrow
    text = (await _one(tg, CADRE_USER, "/today"))["text"]
    assert text.startswith(f"今天是 {_d(TODAY)}")
    sections = ["逾期未走访", "今天应走访", "逾期的计划事项", "今天到期的计划事项", "未来 7 天到期的计划事项",
                "待受理的困难报告"]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)
    assert "未来 7 天应走访" not in text  # H3 is due beyond the week
    assert f"• 김순자（W0002）· {_d(TODAY - timedelta(days=4))}（已逾期 4 天）" in text
    assert f"• 张大山（W0001）· {_d(TODAY)}\n" in text  # due today: not overdue
    assert f"• 王<小>二：住房安全：危房改造<C级> · 截止 {_d(TODAY.replace(day=20))}（已逾期 9 天）" in text
    assert "今天到期 · 截止" in text and "下周到期" in text and "下月到期" not in text
    assert "• 王<小>二：疾病 · 受理期限 " in text and "，已超时" in text
    assert "• 张大山：疾病 · 请在 2026/11/30 09:00 前受理" in text  # local time, Asia/Shanghai
    assert "别人的事项" not in text and "박철수" not in text


async def test_today_nothing_due(tg, chat_people, sessionmaker) -> None:
    async with sessionmaker() as s:
        for household in (chat_people.h1, chat_people.h2, chat_people.h3):
            await set_due(s, household, TODAY + timedelta(days=8))
        await s.commit()
    text = (await _one(tg, CADRE_USER, "/today"))["text"]
    assert text == f"今天是 {_d(TODAY)}\n今天和未来 7 天没有到期的走访或计划事项，也没有待受理的困难报告。"


async def test_korean_cadre(tg, app, due) -> None:
    i18n = app.i18n

    def ko(msgid: str) -> str:
        return i18n.gettext(msgid, locale="ko")

    reply = await _one(tg, CADRE_KO_USER, "/households")
    assert reply["text"].startswith(ko("我帮扶的贫困户（共 {total} 户）").format(total=1))
    assert ko("下次应访：{date}").format(date=_d(TODAY.replace(month=12, day=2), "ko")) in reply["text"]
    assert labels(reply) == ["1. ⚠️ 박철수"]
    card = await _press(tg, CADRE_KO_USER, "1. ⚠️ 박철수")
    assert ko("帮扶干部：{cadre} · 结对时间：{since}").format(
        cadre="박간부", since=_d(TODAY.replace(day=1), "ko")) in card["text"]
    assert labels(card) == [ko("‹ 返回列表")]
    today = await _one(tg, CADRE_KO_USER, "/today")
    assert today["text"].startswith(ko("<b>今天是 {date}</b>").replace("<b>", "").replace("</b>", "").format(
        date=_d(TODAY, "ko")))
    assert ko("逾期的计划事项") in today["text"]
