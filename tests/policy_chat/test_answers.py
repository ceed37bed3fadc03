"""Free-text questions through the emulator: cited answers, refusals, 原文, 👍/👎, bad input."""

from __future__ import annotations

import pytest

from bot.policy.render import split_text, utf16_len
from storage.models import Account, CadreQuestion, PolicyFeedback, PolicyQuestion
from tests.policy_chat.conftest import (
    ANSWERS,
    HOUSEHOLD_KO_USER,
    HOUSEHOLD_USER,
    LONELY_USER,
    LONG_SECTION,
    PUBLIC_USER,
)
from tests.policy_chat.helpers import (
    DOC,
    ERROR_REPLY,
    ask_one,
    buttons,
    citation,
    count,
    labels,
    rows,
)

pytestmark = pytest.mark.usefixtures("app")


async def _account_id(sessionmaker, user_id: int) -> int:
    [account] = await rows(sessionmaker, Account, Account.telegram_user_id == user_id)
    return account.id


async def test_answer_and_citation_exact(tg, app, people, sessionmaker) -> None:
    reply = await ask_one(tg, PUBLIC_USER, "贷款要抵押吗")
    assert reply["text"] == f"{ANSWERS[32]['zh_Hans']}\n\n依据：《{DOC}》（三十二）"
    assert labels(reply)[:3] == ["原文", "👍", "👎"]  # no 'ask my cadre' for the public
    related = labels(reply)[3:]  # the runners-up, offered as "may be related", never the cited one
    assert len(related) <= 2 and all(label.startswith("📄 （") for label in related)
    assert "📄 （三十二）创新金融扶贫机制" not in related
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(reply))
    [logged] = await rows(sessionmaker, PolicyQuestion)
    assert logged.account_id == await _account_id(sessionmaker, PUBLIC_USER)
    assert (logged.question, logged.section_number, logged.answered, logged.locale) == (
        "贷款要抵押吗", 32, True, "zh_Hans")
    assert logged.score is not None and logged.score > 0
    assert "贷款要抵押吗" not in str([b["callback_data"] for b in buttons(reply)])


async def test_bound_household_with_cadre_gets_ask_button(tg, people) -> None:
    reply = await ask_one(tg, HOUSEHOLD_USER, "看病能报多少")
    assert reply["text"].startswith(ANSWERS[10]["zh_Hans"])
    assert reply["text"].endswith(f"依据：《{DOC}》（十）")
    assert labels(reply)[:3] == ["原文", "👍", "👎"] and labels(reply)[-1] == "问我的帮扶干部"
    # A household whose pairing has ended is not offered the button.
    lonely = await ask_one(tg, LONELY_USER, "看病能报多少")
    assert "问我的帮扶干部" not in labels(lonely)


async def test_answer_follows_the_interface_language(tg, app, people, sessionmaker) -> None:
    # A Korean-interface user asking in Chinese gets the Korean answer.
    reply = await ask_one(tg, HOUSEHOLD_KO_USER, "贷款要抵押吗")
    assert reply["text"] == f"{ANSWERS[32]['ko']}\n\n{citation(app.i18n, 'ko', '三十二')}"
    # An English-interface user asking in Korean gets English.
    await tg.add_user(3401, first_name="Ann", language_code="en")
    reply = await ask_one(tg, 3401, "대출 받을 때 담보가 필요해요?")
    assert reply["text"] == f"{ANSWERS[32]['en']}\n\n{citation(app.i18n, 'en', '三十二')}"
    assert "《关于全面推进脱贫攻坚的实施意见》（三十二）" in reply["text"]  # the source stays verbatim
    locales = [q.locale for q in await rows(sessionmaker, PolicyQuestion)]
    assert locales == ["ko", "en"]


async def test_refusal_names_no_section_and_offers_a_next_step(tg, people, sessionmaker) -> None:
    public = await ask_one(tg, PUBLIC_USER, "明天的天气预报怎么样，会不会下雪")
    assert "依据" not in public["text"] and "（" not in public["text"].replace(f"《{DOC}》", "")
    assert "村委会" in public["text"] and "/topics" in public["text"]
    # at most "may be related" buttons (this small corpus has one), never a citation
    assert all(label.startswith("📄 （") for label in labels(public))
    assert all(b["callback_data"].startswith("ps:show:") for b in buttons(public))
    household = await ask_one(tg, HOUSEHOLD_USER, "明天的天气预报怎么样，会不会下雪")
    assert "依据" not in household["text"]
    assert labels(household)[-1] == "问我的帮扶干部"
    nothing = await ask_one(tg, PUBLIC_USER, "今天星期几")
    assert "依据" not in nothing["text"] and "可能与您的问题有关" not in nothing["text"]
    assert not nothing.get("reply_markup")
    logged = await rows(sessionmaker, PolicyQuestion)
    assert [q.answered for q in logged] == [False, False, False]


async def test_original_text_is_split_under_the_limit(tg, people, policy) -> None:
    section = policy.corpus.sections[LONG_SECTION]
    assert len(section.text) >= 9000
    reply = await ask_one(tg, PUBLIC_USER, f"{section.title}是怎么规定的")
    assert reply["text"].endswith(f"（{section.label}）")
    pressed = await tg.press(PUBLIC_USER, reply["message_id"], f"ps:orig:{LONG_SECTION}")
    expected = len(split_text(section.text))
    assert expected >= 3
    parts = await tg.wait_replies(PUBLIC_USER, after_seq=pressed["seq"], count=expected)
    texts = [p["text"] for p in parts]
    assert all(utf16_len(t) <= 4096 for t in texts)
    assert "".join(texts).replace("\n", "") == section.text.replace("\n", "")
    assert "<b>要点</b>&细节" in "".join(texts)  # shown literally: escaped, never cut inside an entity
    # A short section is one message, equal to the text.
    pressed = await tg.press(PUBLIC_USER, reply["message_id"], "ps:orig:32", forged=True)
    [short] = await tg.wait_replies(PUBLIC_USER, after_seq=pressed["seq"])
    assert short["text"] == policy.corpus.sections[32].text


async def test_feedback_is_stored_and_updated(tg, people, sessionmaker) -> None:
    reply = await ask_one(tg, HOUSEHOLD_USER, "贷款要抵押吗")
    [question] = await rows(sessionmaker, PolicyQuestion)
    up = await tg.press(HOUSEHOLD_USER, reply["message_id"], f"pq:up:{question.id}")
    answer = await tg.callback_answer(up["callback_query_id"])
    assert answer["answer"]["text"] == "谢谢您的反馈！" and not answer["answer"].get("show_alert")
    [fb] = await rows(sessionmaker, PolicyFeedback)
    assert (fb.helpful, fb.section_number, fb.question, fb.locale) == (True, 32, "贷款要抵押吗", "zh_Hans")
    assert fb.account_id == question.account_id and fb.score == question.score
    down = await tg.press(HOUSEHOLD_USER, reply["message_id"], f"pq:down:{question.id}")
    await tg.callback_answer(down["callback_query_id"])
    [fb] = await rows(sessionmaker, PolicyFeedback)
    assert fb.helpful is False


async def test_forged_callbacks_are_refused_and_write_nothing(tg, people, sessionmaker) -> None:
    own = await ask_one(tg, HOUSEHOLD_USER, "贷款要抵押吗")
    [victim] = await rows(sessionmaker, PolicyQuestion)
    attacker = await ask_one(tg, HOUSEHOLD_KO_USER, "看病能报多少")
    refusal = await ask_one(tg, PUBLIC_USER, "明天的天气预报怎么样，会不会下雪")
    [*_, refused_q] = await rows(sessionmaker, PolicyQuestion)
    forged = [
        (HOUSEHOLD_KO_USER, attacker, f"pq:up:{victim.id}"),
        (HOUSEHOLD_KO_USER, attacker, f"pq:down:{victim.id}"),
        (HOUSEHOLD_KO_USER, attacker, f"pq:ask:{victim.id}"),
        (HOUSEHOLD_KO_USER, attacker, "pq:up:999999"),
        (HOUSEHOLD_KO_USER, attacker, "pq:up:abc"),
        (HOUSEHOLD_KO_USER, attacker, "pq:delete:1"),
        (HOUSEHOLD_KO_USER, attacker, "ps:orig:99"),
        (HOUSEHOLD_KO_USER, attacker, "ps:show:0"),
        (HOUSEHOLD_KO_USER, attacker, "pt:list:nope:0:0"),
        (HOUSEHOLD_KO_USER, attacker, "pt:list:production:7:0"),
        (HOUSEHOLD_KO_USER, attacker, "pt:sec:production:0:10"),  # section 10 is not in that topic
        (HOUSEHOLD_KO_USER, attacker, "cq:1"),
        (PUBLIC_USER, refusal, f"pq:up:{refused_q.id}"),  # no feedback on a refusal
        (PUBLIC_USER, refusal, f"pq:ask:{refused_q.id}"),  # the public has no cadre
        (HOUSEHOLD_USER, own, "pq:ask:0"),
    ]
    for user_id, message, data in forged:
        pressed = await tg.press(user_id, message["message_id"], data, forged=True)
        answer = await tg.callback_answer(pressed["callback_query_id"])
        assert answer["answer"].get("show_alert") is True, data
    assert await count(sessionmaker, PolicyFeedback) == 0
    assert await count(sessionmaker, CadreQuestion) == 0


BAD_INPUTS = [
    "？？？",
    "钱",
    "低保" * 2000,  # 4,000 characters
    "😀😀🙏",
    "請問低保怎麼申請，看病能報銷多少",  # traditional characters
    "我想问 dibao 怎么 apply，대출 돼요?",  # mixed languages
    "di bao zen me shen qing",  # pinyin
    "1234567890",
    "<b>低保</b>",
    "<script>alert(1)</script> & 贷款 &amp;",
    "a",
    "   。   ",
]


@pytest.mark.parametrize("text", BAD_INPUTS)
async def test_bad_input_gets_a_sensible_reply(tg, people, sessionmaker, text) -> None:
    reply = await ask_one(tg, PUBLIC_USER, text)
    assert reply["text"].strip() and ERROR_REPLY not in reply["text"]
    [logged] = await rows(sessionmaker, PolicyQuestion)
    assert len(logged.question) <= 1000
    assert logged.answered in (True, False)
    if not logged.answered:
        assert "依据" not in reply["text"]
    else:
        assert "依据：" in reply["text"]


async def test_no_personal_data_in_the_log(tg, people, caplog) -> None:
    caplog.set_level("DEBUG", logger="handlers")
    caplog.set_level("DEBUG", logger="bot.policy")
    await ask_one(tg, HOUSEHOLD_USER, "贷款要抵押吗，我叫张秘密")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("handlers", "bot.policy")))
    assert "张秘密" not in logged and "贷款" not in logged
