"""/visit end to end through the emulator: the whole dialog, the household's answer and
rating, /flags, expiry, every bad input, /cancel at each step, stale and forged buttons."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

import handlers.visits
from bot.i18n import format_date
from bot.work import visits_render as render
from storage.enums import VisitConfirmation, VisitKind
from tests.work.people import (
    ADMIN_USER,
    CADRE_KO_USER,
    CADRE_USER,
    H1_USER,
    H2_USER,
    OTHER_ADMIN_USER,
    PUBLIC_USER,
    SUPERVISOR_USER,
)
from tests.work.visits.helpers import (
    NOW,
    alert,
    callback_datas,
    forge,
    labels,
    last_bot,
    png,
    press,
    press_one,
    say_one,
    text_of,
    visits,
)

TODAY = date(2026, 11, 29)
NOTES = "了解了看病报销的情况，孩子上学的补助已经到位。"


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The handlers' clock, settable by the test (`clock.now = ...`)."""

    class Clock:
        now = NOW

    monkeypatch.setattr(handlers.visits, "clock", lambda: Clock.now)
    return Clock


async def start_visit(tg, household: str) -> dict:
    """/visit, pick `household`: returns the date prompt."""
    picker = await say_one(tg, CADRE_USER, "/visit")
    assert picker["text"] == "请选择这次走访的贫困户："
    return await press_one(tg, CADRE_USER, household)


async def log_simple_visit(tg, household: str, *, day: str = "今天", kind: str = "入户走访") -> list[dict]:
    """The whole dialog without location and photo; returns the replies to 确认保存."""
    await start_visit(tg, household)
    await press_one(tg, CADRE_USER, day)
    await press_one(tg, CADRE_USER, kind)
    await say_one(tg, CADRE_USER, NOTES)
    await press_one(tg, CADRE_USER, "跳过")
    await press_one(tg, CADRE_USER, "跳过")
    return await press(tg, CADRE_USER, "确认保存")


async def _ko(app, text_fn) -> str:
    """A text as a Korean-interface user gets it."""
    with app.i18n.context(), app.i18n.use_locale("ko"):
        return text_fn()


async def test_whole_dialog_confirmed_and_rated(tg, chat_people, sessionmaker, app) -> None:
    picker = await say_one(tg, CADRE_USER, "/visit")
    assert labels(picker) == ["张大山（一村）", "王<小>二（一村）", "김순자（一村）", "取消"]
    assert all(len(d.encode()) <= 64 for d in callback_datas(picker))
    ask_date = await press_one(tg, CADRE_USER, "张大山（一村）")
    assert "张大山（一村）" in ask_date["text"] and labels(ask_date) == ["今天", "昨天", "前天", "取消"]
    ask_kind = await press_one(tg, CADRE_USER, "今天")
    assert labels(ask_kind) == ["入户走访", "电话联系", "集中会面", "取消"]
    ask_notes = await press_one(tg, CADRE_USER, "入户走访")
    assert "2000" in ask_notes["text"]
    ask_location = await say_one(tg, CADRE_USER, NOTES)
    assert "位置" in ask_location["text"] and labels(ask_location) == ["跳过", "取消"]
    sent = await tg.send_location(CADRE_USER, 41.42, 128.17)
    [ask_photo] = await tg.wait_replies(CADRE_USER, after_seq=sent["seq"])
    assert "照片" in ask_photo["text"]
    sent = await tg.send_photo(CADRE_USER, png(1280, 960))
    [summary] = await tg.wait_replies(CADRE_USER, after_seq=sent["seq"])
    photo_message = next(m for m in await tg.messages(CADRE_USER) if m.get("photo") and not m["from_bot"])
    largest = max(photo_message["photo"], key=lambda p: p["width"] * p["height"])["file_id"]
    assert summary["text"] == "\n".join([
        "请确认走访记录：", "贫困户：张大山（一村）", f"日期：{format_date(TODAY, 'zh_Hans')}",
        "方式：入户走访", f"记录：{NOTES}", "位置：已提供", "照片：已附",
    ])
    assert labels(summary) == ["确认保存", "取消"]
    [saved] = await press(tg, CADRE_USER, "确认保存")
    assert saved["text"] == "走访记录已保存。\n已请 张大山 确认这次走访。"

    [visit] = await visits(sessionmaker)
    assert (visit.cadre_id, visit.household_id, visit.visited_on, visit.kind, visit.notes) == (
        chat_people.cadre, chat_people.h1, TODAY, VisitKind.HOME, NOTES)
    assert (visit.latitude, visit.longitude, visit.photo_file_id) == (41.42, 128.17, largest)
    assert visit.confirmation is VisitConfirmation.PENDING and visit.confirm_due_at == NOW + timedelta(days=3)

    question = await last_bot(tg, H1_USER)
    assert question["text"] == (
        f"帮扶干部 刘干部 登记了一次对您家的走访：{format_date(TODAY, 'zh_Hans')}，入户走访。\n"
        "请问这次走访确实发生了吗？"
    )
    assert labels(question) == ["是", "否"]
    rating = await press_one(tg, H1_USER, "是")
    assert labels(rating) == ["1", "2", "3", "4", "5"]
    thanks = await press_one(tg, H1_USER, "4")
    assert thanks["text"] == "谢谢您的评价（4 分）！"
    [visit] = await visits(sessionmaker)
    assert (visit.confirmation, visit.rating, visit.confirmed_at, visit.flagged) == (
        VisitConfirmation.CONFIRMED, 4, NOW, False)

    # a second answer, a second rating, forged ratings and answers from the wrong accounts
    again = await tg.press(H1_USER, question["message_id"], callback_datas(question)[1])
    assert await alert(tg, again) == "您已经回答过这次走访了。"
    assert await forge(tg, H1_USER, f"vr:{visit.id}:5") == "您已经为这次走访评过分了。"
    assert await forge(tg, H1_USER, f"vr:{visit.id}:9") == "评分只能是 1 到 5 分。"
    assert await forge(tg, CADRE_USER, f"vc:{visit.id}:1") == "这条走访记录与您无关，不能由您确认。"
    assert await forge(tg, H2_USER, f"vc:{visit.id}:0") == await _ko(app, render.not_your_visit_text)
    assert await forge(tg, CADRE_USER, f"vr:{visit.id}:5") == "这条走访记录与您无关，不能由您确认。"
    [visit] = await visits(sessionmaker)
    assert (visit.confirmation, visit.rating, visit.flagged) == (VisitConfirmation.CONFIRMED, 4, False)

    # the old summary's 确认保存 belongs to a finished dialog
    old = await tg.press(CADRE_USER, summary["message_id"], callback_datas(summary)[0])
    assert await alert(tg, old) == "这个按钮已失效，请重新发送 /visit。"
    assert len(await visits(sessionmaker)) == 1


async def test_cadre_cannot_confirm_own_visit_before_the_household(tg, chat_people, sessionmaker, app) -> None:
    await log_simple_visit(tg, "张大山")
    [visit] = await visits(sessionmaker)
    assert await forge(tg, CADRE_USER, f"vc:{visit.id}:1") == "这条走访记录与您无关，不能由您确认。"
    assert await forge(tg, H2_USER, f"vc:{visit.id}:1") == await _ko(app, render.not_your_visit_text)
    assert await forge(tg, H1_USER, f"vr:{visit.id}:4") == "请先确认这次走访，再评分。"
    assert await forge(tg, H1_USER, f"vc:{visit.id}:7") == "这个按钮已失效，请重新发送 /visit。"
    [visit] = await visits(sessionmaker)
    assert visit.confirmation is VisitConfirmation.PENDING and visit.rating is None


async def test_korean_household_denies_and_flags_show_in_scope(tg, chat_people, sessionmaker, app) -> None:
    [saved] = await log_simple_visit(tg, "김순자", day="昨天", kind="电话联系")
    assert saved["text"] == "走访记录已保存。\n已请 김순자 确认这次走访。"
    question = await last_bot(tg, H2_USER)
    with app.i18n.context(), app.i18n.use_locale("ko"):
        expected = render.confirm_question_text("刘干部", TODAY - timedelta(days=1), VisitKind.PHONE, "ko")
        no_label = render.confirm_keyboard(1).inline_keyboard[0][1].text
    assert question["text"] == expected
    assert format_date(TODAY - timedelta(days=1), "ko") in question["text"]  # the Korean date format
    assert labels(question)[1] == no_label
    denied = await press_one(tg, H2_USER, 1)
    with app.i18n.context(), app.i18n.use_locale("ko"):
        assert denied["text"] == render.denied_text()
    [visit] = await visits(sessionmaker)
    assert (visit.confirmation, visit.flagged, visit.flagged_at) == (VisitConfirmation.DENIED, True, NOW)

    line = f"📅 {format_date(TODAY - timedelta(days=1), 'zh_Hans')} · 김순자（一村）"
    for viewer in (ADMIN_USER, SUPERVISOR_USER):
        flags = await say_one(tg, viewer, "/flags")
        assert flags["text"].splitlines()[0] == "存疑的走访记录（共 1 条，第 1/1 页）："
        assert line in flags["text"]
        assert "干部：刘干部 · 电话联系" in flags["text"] and "原因：贫困户表示没有这次走访" in flags["text"]
    assert (await say_one(tg, OTHER_ADMIN_USER, "/flags"))["text"] == "目前没有存疑的走访记录。"
    refusal = "只有管理员和负责督导其他干部的干部可以查看存疑的走访记录。"
    for user in (CADRE_USER, CADRE_KO_USER, H1_USER, PUBLIC_USER):
        reply = await say_one(tg, user, "/flags")
        if user == CADRE_KO_USER:
            with app.i18n.context(), app.i18n.use_locale("ko"):
                assert reply["text"] == render.flags_refused_text()
        else:
            assert reply["text"] == refusal


async def test_unanswered_visit_expires_and_shows_in_flags(tg, chat_people, sessionmaker, clock) -> None:
    await log_simple_visit(tg, "张大山")
    clock.now = NOW + timedelta(days=3)  # exactly the deadline: not yet
    assert (await say_one(tg, ADMIN_USER, "/flags"))["text"] == "目前没有存疑的走访记录。"
    clock.now = NOW + timedelta(days=3, minutes=1)
    flags = await say_one(tg, SUPERVISOR_USER, "/flags")
    assert "张大山（一村）" in flags["text"] and "原因：贫困户 3 天内没有确认" in flags["text"]
    [visit] = await visits(sessionmaker)
    assert (visit.confirmation, visit.flagged) == (VisitConfirmation.EXPIRED, True)
    # too late to answer
    question = await last_bot(tg, H1_USER)
    late = await tg.press(H1_USER, question["message_id"], callback_datas(question)[0])
    assert await alert(tg, late) == "您已经回答过这次走访了。"


async def test_unbound_household_is_saved_not_asked(tg, chat_people, sessionmaker) -> None:
    [saved] = await log_simple_visit(tg, "王<小>二", day="前天", kind="集中会面")
    assert saved["text"] == "走访记录已保存。\n王<小>二 还没有绑定账号，不会请他们确认这次走访。"
    [visit] = await visits(sessionmaker)
    assert (visit.household_id, visit.visited_on, visit.kind, visit.confirmation, visit.confirm_due_at) == (
        chat_people.h3, TODAY - timedelta(days=2), VisitKind.MEETING, VisitConfirmation.NOT_ASKED, None)


async def test_bad_inputs_at_every_step(tg, chat_people, sessionmaker) -> None:
    await start_visit(tg, "张大山")
    unreadable = "没有看懂这个日期。请输入例如 2026-11-20 或 11月20日，或点下面的按钮。"
    assert (await say_one(tg, CADRE_USER, "abc"))["text"] == unreadable
    for typed, shown in (("明天", date(2026, 11, 30)), ("12月1日", date(2026, 12, 1)),
                         ("2026-12-01", date(2026, 12, 1))):
        reply = await say_one(tg, CADRE_USER, typed)
        assert reply["text"] == f"走访日期不能是将来的日子（{format_date(shown, 'zh_Hans')}）。请重新输入走访日期。"
        assert labels(reply) == ["今天", "昨天", "前天", "取消"]
    too_old = await say_one(tg, CADRE_USER, "2026-10-29")  # 31 days back
    assert too_old["text"] == (
        f"只能登记最近 30 天内的走访，{format_date(date(2026, 10, 29), 'zh_Hans')} 太早了。请重新输入走访日期。")
    sent = await tg.send_photo(CADRE_USER, png())
    [reply] = await tg.wait_replies(CADRE_USER, after_seq=sent["seq"])
    assert reply["text"] == unreadable
    ask_kind = await say_one(tg, CADRE_USER, "11月20日")
    assert ask_kind["text"] == "走访方式是？请点下面的按钮选择。"
    assert (await say_one(tg, CADRE_USER, "入户走访"))["text"] == "走访方式是？请点下面的按钮选择。"
    await press_one(tg, CADRE_USER, "电话联系")

    not_text = "这一步需要文字：请输入这次走访的情况。"
    sent = await tg.send_photo(CADRE_USER, png())
    assert text_of((await tg.wait_replies(CADRE_USER, after_seq=sent["seq"]))[0]) == not_text
    sent = await tg.send_sticker(CADRE_USER)
    assert text_of((await tg.wait_replies(CADRE_USER, after_seq=sent["seq"]))[0]) == not_text
    too_long = await say_one(tg, CADRE_USER, "访" * 2001)
    assert too_long["text"] == "记录太长了（2001 字），最多 2000 字。请精简后重新发送。"
    await say_one(tg, CADRE_USER, "电话了解情况")

    want_location = "这一步需要发送位置，或者点“跳过”。"
    assert (await say_one(tg, CADRE_USER, "在村委会"))["text"] == want_location
    sent = await tg.send_photo(CADRE_USER, png())
    assert text_of((await tg.wait_replies(CADRE_USER, after_seq=sent["seq"]))[0]) == want_location
    await press_one(tg, CADRE_USER, "跳过")

    want_photo = "这一步需要发送照片，或者点“跳过”。"
    assert (await say_one(tg, CADRE_USER, "没有照片"))["text"] == want_photo
    sent = await tg.send_location(CADRE_USER, 41.0, 128.0)
    assert text_of((await tg.wait_replies(CADRE_USER, after_seq=sent["seq"]))[0]) == want_photo
    summary = await press_one(tg, CADRE_USER, "跳过")
    assert "位置：未提供" in summary["text"] and "照片：未附" in summary["text"]
    assert "日期：" + format_date(date(2026, 11, 20), "zh_Hans") in summary["text"]
    assert (await say_one(tg, CADRE_USER, "好的"))["text"] == "请点下面的按钮选择。"
    [saved] = await press(tg, CADRE_USER, "确认保存")
    assert saved["text"].startswith("走访记录已保存。")
    [visit] = await visits(sessionmaker)
    assert (visit.visited_on, visit.kind, visit.notes, visit.latitude, visit.photo_file_id) == (
        date(2026, 11, 20), VisitKind.PHONE, "电话了解情况", None, None)


async def test_forged_household_and_values(tg, chat_people, sessionmaker, app) -> None:
    picker = await say_one(tg, CADRE_USER, "/visit")
    nonce = callback_datas(picker)[0].split(":")[2]
    assert await forge(tg, CADRE_USER, f"vw:h:{nonce}:{chat_people.h5}") == "您不能为这户登记走访。"
    assert await forge(tg, CADRE_USER, f"vw:h:{nonce}:abc") == "您不能为这户登记走访。"
    assert await forge(tg, CADRE_USER, f"vw:h:deadbeef:{chat_people.h1}") == "这个按钮已失效，请重新发送 /visit。"
    assert await forge(tg, CADRE_USER, f"vw:save:{nonce}:") == "这个按钮已失效，请重新发送 /visit。"
    assert await forge(tg, CADRE_USER, "vw:save") == "这个按钮已失效，请重新发送命令。"  # malformed: fallback
    # another cadre (朴) and a household cannot use 刘's dialog buttons
    assert await forge(tg, CADRE_KO_USER, f"vw:h:{nonce}:{chat_people.h5}") == await _ko(
        app, render.stale_dialog_text)
    assert await forge(tg, H1_USER, f"vw:h:{nonce}:{chat_people.h1}") == "这个按钮已失效，请重新发送 /visit。"
    # still at the picker: a real household works
    await press_one(tg, CADRE_USER, "张大山")
    assert await forge(tg, CADRE_USER, f"vw:d:{nonce}:40") == "这个按钮已失效，请重新发送 /visit。"
    await press_one(tg, CADRE_USER, "今天")
    assert await forge(tg, CADRE_USER, f"vw:k:{nonce}:party") == "这个按钮已失效，请重新发送 /visit。"
    assert await visits(sessionmaker) == []


async def test_visit_for_a_household_lost_mid_dialog_is_not_saved(tg, chat_people, sessionmaker) -> None:
    """The pairing ends while the dialog is open: saving re-checks and writes nothing."""
    from sqlalchemy import update

    from storage.models import Pairing

    await start_visit(tg, "张大山")
    await press_one(tg, CADRE_USER, "今天")
    await press_one(tg, CADRE_USER, "入户走访")
    await say_one(tg, CADRE_USER, NOTES)
    await press_one(tg, CADRE_USER, "跳过")
    await press_one(tg, CADRE_USER, "跳过")
    async with sessionmaker() as s:
        await s.execute(update(Pairing).where(Pairing.id == chat_people.pairing_h1).values(end_date=TODAY))
        await s.commit()
    [reply] = await press(tg, CADRE_USER, "确认保存")
    assert reply["text"] == "您不能为这户登记走访（不是您帮扶的贫困户）。走访没有保存。"
    assert await visits(sessionmaker) == []


STEPS = ["household", "date", "kind", "notes", "location", "photo", "confirm"]


async def _walk_to(tg, step: str) -> None:
    await say_one(tg, CADRE_USER, "/visit")
    actions = [
        lambda: press_one(tg, CADRE_USER, "张大山"),
        lambda: press_one(tg, CADRE_USER, "今天"),
        lambda: press_one(tg, CADRE_USER, "入户走访"),
        lambda: say_one(tg, CADRE_USER, NOTES),
        lambda: press_one(tg, CADRE_USER, "跳过"),
        lambda: press_one(tg, CADRE_USER, "跳过"),
    ]
    for action in actions[: STEPS.index(step)]:
        await action()


@pytest.mark.parametrize("step", STEPS)
async def test_cancel_at_each_step(tg, chat_people, sessionmaker, step: str) -> None:
    await _walk_to(tg, step)
    prompt = await last_bot(tg, CADRE_USER)
    assert (await say_one(tg, CADRE_USER, "/cancel"))["text"] == "已取消，走访没有保存。"
    if prompt.get("reply_markup"):  # the buttons of the cancelled dialog are stale now
        stale = await tg.press(CADRE_USER, prompt["message_id"], callback_datas(prompt)[0])
        assert await alert(tg, stale) == "这个按钮已失效，请重新发送 /visit。"
    assert (await say_one(tg, CADRE_USER, "/cancel"))["text"] == "当前没有进行中的操作。"
    assert await visits(sessionmaker) == []


async def test_cancel_button_and_restarting_the_command(tg, chat_people, sessionmaker) -> None:
    first = await say_one(tg, CADRE_USER, "/visit")
    await press_one(tg, CADRE_USER, "张大山")
    # /visit again: a new dialog; the old picker's buttons are stale
    await say_one(tg, CADRE_USER, "/visit")
    stale = await tg.press(CADRE_USER, first["message_id"], callback_datas(first)[0])
    assert await alert(tg, stale) == "这个按钮已失效，请重新发送 /visit。"
    cancelled = await press_one(tg, CADRE_USER, "取消")
    assert cancelled["text"] == "已取消，走访没有保存。"
    assert await visits(sessionmaker) == []


async def test_abandoned_dialog_resumed_later(tg, chat_people, sessionmaker, clock) -> None:
    await start_visit(tg, "张大山")
    await press_one(tg, CADRE_USER, "昨天")
    clock.now = NOW + timedelta(days=2)  # the cadre comes back two days later
    await press_one(tg, CADRE_USER, "入户走访")
    await say_one(tg, CADRE_USER, NOTES)
    await press_one(tg, CADRE_USER, "跳过")
    await press_one(tg, CADRE_USER, "跳过")
    [saved] = await press(tg, CADRE_USER, "确认保存")
    assert saved["text"].startswith("走访记录已保存。")
    [visit] = await visits(sessionmaker)
    assert visit.visited_on == TODAY - timedelta(days=1)
    assert visit.confirm_due_at == clock.now + timedelta(days=3)


async def test_resumed_too_late_is_not_saved(tg, chat_people, sessionmaker, clock) -> None:
    await _walk_to(tg, "confirm")
    clock.now = NOW + timedelta(days=31)
    [reply] = await press(tg, CADRE_USER, "确认保存")
    assert reply["text"] == "走访日期已经超出最近 30 天，走访没有保存。请重新发送 /visit 登记。"
    assert await visits(sessionmaker) == []


async def test_visit_is_for_cadres_only(tg, chat_people) -> None:
    for user in (H1_USER, ADMIN_USER, PUBLIC_USER):
        reply = await say_one(tg, user, "/visit")
        assert reply["text"] == "没有这个命令，或者您没有使用它的权限。发送 /help 查看可用命令。"
    # the supervisor has no household of their own
    assert (await say_one(tg, SUPERVISOR_USER, "/visit"))["text"] == "您目前没有结对帮扶的贫困户，无法登记走访。"


async def test_blocked_household_does_not_undo_the_visit(tg, chat_people, sessionmaker) -> None:
    await tg.block(H1_USER)
    [saved] = await log_simple_visit(tg, "张大山")
    assert "没能把确认请求发给 张大山" in saved["text"]
    [visit] = await visits(sessionmaker)
    assert visit.confirmation is VisitConfirmation.PENDING


async def test_flags_paging(tg, chat_people, sessionmaker) -> None:
    from sqlalchemy import insert

    from storage.models import Visit

    async with sessionmaker() as s:
        await s.execute(insert(Visit), [
            {"cadre_id": chat_people.cadre, "household_id": chat_people.h1, "visited_on": TODAY - timedelta(days=i),
             "kind": VisitKind.HOME, "notes": "x", "confirmation": VisitConfirmation.DENIED, "flagged": True,
             "flagged_at": NOW - timedelta(hours=i)}
            for i in range(12)
        ])
        await s.commit()
    first = await say_one(tg, ADMIN_USER, "/flags")
    assert first["text"].splitlines()[0] == "存疑的走访记录（共 12 条，第 1/2 页）："
    assert first["text"].count("📅") == 10 and labels(first) == ["下一页 ▶"]
    pressed = await tg.press_button(ADMIN_USER, "下一页 ▶")
    [edit] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"])
    assert edit["text"].splitlines()[0] == "存疑的走访记录（共 12 条，第 2/2 页）："
    assert edit["text"].count("📅") == 2 and labels(edit) == ["◀ 上一页"]
    # a household forging the page button is refused
    assert await forge(tg, H1_USER, "vf:0") == "只有管理员和负责督导其他干部的干部可以查看存疑的走访记录。"


async def test_leader_picks_from_the_led_village_with_pages(tg, chat_people, sessionmaker) -> None:
    """李 leads village 1 (联系点): its households, paged by 8; a household elsewhere is refused."""
    from storage.models import Cadre, Household

    async with sessionmaker() as s:
        (await s.get(Cadre, chat_people.supervisor)).leader_village_id = chat_people.village_1
        s.add_all([Household(reg_no=f"W01{i:02d}", head_name=f"村民{i:02d}", village_id=chat_people.village_1)
                   for i in range(6)])
        await s.commit()
    first = await say_one(tg, SUPERVISOR_USER, "/visit")
    assert len(labels(first)) == 8 + 2 and labels(first)[-2:] == ["下一页 ▶", "取消"]
    nonce = callback_datas(first)[0].split(":")[2]
    pressed = await tg.press_button(SUPERVISOR_USER, "下一页 ▶")
    [edit] = await tg.wait_replies(SUPERVISOR_USER, after_seq=pressed["seq"])
    assert labels(edit) == ["赵四（一村）", "김순자（一村）", "◀ 上一页", "取消"]
    assert await forge(tg, SUPERVISOR_USER, f"vw:h:{nonce}:{chat_people.h5}") == "您不能为这户登记走访。"
    ask_date = await press_one(tg, SUPERVISOR_USER, "赵四（一村）")
    assert "赵四（一村）" in ask_date["text"]
