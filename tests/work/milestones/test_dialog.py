"""/milestone and /plan end to end through the emulator: add an item, mark it done with a
photo and a text, the household sees it in /plan and is told; bad input at every step;
forged and stale buttons; /cancel at every step. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.work.milestones import MilestoneService
from handlers.cadre_questions import CadreReply
from storage.enums import MilestoneCategory
from storage.models import Account, AuditLog, Milestone
from tests.work.milestones.flow import (
    NOW,
    alert,
    button_data,
    labels,
    last_bot,
    photo,
    press,
    say,
    text_of,
)
from tests.work.people import ADMIN_USER, CADRE_KO_USER, CADRE_USER, H1_USER, H2_USER, H5_USER

pytestmark = pytest.mark.usefixtures("frozen_clock")


async def _all(sessionmaker, model, *where):
    async with sessionmaker() as s:
        return list((await s.scalars(select(model).where(*where).order_by(model.id))).all())


async def _account_id(sessionmaker, user: int) -> int:
    [account] = await _all(sessionmaker, Account, Account.telegram_user_id == user)
    return account.id


async def _seed(sessionmaker, household: int, title: str, due: date, *, done: bool = False,
                category=MilestoneCategory.HOUSING) -> int:
    async with sessionmaker() as s:
        row = Milestone(household_id=household, category=category, title=title, due_date=due,
                        completed_at=NOW if done else None)
        s.add(row)
        await s.commit()
        return row.id


async def _to_title_step(tg) -> dict:
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "添加计划事项")
    await press(tg, CADRE_USER, "张大山")
    return await press(tg, CADRE_USER, "医疗保障")


async def test_add_then_done_then_plan(tg, app, chat_people, sessionmaker) -> None:
    people = chat_people
    menu = await say(tg, CADRE_USER, "/milestone")
    assert labels(menu) == ["添加计划事项", "标记完成", "取消"]
    households = await press(tg, CADRE_USER, "添加计划事项")
    # the cadre's paired households only (not H5), markup in a name shown as typed
    assert sorted(labels(households)[:3]) == sorted(["张大山 · 一村", "김순자 · 一村", "王<小>二 · 一村"])
    assert labels(households)[3:] == ["取消"]
    category = await press(tg, CADRE_USER, "张大山")
    assert "张大山" in text_of(category) and "医疗保障" in labels(category)
    title = await press(tg, CADRE_USER, "医疗保障")
    assert "事项名称" in text_of(title)
    due = await say(tg, CADRE_USER, "办理 <新农合> 医疗保险")
    assert "办理 <新农合> 医疗保险" in text_of(due)  # shown escaped, read back as typed
    assert labels(due)[:4] == ["一个月后（2026/12/29）", "三个月后（2027/2/28）", "半年后（2027/5/29）",
                               "年底（2026/12/31）"]
    summary = await press(tg, CADRE_USER, "一个月后")
    assert "截止日期：2026年12月29日" in text_of(summary) and "类别：医疗保障" in text_of(summary)
    saved = await press(tg, CADRE_USER, "确认")
    assert text_of(saved) == "已添加计划事项“办理 <新农合> 医疗保险”，截止日期 2026年12月29日。"

    cadre_account = await _account_id(sessionmaker, CADRE_USER)
    [item] = await _all(sessionmaker, Milestone)
    assert (item.household_id, item.category, item.title, item.due_date, item.created_by) == (
        people.h1, MilestoneCategory.MEDICAL_INSURANCE, "办理 <新农合> 医疗保险", date(2026, 12, 29),
        f"account:{cadre_account}")

    # mark it done: a photo first, then a text
    await say(tg, CADRE_USER, "/milestone")
    households = await press(tg, CADRE_USER, "标记完成")
    assert labels(households) == ["张大山 · 一村（1）", "取消"]  # only households with open items
    items = await press(tg, CADRE_USER, "张大山")
    assert labels(items) == ["2026/12/29 办理 <新农合> 医疗保险", "取消"]
    evidence = await press(tg, CADRE_USER, "医疗保险")
    assert "证明" in text_of(evidence)
    got_photo = await photo(tg, CADRE_USER)
    assert text_of(got_photo).startswith("已收到照片。") and labels(got_photo) == ["完成", "取消"]
    got_both = await say(tg, CADRE_USER, "已到乡医保站办好，卡已发放")
    assert text_of(got_both).startswith("已收到文字说明和照片。")
    summary = await press(tg, CADRE_USER, "完成")
    assert "说明：已到乡医保站办好，卡已发放" in text_of(summary) and "照片：已附" in text_of(summary)
    confirm_message_id = summary["message_id"]
    pressed = await tg.press_button(CADRE_USER, "确认完成")
    await tg.callback_answer(pressed["callback_query_id"])
    [told] = await tg.wait_replies(H1_USER, after_seq=pressed["seq"])
    assert text_of(told) == ("您家的帮扶计划事项“办理 <新农合> 医疗保险”已于 2026年11月29日 完成。"
                             "发送 /plan 查看全部计划。")
    [done] = await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    assert text_of(done) == "已将“办理 <新农合> 医疗保险”标记为已完成。\n已通知该户。"

    [item] = await _all(sessionmaker, Milestone)
    assert item.completed_at == NOW and item.completed_by == f"account:{cadre_account}"
    assert item.evidence_text == "已到乡医保站办好，卡已发放" and item.evidence_photo_file_id
    audit = await _all(sessionmaker, AuditLog)
    assert [(a.action, a.actor, a.region_id, a.object_id) for a in audit] == [
        ("milestone.add", f"account:{cadre_account}", people.village_1, str(item.id)),
        ("milestone.done", f"account:{cadre_account}", people.village_1, str(item.id)),
    ]

    # a second press on the old confirmation: already done, nothing changes
    text = await alert(tg, CADRE_USER, confirm_message_id, button_data(summary, "确认完成"), forged=False)
    assert text == "这一项已经标记为完成了，无需重复操作。"
    assert len(await _all(sessionmaker, AuditLog)) == 2

    plan = await say(tg, H1_USER, "/plan")
    assert text_of(plan) == ("您家的帮扶计划：\n\n✅ 办理 <新农合> 医疗保险\n"
                             "医疗保障 · 截止：2026年12月29日 · 已完成（2026年11月29日）")
    assert "<b>办理 &lt;新农合&gt; 医疗保险</b>" in (await tg.calls("sendMessage"))[-1]["params"]["text"]


async def test_plan_overdue_first_and_empty(tg, chat_people, sessionmaker) -> None:
    people = chat_people
    assert text_of(await say(tg, H1_USER, "/plan")) == "您家目前还没有帮扶计划事项。有问题可以联系您的帮扶干部。"
    await _seed(sessionmaker, people.h1, "改造危房", date(2027, 3, 1))
    await _seed(sessionmaker, people.h1, "申请低保", date(2026, 11, 28), category=MilestoneCategory.SOCIAL_SECURITY)
    await _seed(sessionmaker, people.h1, "今天到期", date(2026, 11, 29), category=MilestoneCategory.OTHER)
    await _seed(sessionmaker, people.h5, "别家的事项", date(2026, 1, 1))
    plan = text_of(await say(tg, H1_USER, "/plan"))
    assert plan == (
        "您家的帮扶计划：\n\n"
        "⚠️ 申请低保\n低保兜底 · 截止：2026年11月28日 · 逾期\n\n"
        "🔲 今天到期\n其他 · 截止：2026年11月29日 · 未完成\n\n"
        "🔲 改造危房\n住房安全 · 截止：2027年3月1日 · 未完成"
    )
    # the cadre's list marks the overdue one
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    items = await press(tg, CADRE_USER, "张大山")
    assert labels(items)[0] == "⚠️ 2026/11/28 申请低保"


async def test_plan_in_korean_for_h2(tg, app, chat_people, sessionmaker) -> None:
    await _seed(sessionmaker, chat_people.h2, "주택 수리", date(2026, 12, 1))
    await _seed(sessionmaker, chat_people.h2, "의료보험", date(2026, 10, 1), done=True,
                category=MilestoneCategory.MEDICAL_INSURANCE)
    plan = text_of(await say(tg, H2_USER, "/plan"))

    def ko(msgid: str) -> str:
        return app.i18n.gettext(msgid, locale="ko")

    assert plan == (
        f"{ko('您家的帮扶计划：')}\n\n"
        f"✅ 의료보험\n{ko('医疗保障')} · {ko('截止：{date}').format(date='2026. 10. 1.')} · "
        f"{ko('已完成（{date}）').format(date='2026. 11. 29.')}\n\n"
        f"🔲 주택 수리\n{ko('住房安全')} · {ko('截止：{date}').format(date='2026. 12. 1.')} · {ko('未完成')}"
    )


async def test_household_told_in_its_language(tg, app, chat_people, sessionmaker) -> None:
    item = await _seed(sessionmaker, chat_people.h2, "주택 수리", date(2026, 12, 1))
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    await press(tg, CADRE_USER, "김순자")
    await press(tg, CADRE_USER, "주택 수리")
    await photo(tg, CADRE_USER, caption="수리 완료")
    summary = await press(tg, CADRE_USER, "完成")
    assert "说明：수리 완료" in text_of(summary)
    pressed = await tg.press_button(CADRE_USER, "确认完成")
    [told] = await tg.wait_replies(H2_USER, after_seq=pressed["seq"])
    expected = app.i18n.gettext("您家的帮扶计划事项“{title}”已于 {date} 完成。发送 /plan 查看全部计划。", locale="ko")
    assert text_of(told) == expected.format(title="주택 수리", date="2026. 11. 29.")
    [row] = await _all(sessionmaker, Milestone, Milestone.id == item)
    assert row.evidence_text == "수리 완료" and row.evidence_photo_file_id


async def test_unbound_household_is_not_told(tg, chat_people, sessionmaker) -> None:
    await _seed(sessionmaker, chat_people.h3, "修水井", date(2026, 12, 1), category=MilestoneCategory.DRINKING_WATER)
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    await press(tg, CADRE_USER, "王<小>二")
    await press(tg, CADRE_USER, "修水井")
    await say(tg, CADRE_USER, "水井已修好")
    await press(tg, CADRE_USER, "完成")
    done = await press(tg, CADRE_USER, "确认完成")
    assert text_of(done) == "已将“修水井”标记为已完成。"


async def test_title_bad_inputs(tg, chat_people, sessionmaker) -> None:
    await _seed(sessionmaker, chat_people.h1, "改造危房", date(2027, 3, 1))
    await _to_title_step(tg)
    reply = await photo(tg, CADRE_USER)
    assert text_of(reply).startswith("请用文字输入事项名称。")
    reply = await say(tg, CADRE_USER, "字" * 201)
    assert text_of(reply).startswith("事项名称太长了（201 字），最多 200 字，请重新输入。")
    reply = await say(tg, CADRE_USER, " 改造危房 ")
    assert text_of(reply).startswith("该户已经有名为“改造危房”的计划事项了，请换一个名称。")
    reply = await say(tg, CADRE_USER, "字" * 200)  # exactly the limit is fine
    assert "截止日期" in text_of(reply)
    assert len(await _all(sessionmaker, Milestone)) == 1


async def test_due_bad_inputs(tg, chat_people, sessionmaker) -> None:
    await _to_title_step(tg)
    await say(tg, CADRE_USER, "申请危房改造补助")
    reply = await say(tg, CADRE_USER, "2020-01-01")
    assert text_of(reply).startswith("截止日期不能早于今天（2026年11月29日），请重新选择。")
    assert "一个月后（2026/12/29）" in labels(reply)  # the buttons again
    reply = await say(tg, CADRE_USER, "昨天")
    assert text_of(reply).startswith("截止日期不能早于今天")
    reply = await say(tg, CADRE_USER, "哪天都行")
    assert text_of(reply).startswith("没看懂这个日期。")
    reply = await say(tg, CADRE_USER, "2035-01-01")
    assert text_of(reply).startswith("截止日期不能晚于 2031年11月29日，请重新选择。")
    reply = await photo(tg, CADRE_USER)
    assert text_of(reply).startswith("请点选下面的按钮，或用文字输入日期。")
    summary = await say(tg, CADRE_USER, "12月1日")
    assert "截止日期：2026年12月1日" in text_of(summary)
    assert await _all(sessionmaker, Milestone) == []
    await press(tg, CADRE_USER, "确认")
    [row] = await _all(sessionmaker, Milestone)
    assert row.due_date == date(2026, 12, 1)


async def test_text_where_buttons_are_expected(tg, chat_people, sessionmaker) -> None:
    await say(tg, CADRE_USER, "/milestone")
    reply = await say(tg, CADRE_USER, "添加")
    assert text_of(reply).startswith("请点选下面的按钮，或发送 /cancel 取消。")
    assert labels(reply) == ["添加计划事项", "标记完成", "取消"]
    await press(tg, CADRE_USER, "添加计划事项")
    reply = await photo(tg, CADRE_USER)
    assert "张大山 · 一村" in labels(reply)
    await press(tg, CADRE_USER, "张大山")
    reply = await say(tg, CADRE_USER, "医疗")
    assert "医疗保障" in labels(reply) and text_of(reply).startswith("请点选下面的按钮")


async def test_forged_and_stale_buttons_write_nothing(tg, chat_people, sessionmaker) -> None:
    people = chat_people
    other = await _seed(sessionmaker, people.h5, "别家的事项", date(2026, 12, 1))
    mine = await _seed(sessionmaker, people.h1, "自家的事项", date(2026, 12, 1))
    menu = await say(tg, CADRE_USER, "/milestone")
    mid = menu["message_id"]
    assert await alert(tg, CADRE_USER, mid, "msm:nothing") == "这个选项无效，请重新选择。"
    await press(tg, CADRE_USER, "添加计划事项")
    forbidden = "您不能为该户操作：它不是您帮扶的贫困户。"
    assert await alert(tg, CADRE_USER, mid, f"msh:{people.h5}") == forbidden
    assert await alert(tg, CADRE_USER, mid, "msh:999999") == forbidden
    assert await alert(tg, CADRE_USER, mid, "msh:99999999999999999999") == forbidden  # beyond INTEGER
    assert await alert(tg, CADRE_USER, mid, "msh:-1") == forbidden
    assert await alert(tg, CADRE_USER, mid, "msh:abc") == "这个按钮已失效，请重新发送命令。"  # unreadable
    assert await alert(tg, CADRE_USER, mid, f"msp:{mine}") == "这个按钮已失效，请重新发送 /milestone。"
    await press(tg, CADRE_USER, "张大山")  # the dialog goes on after a forged press
    assert await alert(tg, CADRE_USER, mid, "msc:bogus") == "这个选项无效，请重新选择。"
    await press(tg, CADRE_USER, "其他")
    await say(tg, CADRE_USER, "新的事项")
    assert await alert(tg, CADRE_USER, mid, "msd:10y") == "这个选项无效，请重新选择。"
    assert await alert(tg, CADRE_USER, mid, "msa:save") == "这个按钮已失效，请重新发送 /milestone。"
    await say(tg, CADRE_USER, "/cancel")

    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    assert await alert(tg, CADRE_USER, mid, f"msh:{people.h5}") == forbidden
    await press(tg, CADRE_USER, "张大山")
    assert await alert(tg, CADRE_USER, mid, f"msp:{other}") == forbidden
    assert await alert(tg, CADRE_USER, mid, "msp:999999") == forbidden
    assert await alert(tg, CADRE_USER, mid, "msp:99999999999999999999") == forbidden
    assert await alert(tg, CADRE_USER, mid, "msk:99999999999999999999") == "这个按钮已失效，请重新发送 /milestone。"
    await press(tg, CADRE_USER, "自家的事项")
    assert await alert(tg, CADRE_USER, mid, "msa:finish") == "请先发送文字说明或照片。"
    assert await alert(tg, CADRE_USER, mid, f"msk:{other}") == "这个按钮已失效，请重新发送 /milestone。"
    assert await alert(tg, CADRE_USER, mid, f"msk:{mine}") == "这个按钮已失效，请重新发送 /milestone。"
    # other people pressing the cadre's buttons (in their own chats)
    for user, data in ((H1_USER, "msm:add"), (CADRE_KO_USER, f"msk:{mine}"), (H5_USER, f"msk:{other}"),
                       (CADRE_KO_USER, f"msh:{people.h1}")):
        their = (await last_bot(tg, user))["message_id"]
        assert await alert(tg, user, their, data)  # an alert in their language, nothing else

    rows = await _all(sessionmaker, Milestone)
    assert len(rows) == 2 and all(r.completed_at is None for r in rows)
    assert await _all(sessionmaker, AuditLog) == []


async def test_done_elsewhere_meanwhile(tg, chat_people, sessionmaker) -> None:
    """Two devices: the item is completed while this dialog waits at the confirmation."""
    people = chat_people
    item = await _seed(sessionmaker, people.h1, "自家的事项", date(2026, 12, 1))
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    await press(tg, CADRE_USER, "张大山")
    await press(tg, CADRE_USER, "自家的事项")
    await say(tg, CADRE_USER, "第一台设备")
    summary = await press(tg, CADRE_USER, "完成")
    async with sessionmaker() as s:
        outcome = await MilestoneService(s).mark_done(
            cadre_id=people.cadre, account_id=1, milestone_id=item, evidence_text="另一台设备",
            evidence_photo_file_id=None, now=NOW)
        assert outcome.status.value == "done"
    text = await alert(tg, CADRE_USER, summary["message_id"], button_data(summary, "确认完成"), forged=False)
    assert text == "这一项已经标记为完成了，无需重复操作。"
    [row] = await _all(sessionmaker, Milestone)
    assert row.evidence_text == "另一台设备"
    assert len(await _all(sessionmaker, AuditLog)) == 1
    # the dialog is over: /cancel finds nothing to cancel
    assert text_of(await say(tg, CADRE_USER, "/cancel")) == "当前没有进行中的操作。"


async def test_pick_an_item_done_meanwhile(tg, chat_people, sessionmaker) -> None:
    item = await _seed(sessionmaker, chat_people.h1, "自家的事项", date(2026, 12, 1))
    await _seed(sessionmaker, chat_people.h1, "另一项", date(2026, 12, 2))
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    items = await press(tg, CADRE_USER, "张大山")
    async with sessionmaker() as s:
        (await s.get(Milestone, item)).completed_at = NOW
        await s.commit()
    text = await alert(tg, CADRE_USER, items["message_id"], button_data(items, "自家的事项"), forged=False)
    assert text == "这一项已经标记为完成了，无需重复操作。"
    evidence = await press(tg, CADRE_USER, "另一项")  # the list is still there for the others
    assert "另一项" in text_of(evidence)


async def test_evidence_bad_inputs(tg, chat_people, sessionmaker) -> None:
    await _seed(sessionmaker, chat_people.h1, "自家的事项", date(2026, 12, 1))
    await say(tg, CADRE_USER, "/milestone")
    await press(tg, CADRE_USER, "标记完成")
    await press(tg, CADRE_USER, "张大山")
    await press(tg, CADRE_USER, "自家的事项")
    sticker = await tg.send_sticker(CADRE_USER)
    [reply] = await tg.wait_replies(CADRE_USER, after_seq=sticker["seq"])
    assert text_of(reply).startswith("请发送文字说明或照片作为完成证明")
    reply = await say(tg, CADRE_USER, "字" * 2001)
    assert text_of(reply).startswith("说明文字太长了")
    reply = await say(tg, CADRE_USER, "第一句")
    reply = await say(tg, CADRE_USER, "第二句")
    assert text_of(reply).startswith("已收到文字说明。")
    summary = await press(tg, CADRE_USER, "完成")
    assert "说明：第一句\n第二句" in text_of(summary) and "照片：无" in text_of(summary)
    await press(tg, CADRE_USER, "确认完成")
    [row] = await _all(sessionmaker, Milestone)
    assert row.evidence_text == "第一句\n第二句" and row.evidence_photo_file_id is None


CANCEL_STEPS = {
    "menu": [],
    "add household": ["添加计划事项"],
    "category": ["添加计划事项", "张大山"],
    "title": ["添加计划事项", "张大山", "其他"],
    "due": ["添加计划事项", "张大山", "其他", "=新的事项"],
    "add confirm": ["添加计划事项", "张大山", "其他", "=新的事项", "年底"],
    "done household": ["标记完成"],
    "item": ["标记完成", "张大山"],
    "evidence": ["标记完成", "张大山", "自家的事项"],
    "evidence given": ["标记完成", "张大山", "自家的事项", "=已办好"],
    "done confirm": ["标记完成", "张大山", "自家的事项", "=已办好", "完成"],
}


@pytest.mark.parametrize("way", ["command", "button"])
async def test_cancel_at_every_step(tg, chat_people, sessionmaker, way: str) -> None:
    await _seed(sessionmaker, chat_people.h1, "自家的事项", date(2026, 12, 1))
    try:
        await _cancel_steps(tg, way)
    except Exception:
        for m in await tg.messages(CADRE_USER):
            print(m["message_id"], m["from_bot"], m.get("date"), repr(m.get("text"))[:60], m.get("edit_history") and "EDITED")
        raise
    [row] = await _all(sessionmaker, Milestone)
    assert row.completed_at is None
    assert await _all(sessionmaker, AuditLog) == []


async def _cancel_steps(tg, way):
    for step, actions in CANCEL_STEPS.items():
        await say(tg, CADRE_USER, "/milestone")
        for action in actions:
            if action.startswith("="):
                await say(tg, CADRE_USER, action[1:])
            else:
                await press(tg, CADRE_USER, action)
        if way == "command":
            reply = await say(tg, CADRE_USER, "/cancel")
        else:
            reply = await press(tg, CADRE_USER, "取消")
        assert text_of(reply) == "已取消，没有保存任何内容。", step
        # the dialog is over: /cancel again finds nothing to cancel
        assert text_of(await say(tg, CADRE_USER, "/cancel")) == "当前没有进行中的操作。", step


async def test_milestone_clears_another_dialog(tg, app, chat_people) -> None:
    context = app.dispatcher.fsm.get_context(app.bot, chat_id=CADRE_USER, user_id=CADRE_USER)
    await context.set_state(CadreReply.waiting)
    menu = await say(tg, CADRE_USER, "/milestone")
    assert labels(menu)[:2] == ["添加计划事项", "标记完成"]
    await _to_title_step(tg)
    menu = await say(tg, CADRE_USER, "/milestone")  # restart from the title step
    assert labels(menu)[:2] == ["添加计划事项", "标记完成"]
    reply = await say(tg, CADRE_USER, "这不是名称")
    assert text_of(reply).startswith("请点选下面的按钮")


async def test_state_is_saved_before_each_prompt(tg, app, chat_people) -> None:
    """The FSM state is written in the update's transaction: a client that answers at once
    must find the step the prompt shows (and no step after /cancel's reply)."""
    context = app.dispatcher.fsm.get_context(app.bot, chat_id=CADRE_USER, user_id=CADRE_USER)
    for _ in range(10):
        await say(tg, CADRE_USER, "/milestone")
        assert await context.get_state() == "MilestoneDialog:menu"
        await press(tg, CADRE_USER, "添加计划事项")
        assert await context.get_state() == "MilestoneDialog:add_household"
        await press(tg, CADRE_USER, "取消")
        assert await context.get_state() is None


async def test_roles(tg, chat_people) -> None:
    assert text_of(await say(tg, H1_USER, "/milestone")).startswith("没有这个命令")
    hint = "/plan 是贫困户查看自家帮扶计划用的。要查看某一户的计划，请发送 /households 并选择这一户。"
    assert text_of(await say(tg, CADRE_USER, "/plan")) == hint
    assert text_of(await say(tg, ADMIN_USER, "/plan")) == hint


async def test_household_pages(tg, chat_people, sessionmaker) -> None:
    """A cadre with many households gets them page by page."""
    from storage.models import Household, Pairing

    async with sessionmaker() as s:
        for n in range(10):
            h = Household(reg_no=f"WP{n:03d}", head_name=f"户{n:02d}", village_id=chat_people.village_1)
            s.add(h)
            await s.flush()
            s.add(Pairing(cadre_id=chat_people.cadre, household_id=h.id, start_date=date(2026, 11, 1)))
        await s.commit()
    await say(tg, CADRE_USER, "/milestone")
    first = await press(tg, CADRE_USER, "添加计划事项")
    assert len(labels(first)) == 8 + 2 and labels(first)[-2:] == ["▶", "取消"]
    pressed = await tg.press_button(CADRE_USER, "▶")
    [edit] = await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    assert edit["event"] == "edit" and edit["message_id"] == first["message_id"]
    assert len(labels(edit)) == 5 + 2 and labels(edit)[-2:] == ["◀", "取消"]
    assert set(labels(first)[:8]) | set(labels(edit)[:5]) == {
        *(f"户{n:02d} · 一村" for n in range(10)), "张大山 · 一村", "김순자 · 一村", "王<小>二 · 一村"}
    pressed = await tg.press_button(CADRE_USER, "◀")
    [edit] = await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    assert labels(edit) == labels(first)
    # a forged page far away shows the last page
    pressed = await tg.press(CADRE_USER, first["message_id"], "msg:999", forged=True)
    [edit] = await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    assert len(labels(edit)) == 7
    if "王<小>二 · 一村" not in labels(edit):
        await tg.press_button(CADRE_USER, "◀")
        await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"], count=2)
    category = await press(tg, CADRE_USER, "王<小>二")
    assert "王&lt;小&gt;二" not in text_of(category) and "王<小>二" in text_of(category)
    assert (await last_bot(tg, CADRE_USER))["message_id"] == category["message_id"]
