"""The retrieval engine (bot/policy/engine.py) on a small fixture corpus and on the real one,
and the evaluation script (bot/policy/evaluate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.policy import evaluate
from bot.policy.corpus import load_corpus
from bot.policy.engine import SUGGEST_FLOOR, Match, PolicyEngine, Result, section_numbers
from tests.policy.fixture_corpus import write_corpus


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> PolicyEngine:
    return PolicyEngine(load_corpus(write_corpus(tmp_path_factory.mktemp("policy"))))


@pytest.fixture(scope="module")
def real() -> PolicyEngine:
    return PolicyEngine(load_corpus())


@pytest.mark.parametrize(
    ("question", "number", "language"),
    [
        ("贷款要抵押吗", 32, "zh_Hans"),
        ("借钱要不要担保", 32, "zh_Hans"),
        ("娃上高中要交学费不", 9, "zh_Hans"),
        ("看病能报多少", 10, "zh_Hans"),
        ("房子漏雨了咋办", 16, "zh_Hans"),
        ("貸款要抵押嗎", 32, "zh_Hans"),
        ("대출 받을 때 담보가 필요해요?", 32, "ko"),
        ("고등학교 학비를 내야 하나요?", 9, "ko"),
        ("Do I need collateral for a loan?", 32, "en"),
        ("Is high school tuition free?", 9, "en"),
    ],
)
def test_small_corpus(small: PolicyEngine, question: str, number: int, language: str) -> None:
    result = small.ask(question)
    assert result.answered, small.explain(question)
    assert result.best is not None and result.best.section.number == number
    assert result.language == language
    assert 0.5 <= result.best.score <= 1.0


def test_result_shape(small: PolicyEngine) -> None:
    result = small.ask("贷款要抵押吗", k=2)
    assert isinstance(result, Result) and len(result.matches) == 2
    assert all(isinstance(m, Match) for m in result.matches)
    scores = [m.score for m in result.matches]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    assert len({m.section.number for m in result.matches}) == 2
    assert small.ask("贷款要抵押吗", k=1).matches[0].section.number == 32
    assert small.ask("贷款要抵押吗", k=10).matches[0].section.number == 32  # more than the corpus has
    assert section_numbers(result.matches)[0] == 32


def test_threshold(tmp_path: Path) -> None:
    corpus = load_corpus(write_corpus(tmp_path))
    assert PolicyEngine(corpus, threshold=0.0).ask("明天天气怎么样").answered
    refused = PolicyEngine(corpus, threshold=1.01).ask("贷款要抵押吗")
    assert not refused.answered and refused.matches == () and refused.best is None
    assert refused.reason == "low_confidence"
    assert refused.candidates and refused.candidates[0].section.number == 32  # for logs, not for users


@pytest.mark.parametrize(
    "question",
    [
        "明天天气怎么样",
        "护照去哪里办",
        "내일 날씨 어때요?",
        "How do I renew my passport?",
        "Who won the football match?",
    ],
)
def test_small_corpus_refuses_out_of_scope(small: PolicyEngine, question: str) -> None:
    result = small.ask(question)
    assert not result.answered and result.matches == ()


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize(
    ("question", "number"),
    [
        ("贷款要抵押吗", 32),
        ("娃上高中要交学费不", 9),
        ("看病能报多少", 10),
        ("低保咋申请", 11),
        ("房子漏雨了政府管不管", 16),
        ("村里啥时候通自来水", 14),
        ("家里电压太低", 15),
        ("开网店有补贴吗", 21),
        ("扶贫的钱被村干部挪用了咋办", 34),
        ("一年收入多少才算脱贫", 3),
        ("대출 받을 때 담보가 필요해요?", 32),
        ("아이가 고등학교에 다니는데 학비를 내야 하나요?", 9),
        ("병원비는 얼마나 보상받을 수 있나요?", 10),
        ("최저생활보장 어떻게 신청해요?", 11),
        ("Do I need collateral for a poverty-alleviation loan?", 32),
        ("Does my child have to pay tuition at high school?", 9),
        ("How much of my hospital bill is reimbursed?", 10),
        ("My roof leaks, can the government fix it?", 16),
    ],
)
def test_real_corpus_obvious_questions(real: PolicyEngine, question: str, number: int) -> None:
    result = real.ask(question)
    assert result.answered, real.explain(question)
    assert result.best is not None and result.best.section.number == number, real.explain(question)


@pytest.mark.parametrize(
    "question",
    [
        "明天会下雨吗",
        "身份证丢了怎么补办",
        "微信密码忘了怎么办",
        "여권은 어디서 만들어요?",
        "How do I renew my passport?",
        "Give me a recipe for dumplings",
    ],
)
def test_real_corpus_refuses_out_of_scope(real: PolicyEngine, question: str) -> None:
    assert not real.ask(question).answered, real.explain(question)


def test_real_corpus_takes_any_length(real: PolicyEngine) -> None:
    # Latency is measured by `python -m bot.policy.evaluate` (BENCHMARKS.md), not asserted
    # here: the machines are shared. This only checks that huge inputs are handled.
    for q in ("贷" * 4000, "대출 " * 1000, "loan " * 1000, "？" * 4000):
        result = real.ask(q)
        assert isinstance(result, Result)


def test_suggestions_are_offered_not_cited(real: PolicyEngine) -> None:
    answered = real.ask("孩子上大学能贷款吗")
    assert answered.answered and answered.best is not None
    offered = section_numbers(answered.suggestions)
    assert answered.best.section.number not in offered and 1 <= len(offered) <= 2
    assert all(m.score >= SUGGEST_FLOOR for m in answered.suggestions)
    assert offered == section_numbers(answered.matches[1:])[: len(offered)]
    # a refusal cites nothing but may offer near sections …
    near = real.ask("养老金怎么领")
    assert not near.answered and near.matches == () and near.best is None
    assert section_numbers(near.suggestions) == [11]
    # … and offers nothing when nothing is near, or the question is too short
    for question in ("世界杯决赛几点开始直播", "贷", "😀😀"):
        assert real.ask(question).suggestions == (), question


def test_explain(real: PolicyEngine) -> None:
    info = real.explain("贷款要抵押吗")
    assert info["language"] == "zh_Hans" and info["top"][0]["section"] == 32
    assert {"confidence", "score", "coverage", "units"} <= set(info["top"][0])
    assert real.explain("😀")["top"] == []


# --------------------------------------------------------------------------- evaluation script


def _questions(tmp_path: Path, items: list[dict]) -> Path:
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump({"questions": items}, allow_unicode=True), encoding="utf-8")
    return path


def test_evaluate_reports_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus_dir = write_corpus(tmp_path)
    good = _questions(
        tmp_path,
        [
            {"q": "贷款要抵押吗", "lang": "zh_Hans", "expect": [32]},
            {"q": "대출 받을 때 담보가 필요해요?", "lang": "ko", "expect": [32]},
            {"q": "Do I need collateral for a loan?", "lang": "en", "expect": [32, 16]},
            {"q": "明天天气怎么样", "lang": "zh_Hans", "expect": []},
        ],
    )
    args = ["--corpus", str(corpus_dir), "--questions", str(good), "--scale", "3", "--repeat", "2"]
    assert evaluate.main(args) == 0
    out = capsys.readouterr().out
    assert "zh_Hans" in out and "100.0%" in out and "median" in out and "×3" in out and "ratio" in out
    assert evaluate.main([*args, "--check"]) == 0

    bad = _questions(tmp_path, [{"q": "贷款要抵押吗", "lang": "zh_Hans", "expect": [9]}])
    assert evaluate.main(["--corpus", str(corpus_dir), "--questions", str(bad), "--scale", "0"]) == 0
    assert (
        evaluate.main(["--corpus", str(corpus_dir), "--questions", str(bad), "--scale", "0", "--check"]) == 1
    )
    assert evaluate.main(["--corpus", str(tmp_path / "missing"), "--check"]) == 1
    assert evaluate.main(["--corpus", str(corpus_dir), "--questions", str(tmp_path / "none.yaml")]) == 0


def test_synthetic_corpus_scales(tmp_path: Path) -> None:
    corpus = load_corpus(write_corpus(tmp_path))
    big = evaluate.synthetic_corpus(corpus, 5)
    assert len(big.sections) == 5 * len(corpus.sections)
    assert all(big.sections[n] is corpus.sections[n] for n in corpus.sections)
    engine = PolicyEngine(big)
    assert engine.ask("贷款要抵押吗", k=3).candidates


@pytest.mark.parametrize(
    "question",
    [
        "城镇职工养老保险交够十五年能领多少",
        "这周末天气咋样",
        "信用卡额度怎么提高",
        "노후 연금 보험은 매달 얼마 내요?",
        "주택담보대출 금리가 얼마예요?",
        "How much does car insurance cost?",
        "Should I pay off my mortgage early?",
        "What time does the bank open?",
    ],
)
def test_out_of_scope_cues_refuse_near_misses(real: PolicyEngine, question: str) -> None:
    assert real.explain(question)["out_of_scope"]
    assert not real.ask(question).answered, real.explain(question)


@pytest.mark.parametrize(
    ("question", "number"),
    [
        ("种地有没有天气指数保险", 32),  # 天气 is a cue, unless 保险
        ("孤寡老人能去养老院吗", 11),  # 养老院 is not 养老金
        ("打工的工钱被拖欠了能找法律救助不", 38),
        ("Can I mortgage my house for the loan?", 32),
    ],
)
def test_out_of_scope_cues_spare_in_scope_words(real: PolicyEngine, question: str, number: int) -> None:
    assert not real.explain(question)["out_of_scope"]
    result = real.ask(question)
    assert result.answered and number in section_numbers(result.matches), real.explain(question)


def test_without_cue_file_nothing_is_a_cue(tmp_path: Path) -> None:
    corpus = load_corpus(write_corpus(tmp_path))
    assert PolicyEngine(corpus).explain("护照去哪里办")["out_of_scope"] == []
