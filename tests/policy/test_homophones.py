"""Homophone typos of pinyin input methods (底保 for 低保, 修录 for 修路): a Chinese word the
index does not know stands for the known words that read the same; out-of-scope cues are
also recognised through their homophones (天汽 for 天气)."""

from __future__ import annotations

import pytest

from bot.policy.corpus import load_corpus
from bot.policy.engine import PolicyEngine
from bot.policy.text import CueTable, pinyin_key


@pytest.fixture(scope="module")
def real() -> PolicyEngine:
    return PolicyEngine(load_corpus())


def test_pinyin_key() -> None:
    assert pinyin_key("低保") == pinyin_key("底保") == pinyin_key("抵保") == "di bao"
    assert pinyin_key("合作社") == pinyin_key("合做社")
    assert pinyin_key("银行") == "yin hang"  # a known word is read as a phrase
    # odd input never raises; what has no reading stays as it is
    for text in ["", "abc", "12", "까", "😀", "\u3400"]:
        pinyin_key(text)
    assert pinyin_key("abc") == "abc"


def test_only_unknown_tokens_have_homophones(real: PolicyEngine) -> None:
    zh = real.indexes["zh_Hans"]
    assert zh.homophones_of("底保")[0] == "低保"  # the most frequent first
    assert "~修路" in zh.homophones_of("~修录")
    assert zh.homophones_of("低保") == ()  # a known word stands for itself only
    assert zh.homophones_of("^底") == ()  # single characters are far too ambiguous
    assert zh.homophones_of("=zh_Hans:1") == () and zh.homophones_of("#100") == ()
    assert zh.homophones_of("量子物理") == ()  # nothing in the corpus reads like it
    assert real.indexes["ko"].homophones == {} and real.indexes["en"].homophones == {}


@pytest.mark.parametrize(
    ("question", "number"),
    [
        ("底保怎么办理", 11),  # 低保
        ("修录的钱谁出", 13),  # 修路
        ("村里修录有钱吗", 13),
        ("虎林员咋当", 8),  # 护林员
        ("五宝老人谁养", 11),  # 五保
        ("危方改造补多少钱", 16),  # 危房
        ("和作社分红怎么算", 35),  # 合作社
    ],
)
def test_homophone_typos_find_their_section(real: PolicyEngine, question: str, number: int) -> None:
    result = real.ask(question)
    assert result.answered, real.explain(question)
    assert result.matches[0].section.number == number, real.explain(question)


@pytest.mark.parametrize(
    "question",
    [
        "明天天汽怎么样",
        "公积金怎么提取",
        "养老金每个月领多少",
        "信用卡怎么还款",
        "股票怎么买",
        "高铁票怎么买",
    ],
)
def test_out_of_scope_stays_refused(real: PolicyEngine, question: str) -> None:
    assert not real.ask(question).answered, real.explain(question)


def test_cues_through_homophones() -> None:
    cues = CueTable({"zh_Hans": (("天气", ("保险",)), ("养老金", ())), "en": (("weather", ()),)})
    assert cues.find("明天天汽怎么样") == ()
    assert cues.find_homophones("明天天汽怎么样") == ("天气",)
    assert cues.find_homophones("养老禁每月多少") == ("养老金",)
    assert cues.find_homophones("天汽指数保险") == ()  # the unless-word still spares it
    assert cues.find_homophones("电压低") == () and cues.find_homophones("") == ()
    assert cues.find_homophones("weather") == ()  # English cues match words, not sounds
    assert CueTable().find_homophones("天汽") == ()
