"""Tokenisation details that decide between answering and refusing: Korean formal and
Yanbian endings, English -ing/-ed forms, Chinese words glued to function characters."""

from __future__ import annotations

from bot.policy.corpus import load_corpus
from bot.policy.engine import PolicyEngine
from bot.policy.text import _strip_ko, normalize, prepare_query, stem_en, zh_glued, zh_tokens


def test_korean_formal_and_yanbian_endings() -> None:
    assert _strip_ko("도와줌까") == "도와주"
    assert _strip_ko("받슴까") == "받슴까"  # one syllable would stay: the word is kept whole
    assert _strip_ko("없앰까") == "없애"
    assert _strip_ko("걱정임다") == "걱정"
    assert _strip_ko("합니까") == "합니까"  # a one-syllable stem (하) matches far too much
    assert _strip_ko("보장됨까") == "보장"  # and the light verb goes too
    assert _strip_ko("정비해") == "정비"
    assert _strip_ko("화면") == "화면"  # 면 of a noun is not an ending
    assert _strip_ko("심다") == "심다"  # a two-syllable word keeps its 다


def test_english_forms_meet_their_base() -> None:
    assert stem_en("giving") == stem_en("give")
    assert stem_en("moved") == stem_en("move")
    assert stem_en("caring") == stem_en("care") != stem_en("car")
    assert stem_en("getting") == "get"
    assert stem_en("fixed") == "fix"


def test_chinese_particles_and_glued_words() -> None:
    toks = zh_tokens(normalize("扶贫的钱花哪了"))
    assert "~的钱" not in toks and "~贫的" not in toks and "~扶贫" in toks
    assert zh_glued("想建") and zh_glued("学个") and zh_glued("没钱")
    assert not zh_glued("开会") and not zh_glued("上班") and not zh_glued("扶贫") and not zh_glued("的了")


def test_odd_input_never_raises() -> None:
    for text in ["까", "슴다", "니까", "됨까" * 200, "ing", "ed", "想", "想个", "\ud800", "ăşđ"]:
        prepare_query(text)


def test_lone_cue_word_is_refused_and_short_terms_are_answered() -> None:
    engine = PolicyEngine(load_corpus())
    for q in ["weather", "What is your name?", "养老金"]:
        assert not engine.ask(q).answered, q
    for q, section in [("how to get dibao", 11), ("What does the policy say about cults?", 40)]:
        result = engine.ask(q)
        assert result.answered and result.matches[0].section.number == section, q
