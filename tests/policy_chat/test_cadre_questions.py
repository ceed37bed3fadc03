"""问我的帮扶干部: household → cadre → household, in each person's language, through the emulator."""

from __future__ import annotations

import pytest

from storage.enums import Role
from storage.models import Account, CadreQuestion, PolicyQuestion
from tests.policy_chat.conftest import (
    ANSWERS,
    CADRE_USER,
    HOUSEHOLD_KO_USER,
    HOUSEHOLD_USER,
    LONELY_USER,
    ORPHAN_USER,
    PUBLIC_USER,
)
from tests.policy_chat.helpers import ask_one, count, labels, last_bot_message, rows

pytestmark = pytest.mark.usefixtures("app")


def _t(app, locale: str, msgid: str, **fields: str) -> str:
    return app.i18n.gettext(msgid, locale=locale).format(**fields)


async def _ask_and_forward(tg, user_id: int, question: str) -> tuple[dict, dict]:
    """Ask, press 问我的帮扶干部; returns (the household's confirmation, the cadre's message)."""
    reply = await ask_one(tg, user_id, question)
    cadre_before = await tg.messages(CADRE_USER)
    pressed = await tg.press_button(user_id, "问我的帮扶干部")
    await tg.callback_answer(pressed["callback_query_id"])
    [confirmation] = await tg.wait_replies(user_id, after_seq=pressed["seq"])
    after = cadre_before[-1]["message_id"] if cadre_before else 0
    [to_cadre] = await tg.wait_replies(CADRE_USER, after_message_id=after)
    assert reply["message_id"] < confirmation["message_id"]
    return confirmation, to_cadre


async def test_round_trip_chinese_household_korean_cadre(tg, app, people, sessionmaker) -> None:
    confirmation, to_cadre = await _ask_and_forward(tg, HOUSEHOLD_USER, "贷款要抵押吗")
    assert confirmation["text"] == _t(app, "zh_Hans", "已把您的问题转给您的帮扶干部{name}，收到回复后会通知您。",
                                      name="刘干部")
    # The cadre reads it in Korean (the cadre's language); the household's name is shown literally.
    assert to_cadre["text"] == _t(app, "ko", "{name}（{reg_no}）问：{question}",
                                  name="张<三>", reg_no="H0001", question="贷款要抵押吗")
    assert labels(to_cadre) == [app.i18n.gettext("回复", locale="ko")]
    [row] = await rows(sessionmaker, CadreQuestion)
    assert (row.household_id, row.cadre_id, row.question, row.answered_at) == (
        people.household_id, people.cadre_id, "贷款要抵押吗", None)

    pressed = await tg.press_button(CADRE_USER, 0)
    await tg.callback_answer(pressed["callback_query_id"])
    [prompt] = await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    assert "/cancel" in prompt["text"]

    answer = "不用抵押，<b>5万元</b>以下 & 3年以内。"
    sent = await tg.send_text(CADRE_USER, answer)
    [to_household] = await tg.wait_replies(HOUSEHOLD_USER, after_message_id=confirmation["message_id"])
    assert to_household["text"].startswith(_t(app, "zh_Hans", "您的帮扶干部回复：{answer}", answer=answer))
    assert "贷款要抵押吗" in to_household["text"]
    [done] = await tg.wait_replies(CADRE_USER, after_seq=sent["seq"])
    assert done["text"] == _t(app, "ko", "已把您的回复发送给{name}。", name="张<三>")
    [row] = await rows(sessionmaker, CadreQuestion)
    assert row.answer == answer and row.answered_at is not None
    # The reply went to the household, not to the question-answering engine.
    cadre_account = (await rows(sessionmaker, Account, Account.telegram_user_id == CADRE_USER))[0]
    assert await count(sessionmaker, PolicyQuestion, PolicyQuestion.account_id == cadre_account.id) == 0

    # Asking the same question again is not forwarded twice.
    pressed = await tg.press(HOUSEHOLD_USER, (await _answer_message(tg, HOUSEHOLD_USER))["message_id"],
                             (await _ask_data(tg, HOUSEHOLD_USER)))
    await tg.callback_answer(pressed["callback_query_id"])
    [again] = await tg.wait_replies(HOUSEHOLD_USER, after_seq=pressed["seq"])
    assert again["text"] == _t(app, "zh_Hans", "这个问题已经转给您的帮扶干部了，请耐心等待回复。")
    assert await count(sessionmaker, CadreQuestion) == 1
    # A second 回复 on an answered question is refused.
    pressed = await tg.press(CADRE_USER, to_cadre["message_id"], f"cq:{row.id}")
    answer_cb = await tg.callback_answer(pressed["callback_query_id"])
    assert answer_cb["answer"]["show_alert"] is True


async def _answer_message(tg, user_id: int) -> dict:
    return [m for m in await tg.messages(user_id) if m["from_bot"] and "问我的帮扶干部" in labels(m)][-1]


async def _ask_data(tg, user_id: int) -> str:
    message = await _answer_message(tg, user_id)
    return next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row
                if b["text"] == "问我的帮扶干部")


async def test_round_trip_korean_household(tg, app, people, sessionmaker) -> None:
    reply = await ask_one(tg, HOUSEHOLD_KO_USER, "병원비는 얼마나 환급돼요?")
    assert reply["text"].startswith(ANSWERS[10]["ko"])
    ask_label = app.i18n.gettext("问我的帮扶干部", locale="ko")
    pressed = await tg.press_button(HOUSEHOLD_KO_USER, ask_label)
    await tg.callback_answer(pressed["callback_query_id"])
    [confirmation] = await tg.wait_replies(HOUSEHOLD_KO_USER, after_seq=pressed["seq"])
    assert confirmation["text"] == _t(app, "ko", "已把您的问题转给您的帮扶干部{name}，收到回复后会通知您。",
                                      name="刘干部")
    to_cadre = await _cadre_question_message(tg)
    assert to_cadre["text"] == _t(app, "ko", "{name}（{reg_no}）问：{question}",
                                  name="김영희", reg_no="H0002", question="병원비는 얼마나 환급돼요?")
    pressed = await tg.press_button(CADRE_USER, 0)
    await tg.callback_answer(pressed["callback_query_id"])
    await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    await tg.send_text(CADRE_USER, "입원비는 신농합으로 처리됩니다.")
    [to_household] = await tg.wait_replies(HOUSEHOLD_KO_USER, after_message_id=confirmation["message_id"])
    assert to_household["text"].startswith(
        _t(app, "ko", "您的帮扶干部回复：{answer}", answer="입원비는 신농합으로 처리됩니다."))


async def test_cancel_leaves_the_replying_state(tg, app, people, sessionmaker) -> None:
    await _ask_and_forward(tg, HOUSEHOLD_USER, "贷款要抵押吗")
    pressed = await tg.press_button(CADRE_USER, 0)
    await tg.callback_answer(pressed["callback_query_id"])
    await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    sticker = await tg.send_sticker(CADRE_USER)
    [text_only] = await tg.wait_replies(CADRE_USER, after_seq=sticker["seq"])
    assert "/cancel" in text_only["text"]
    [cancelled] = await tg.ask(CADRE_USER, "/cancel")
    assert cancelled["text"] == _t(app, "ko", "已取消回复。")
    # Now free text is a question again, answered in the cadre's language.
    [answer] = await tg.ask(CADRE_USER, "贷款要抵押吗")
    assert answer["text"].startswith(ANSWERS[32]["ko"])
    [row] = await rows(sessionmaker, CadreQuestion)
    assert row.answered_at is None
    # Commands still work inside the replying state, and the state still owns plain text.
    pressed = await tg.press(CADRE_USER, (await _cadre_question_message(tg))["message_id"], f"cq:{row.id}")
    await tg.callback_answer(pressed["callback_query_id"])
    await tg.wait_replies(CADRE_USER, after_seq=pressed["seq"])
    [topics] = await tg.ask(CADRE_USER, "/topics")
    assert topics.get("reply_markup")
    await tg.send_text(CADRE_USER, "可以申请")
    await tg.wait_replies(HOUSEHOLD_USER, after_message_id=(await last_bot_message(tg, HOUSEHOLD_USER))["message_id"])
    [row] = await rows(sessionmaker, CadreQuestion)
    assert row.answer == "可以申请"


async def _cadre_question_message(tg) -> dict:
    return [m for m in await tg.messages(CADRE_USER) if m["from_bot"] and m.get("reply_markup")
            and m["reply_markup"]["inline_keyboard"][0][0]["callback_data"].startswith("cq:")][-1]


async def test_households_that_cannot_reach_a_cadre(tg, app, people, sessionmaker) -> None:
    # The cadre of this household has no Telegram account.
    await ask_one(tg, ORPHAN_USER, "贷款要抵押吗")
    pressed = await tg.press_button(ORPHAN_USER, "问我的帮扶干部")
    await tg.callback_answer(pressed["callback_query_id"])
    [reply] = await tg.wait_replies(ORPHAN_USER, after_seq=pressed["seq"])
    assert reply["text"] == _t(app, "zh_Hans",
                               "您的帮扶干部暂时无法通过本机器人联系。建议您直接联系帮扶干部，或向所在村的村委会咨询。")
    # A household whose pairing ended gets no button; a replayed one explains there is no cadre.
    lonely = await ask_one(tg, LONELY_USER, "贷款要抵押吗")
    assert "问我的帮扶干部" not in labels(lonely)
    [*_, question] = await rows(sessionmaker, PolicyQuestion)
    pressed = await tg.press(LONELY_USER, lonely["message_id"], f"pq:ask:{question.id}", forged=True)
    await tg.callback_answer(pressed["callback_query_id"])
    [reply] = await tg.wait_replies(LONELY_USER, after_seq=pressed["seq"])
    assert "村委会" in reply["text"]
    assert await count(sessionmaker, CadreQuestion) == 0


async def test_forged_reply_buttons_are_refused(tg, people, sessionmaker) -> None:
    await _ask_and_forward(tg, HOUSEHOLD_USER, "贷款要抵押吗")
    [row] = await rows(sessionmaker, CadreQuestion)
    # A household, the public and another cadre cannot open the reply.
    await tg.add_user(3102, first_name="另一个干部", language_code="zh-hans")
    async with sessionmaker() as s:
        other = Account(telegram_user_id=3102, chat_id=3102, role=Role.CADRE, cadre_id=people.orphan_cadre_id)
        s.add(other)
        await s.commit()
    for user_id in (HOUSEHOLD_USER, PUBLIC_USER, 3102):
        message = await ask_one(tg, user_id, "贷款要抵押吗")
        pressed = await tg.press(user_id, message["message_id"], f"cq:{row.id}", forged=True)
        answer = await tg.callback_answer(pressed["callback_query_id"])
        assert answer["answer"]["show_alert"] is True
        # ...and their next text is still a question, not a reply.
        follow = await ask_one(tg, user_id, "看病能报多少")
        assert "依据" in follow["text"]
    [row] = await rows(sessionmaker, CadreQuestion)
    assert row.answer is None
