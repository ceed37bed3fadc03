"""Normalisation, language detection and tokenisation (bot/policy/text.py): odd input never
raises, and the engine refuses where answering makes no sense."""

from __future__ import annotations

import pytest

from bot.policy.corpus import load_corpus
from bot.policy.engine import PolicyEngine
from bot.policy.text import (
    BIGRAM,
    MAX_QUERY_CHARS,
    SYNONYM,
    UNIGRAM,
    SynonymTable,
    cn_number,
    detect_language,
    en_words,
    ko_tokens,
    normalize,
    prepare_query,
    stem_en,
    tokens_for,
    zh_tokens,
)


def test_traditional_becomes_simplified() -> None:
    assert normalize("貧困戶貸款要抵押嗎") == "贫困户贷款要抵押吗"
    assert normalize("孩子讀高中學費能免嗎") == "孩子读高中学费能免吗"


def test_full_width_and_case() -> None:
    assert normalize("ＡＢＣ　１２３") == "abc 123"
    assert normalize("贷款５万元，３年以内？") == "贷款5万元 3年以内"
    assert normalize("HELLO World") == "hello world"
    assert normalize("50,000 yuan") == "50000 yuan"
    assert normalize("90％") == "90%"


def test_html_like_text_and_emoji() -> None:
    assert normalize("<b>贷款</b>要抵押吗😀") == "贷款 要抵押吗"
    assert normalize('<a href="x">看病</a>&amp;报销') == "看病 报销"
    assert normalize("😀🙏🇨🇳") == ""
    assert normalize("\u200b\u200d") == ""
    assert normalize("\ud800贷款") == "贷款"  # a lone surrogate
    assert normalize("") == "" and normalize(None) == ""  # type: ignore[arg-type]


def test_query_is_truncated() -> None:
    assert len(normalize("贷" * 4000, limit=MAX_QUERY_CHARS)) == MAX_QUERY_CHARS
    query = prepare_query("贷款要抵押吗，" * 600)  # cut before tokenising, not after
    assert len(query.text) <= MAX_QUERY_CHARS


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("贷款要抵押吗", "zh_Hans"),
        ("貸款要抵押嗎", "zh_Hans"),
        ("대출 받을 때 담보가 필요해요?", "ko"),
        ("Do I need collateral for a loan?", "en"),
        ("daikuan yao diya ma", "en"),  # pinyin is Latin
        ("新农合 보험료를 내야 하나요?", "ko"),  # mostly Hangul
        ("我想问 loan", "zh_Hans"),  # 3 Han vs 4 letters
        ("大대", "zh_Hans"),  # a tie → Chinese
        ("12345", "zh_Hans"),
        ("", "zh_Hans"),
        ("😀", "zh_Hans"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(normalize(text)) == language


def test_chinese_tokens() -> None:
    toks = zh_tokens(normalize("贷款要抵押吗"))
    assert "贷款" in toks and "抵押" in toks
    assert BIGRAM + "抵押" in toks and UNIGRAM + "贷" in toks
    assert "吗" not in toks and UNIGRAM + "吗" not in toks  # stop words
    assert zh_tokens("") == [] and zh_tokens("abc") == []


def test_korean_tokens_strip_particles() -> None:
    toks = ko_tokens(normalize("담보가 필요해요? 학비는"))
    assert "담보" in toks and "담보가" in toks and "학비" in toks and "필요" in toks
    assert BIGRAM + "담보" in toks
    assert "아이" in ko_tokens("아이가")  # 이 of 아이 is not a particle: two syllables stay


def test_english_words() -> None:
    assert en_words(normalize("Do I need collateral for the loans?")) == ["collateral", "loan"]
    assert stem_en("subsidies") == stem_en("subsidy")
    assert stem_en("getting") == "get"
    assert stem_en("houses") == stem_en("housing")


def test_numbers_become_values() -> None:
    toks = tokens_for("zh_Hans", normalize("5万元以下"))
    assert "#50000" in toks
    assert "#50000" in tokens_for("en", normalize("50,000 yuan"))


def test_synonym_groups() -> None:
    table = SynonymTable({"zh_Hans": (("娃", "孩子", "子女"), ("路", "道路")), "en": (("loan", "credit"),)})
    assert f"{SYNONYM}zh_Hans:0" in tokens_for("zh_Hans", "娃上高中", table, query=True)
    assert f"{SYNONYM}zh_Hans:0" in tokens_for("zh_Hans", "贫困家庭子女", table)
    # one-character members count in questions only (路 of 思路 in the document)
    assert f"{SYNONYM}zh_Hans:1" not in tokens_for("zh_Hans", "总体思路", table)
    assert f"{SYNONYM}zh_Hans:1" in tokens_for("zh_Hans", "村里的路", table, query=True)
    assert f"{SYNONYM}en:0" in tokens_for("en", normalize("Can I get credits?"), table)


def test_cn_number() -> None:
    assert [cn_number(x) for x in ("三十二", "十", "十六", "两千", "三万", "二〇一八", "四十")] == [
        32,
        10,
        16,
        2000,
        30000,
        2018,
        40,
    ]
    assert cn_number("") is None


ODD_INPUTS = [
    "",
    " ",
    "\n\t",
    "😀😀😀",
    "🇨🇳" * 100,
    "<b></b>",
    "<script>alert(1)</script>",
    "&lt;&gt;&amp;",
    "贷" * 4000,
    "x" * 4000,
    "대" * 4000,
    "贷款要抵押吗 " * 500,
    "daikuan yao diya ma",
    "kan bing neng bao duo shao",
    "12345",
    "0000000000",
    "5万",
    "病",
    "娃",
    "a",
    "？？？",
    "ㅋㅋㅋㅋ",
    "\x00\x01\x02",
    "\ud800\udfff",
    "Ｔｅｓｔ",
    "𠮷野家",
    "مرحبا",
    "Привет, как дела?",
]


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(load_corpus())


@pytest.mark.parametrize("text", ODD_INPUTS, ids=range(len(ODD_INPUTS)))
def test_odd_input_never_raises(engine: PolicyEngine, text: str) -> None:
    q = prepare_query(text)
    assert q.language in ("zh_Hans", "ko", "en")
    result = engine.ask(text)
    assert result.language in ("zh_Hans", "ko", "en")
    assert result.answered == bool(result.matches)
    engine.explain(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀😀",
        "<b></b>",
        "12345",
        "0000000000",
        "5万",
        "病",
        "a",
        "？？？",
        "ㅋㅋㅋㅋ",
        "x" * 4000,
        "贷" * 4000,
        "Привет, как дела?",
        "daikuan yao diya ma",
        "\x00\x01\x02",
    ],
)
def test_refusal_where_answering_makes_no_sense(engine: PolicyEngine, text: str) -> None:
    result = engine.ask(text)
    assert not result.answered and result.matches == () and result.best is None


def test_too_short_is_its_own_reason(engine: PolicyEngine) -> None:
    assert engine.ask("😀").reason == "too_short"
    assert engine.ask("12345").reason == "too_short"
    assert engine.ask("病").reason == "too_short"
    assert engine.ask("低保").answered  # two characters can be a real question
