"""The held-out question set through the real Bot API path: for every question the bot's
reply cites exactly the section the engine chose (or refuses when the engine refuses),
and the accuracy seen by users equals the engine's own.

The accuracy targets themselves are measured and recorded by
`python -m bot.policy.evaluate` (see BENCHMARKS.md), not asserted here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.policy.service import PolicyService
from tests.policy_chat.conftest import PUBLIC_USER
from tests.policy_chat.helpers import ERROR_REPLY
from tests.policy_chat.test_real_corpus import real_policy  # noqa: F401

pytestmark = pytest.mark.usefixtures("app")

QUESTIONS = Path(__file__).resolve().parents[1] / "policy" / "questions.yaml"
CITED = re.compile(r"依据：《关于全面推进脱贫攻坚的实施意见》（([一二三四五六七八九十]+)）$")


@pytest.fixture
def policy(real_policy: PolicyService) -> PolicyService:  # noqa: F811
    return real_policy


async def test_every_question_is_answered_as_the_engine_decides(tg, people, real_policy) -> None:  # noqa: F811
    questions = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))["questions"]
    labels = {s.label: n for n, s in real_policy.corpus.sections.items()}
    correct_chat = correct_engine = 0
    for item in questions:
        [reply] = await tg.ask(PUBLIC_USER, item["q"], timeout=10)
        text = reply["text"]
        assert ERROR_REPLY not in text, item["q"]
        match = CITED.search(text)
        cited = labels[match.group(1)] if match else None
        result = real_policy.engine.ask(item["q"])
        expected = result.best.section.number if result.answered and result.best else None
        assert cited == expected, (item["q"], cited, expected)
        if item["expect"]:
            correct_chat += cited in item["expect"]
            correct_engine += expected in item["expect"]
        else:
            correct_chat += cited is None
            correct_engine += expected is None
    assert correct_chat == correct_engine
    assert correct_chat / len(questions) > 0.5  # a sanity floor; the targets live in BENCHMARKS.md
