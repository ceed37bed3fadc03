"""A smoke test on the shipped corpus (bot/policy/data): the chat renders its answers."""

from __future__ import annotations

import re

import pytest

from bot.policy.service import PolicyService
from tests.policy_chat.conftest import PUBLIC_USER
from tests.policy_chat.helpers import ERROR_REPLY, ask_one, labels

pytestmark = pytest.mark.usefixtures("app")

CITATION = re.compile(r"\n\n依据：《关于全面推进脱贫攻坚的实施意见》（[一二三四五六七八九十]+）$")


@pytest.fixture(scope="module")
def real_policy() -> PolicyService:
    return PolicyService()


@pytest.fixture
def policy(real_policy: PolicyService) -> PolicyService:
    return real_policy


async def test_real_corpus_answers_and_refuses(tg, people, real_policy) -> None:
    assert len(real_policy.corpus.sections) == 40
    for question in ("娃上高中要交学费不", "看病能报多少", "贷款要抵押吗"):
        reply = await ask_one(tg, PUBLIC_USER, question)
        assert ERROR_REPLY not in reply["text"]
        if "依据：" in reply["text"]:
            assert CITATION.search(reply["text"]), reply["text"]
            assert labels(reply)[:3] == ["原文", "👍", "👎"]
            assert all(label.startswith("📄 （") for label in labels(reply)[3:])
    refusal = await ask_one(tg, PUBLIC_USER, "世界杯决赛几点开始直播")
    assert "依据" not in refusal["text"] and "村委会" in refusal["text"]
    assert not refusal.get("reply_markup")  # nothing near it: no "may be related" buttons


async def test_refusal_offers_sections_that_may_be_related(tg, people, real_policy) -> None:
    # Pensions are not in the document (a refusal, no citation), but social-security
    # support (十一) is near: it is offered as a button, and the button opens its answer.
    refusal = await ask_one(tg, PUBLIC_USER, "养老金怎么领")
    assert "依据" not in refusal["text"] and "可能与您的问题有关" in refusal["text"]
    section = real_policy.corpus.sections[11]
    assert labels(refusal) == [f"📄 （十一）{section.title}"]
    pressed = await tg.press(PUBLIC_USER, refusal["message_id"], "ps:show:11")
    [shown] = await tg.wait_replies(PUBLIC_USER, after_seq=pressed["seq"])
    assert shown["text"].startswith(section.answer_for("zh_Hans").strip()[:20])
    assert shown["text"].endswith("（十一）") and labels(shown) == ["原文"]
