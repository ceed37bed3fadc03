"""/topics through the emulator: topics → sections (pages of 8) → answer → back, one edited message."""

from __future__ import annotations

import pytest

from tests.policy_chat.conftest import HOUSEHOLD_KO_USER, PUBLIC_USER, TOPICS
from tests.policy_chat.helpers import DOC, buttons, labels

pytestmark = pytest.mark.usefixtures("app")


async def _press(tg, user_id: int, label: str) -> dict:
    pressed = await tg.press_button(user_id, label)
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert not answer["answer"].get("show_alert"), answer
    [edited] = await tg.wait_replies(user_id, after_seq=pressed["seq"])
    assert edited["event"] == "edit" and edited["message_id"] == pressed["message_id"]
    return edited


async def test_navigation_with_paging_and_back(tg, app, people, policy) -> None:
    [menu] = await tg.ask(PUBLIC_USER, "/topics")
    assert labels(menu) == [zh for _, zh, _, _ in TOPICS]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons(menu))

    page1 = await _press(tg, PUBLIC_USER, "发展生产与就业")
    assert page1["message_id"] == menu["message_id"]
    production = policy.corpus.sections_for_topic("production")
    assert len(production) == 9
    headings = [f"（{s.label}）{s.title}" for s in production]
    assert page1["text"] == "主题：发展生产与就业\n请选择条目：\n第 1/2 页"
    assert labels(page1) == [*headings[:8], "下一页 ›", "« 返回"]

    page2 = await _press(tg, PUBLIC_USER, "下一页 ›")
    assert labels(page2) == [headings[8], "‹ 上一页", "« 返回"]
    assert page2["text"].endswith("第 2/2 页")

    section = production[8]
    shown = await _press(tg, PUBLIC_USER, headings[8])
    assert shown["text"] == f"{section.answer_for('zh_Hans')}\n\n依据：《{DOC}》（{section.label}）"
    assert labels(shown) == ["原文", "« 返回"]

    back = await _press(tg, PUBLIC_USER, "« 返回")
    assert labels(back) == labels(page2)  # back to the page it came from
    again1 = await _press(tg, PUBLIC_USER, "‹ 上一页")
    assert labels(again1) == labels(page1)
    root = await _press(tg, PUBLIC_USER, "« 返回")
    assert labels(root) == labels(menu) and root["message_id"] == menu["message_id"]
    # Only one bot message was ever sent for the whole navigation.
    bot_messages = [m for m in await tg.messages(PUBLIC_USER) if m["from_bot"]]
    assert len(bot_messages) == 1

    # 原文 from the section view sends the original text as new messages.
    await _press(tg, PUBLIC_USER, "突发困难与一事一议")
    await _press(tg, PUBLIC_USER, "（十二）一事一议帮扶脱贫一批")
    pressed = await tg.press_button(PUBLIC_USER, "原文")
    [original] = await tg.wait_replies(PUBLIC_USER, after_seq=pressed["seq"])
    assert original["event"] == "message" and original["text"] == policy.corpus.sections[12].text


async def test_topics_in_korean(tg, app, people, policy) -> None:
    [menu] = await tg.ask(HOUSEHOLD_KO_USER, "/topics")
    assert labels(menu) == [ko for _, _, ko, _ in TOPICS]
    medical = await _press(tg, HOUSEHOLD_KO_USER, "의료")
    assert labels(medical)[0] == "（十）医疗保险和医疗救助脱贫一批"  # the document's title: the citation
    shown = await _press(tg, HOUSEHOLD_KO_USER, "（十）医疗保险和医疗救助脱贫一批")
    assert shown["text"].startswith(policy.corpus.sections[10].answer_for("ko"))
    assert "《关于全面推进脱贫攻坚的实施意见》（十）" in shown["text"]


async def test_pressing_the_same_page_twice_is_harmless(tg, people) -> None:
    [menu] = await tg.ask(PUBLIC_USER, "/topics")
    data = next(b["callback_data"] for b in buttons(menu) if b["text"] == "教育")
    for forged in (False, True):  # a double tap: the second press finds the page already shown
        pressed = await tg.press(PUBLIC_USER, menu["message_id"], data, forged=forged)
        answer = await tg.callback_answer(pressed["callback_query_id"])
        assert not answer["answer"].get("show_alert")
