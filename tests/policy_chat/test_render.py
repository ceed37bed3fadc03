"""Unit tests of the pieces with no bot: splitting long texts, callback data sizes, schema."""

from __future__ import annotations

import html

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.policy.render import (
    CadreReplyCB,
    QuestionCB,
    SectionCB,
    TopicCB,
    original_messages,
    split_text,
    utf16_len,
)
from storage.models import Base


def _joined(pieces: list[str]) -> str:
    return "".join(pieces).replace("\n", "")


@pytest.mark.parametrize(
    "text",
    [
        "短文本。",
        "句子。" * 3000,  # sentences only
        ("第一段。" * 300 + "\n") * 10,  # paragraphs
        "字" * 10_000,  # one endless word
        "A&B<c>; " * 2000,  # entity-prone characters around every cut
        "😀汉" * 3000,  # astral characters count twice in UTF-16
        "x" * 4096,
        "x" * 4097,
    ],
)
def test_split_text_keeps_everything_within_the_limit(text: str) -> None:
    pieces = split_text(text)
    assert pieces and all(0 < utf16_len(p) <= 4096 for p in pieces)
    assert _joined(pieces) == text.strip("\n").replace("\n", "")


def test_split_prefers_paragraphs_then_sentences() -> None:
    paragraphs = ["甲" * 3000 + "。", "乙" * 3000 + "。", "丙" * 100 + "。"]
    assert split_text("\n".join(paragraphs)) == [paragraphs[0], paragraphs[1] + "\n" + paragraphs[2]]
    pieces = split_text("这是一句话。" * 1000)
    assert len(pieces) == 2 and all(p.endswith("。") for p in pieces)


def test_original_messages_are_escaped_after_splitting() -> None:
    class Section:
        text = "(四十)标题。" + "<b>低保</b>&amp;细节。" * 600

    messages = original_messages(Section())
    assert len(messages) >= 2
    for message in messages:
        # No raw markup, and every entity is whole inside its own message.
        assert "<" not in message and ">" not in message
        assert html.unescape(message).count("&") == message.count("&amp;")
    assert "".join(html.unescape(m) for m in messages) == Section.text


def test_callback_data_fit_in_64_bytes() -> None:
    longest_topic = "living_environment_and_more_words"
    samples = [
        QuestionCB(action="down", id=2**31 - 1),
        SectionCB(action="orig", n=40),
        TopicCB(action="sec", topic=longest_topic, page=99, n=40),
        CadreReplyCB(id=2**31 - 1),
    ]
    for data in samples:
        assert len(data.pack().encode()) <= 64


async def test_migration_matches_the_models(engine) -> None:
    def _diff(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    mine = [d for d in diff if any(t in str(d) for t in ("policy_questions", "policy_feedback", "cadre_questions"))]
    assert mine == []
