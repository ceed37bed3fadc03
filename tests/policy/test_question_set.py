"""Structure of the held-out policy question set, tests/policy/questions.yaml.

Pure structure checks: field types, allowed values, no duplicates, and the coverage minimums
(every section asked in every language, more for the sections households really ask about,
enough out-of-scope questions). The engine's accuracy on the set is measured elsewhere.

Coverage counts a question for its *primary* section, the first number of `expect`; the
other numbers are alternatives a correct engine may also return.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

PATH = Path(__file__).with_name("questions.yaml")

LANGS = ("zh_Hans", "ko", "en")
STYLES = ("colloquial", "formal", "traditional", "mixed", "typo")
FIELDS = {"q", "lang", "style", "expect"}
SECTIONS = range(1, 41)
# Sections households really ask about: 2300元, production/jobs, relocation, education, medical,
# 低保, sudden hardship, roads, water, electricity, dilapidated housing, e-commerce, exit,
# loans, funds misuse, dividends, legal aid.
HOUSEHOLD = (3, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 21, 28, 32, 34, 35, 38)

MIN_TOTAL = 300
MIN_PER_SECTION = {"zh_Hans": 3, "ko": 2, "en": 2}
MIN_HOUSEHOLD = {"zh_Hans": 6, "ko": 3, "en": 3}
MIN_ZH_COLLOQUIAL = 2
MIN_ZH_FORMAL = 1
MIN_OUT_OF_SCOPE = 40
MIN_OUT_OF_SCOPE_PER_LANG = {"zh_Hans": 20, "ko": 10, "en": 10}
MIN_STYLE = {"traditional": 5, "mixed": 5, "typo": 5}

HAN = re.compile(r"[\u3400-\u9fff]")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")
# An English word (not an abbreviation like GDP or a grade like C级) inside a Chinese/Korean question.
ENGLISH_WORD = re.compile(r"(?<![A-Za-z])[a-z]{3,}(?![A-Za-z])")


# --------------------------------------------------------------------------- checks


def entry_problems(index: int, entry: Any) -> list[str]:
    """What is wrong with one entry (empty list: nothing)."""
    where = f"questions[{index}]"
    if not isinstance(entry, Mapping):
        return [f"{where}: not a mapping"]
    problems: list[str] = []
    keys = set(entry)
    if missing := FIELDS - keys:
        problems.append(f"{where}: missing {sorted(missing)}")
    if extra := keys - FIELDS:
        problems.append(f"{where}: unknown {sorted(map(str, extra))}")
    q = entry.get("q")
    if not isinstance(q, str) or not q.strip():
        problems.append(f"{where}: q must be a non-empty string")
        q = None
    elif q != q.strip() or "\n" in q:
        problems.append(f"{where}: q has surrounding whitespace or a line break: {q!r}")
    where = f"{where} {q!r}" if q else where
    lang, style, expect = entry.get("lang"), entry.get("style"), entry.get("expect")
    if lang not in LANGS:
        problems.append(f"{where}: lang {lang!r} not in {LANGS}")
    if style not in STYLES:
        problems.append(f"{where}: style {style!r} not in {STYLES}")
    if not isinstance(expect, list):
        problems.append(f"{where}: expect must be a list of section numbers")
    else:
        for n in expect:
            if not isinstance(n, int) or isinstance(n, bool) or n not in SECTIONS:
                problems.append(f"{where}: expect has {n!r}, not a section number 1..40")
        if len(set(map(repr, expect))) != len(expect):
            problems.append(f"{where}: expect repeats a section: {expect}")
    if q and lang in LANGS and style in STYLES:
        problems += script_problems(where, q, lang, style)
    return problems


def script_problems(where: str, q: str, lang: str, style: str) -> list[str]:
    """The question is written in the script its `lang` says (mixed ones may add another)."""
    han, hangul, latin = bool(HAN.search(q)), bool(HANGUL.search(q)), bool(LATIN.search(q))
    own = {"zh_Hans": han, "ko": hangul, "en": latin}[lang]
    if not own:
        return [f"{where}: lang {lang} but no {lang} script in the question"]
    if style == "traditional" and lang != "zh_Hans":
        return [f"{where}: style traditional is for Chinese questions only"]
    english = lang != "en" and bool(ENGLISH_WORD.search(q))
    foreign = {"zh_Hans": hangul, "ko": han, "en": han or hangul}[lang] or english
    if foreign and style != "mixed":
        return [f"{where}: another language in a {lang} question; mark it style: mixed"]
    if style == "mixed" and not foreign:
        return [f"{where}: style mixed but only one language in the question"]
    return []


def normalized(q: str) -> str:
    """Key for duplicate detection: case, width, spaces and punctuation do not count."""
    text = unicodedata.normalize("NFKC", q).casefold()
    return "".join(ch for ch in text if not (ch.isspace() or unicodedata.category(ch).startswith("P")))


def duplicate_problems(entries: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    for entry in entries:
        q = entry["q"]
        key = normalized(q)
        if key in seen:
            problems.append(f"duplicate question: {q!r} (same as {seen[key]!r})")
        else:
            seen[key] = q
    return problems


def coverage(entries: Iterable[Mapping[str, Any]]) -> Counter[tuple[int, str, str]]:
    """(primary section, lang, style) -> count; section 0 = out of scope."""
    counts: Counter[tuple[int, str, str]] = Counter()
    for entry in entries:
        section = entry["expect"][0] if entry["expect"] else 0
        counts[section, entry["lang"], entry["style"]] += 1
    return counts


def _count(counts: Counter[tuple[int, str, str]], section: int, lang: str, styles=STYLES) -> int:
    return sum(counts[section, lang, style] for style in styles)


def coverage_problems(entries: list[Mapping[str, Any]]) -> list[str]:
    counts = coverage(entries)
    problems = []
    if len(entries) < MIN_TOTAL:
        problems.append(f"{len(entries)} questions, need at least {MIN_TOTAL}")
    for section in SECTIONS:
        minimums = MIN_HOUSEHOLD if section in HOUSEHOLD else MIN_PER_SECTION
        for lang, minimum in minimums.items():
            if (n := _count(counts, section, lang)) < minimum:
                problems.append(f"section {section}: {n} {lang} questions, need {minimum}")
        if (n := _count(counts, section, "zh_Hans", ("colloquial",))) < MIN_ZH_COLLOQUIAL:
            problems.append(f"section {section}: {n} colloquial zh_Hans questions, need {MIN_ZH_COLLOQUIAL}")
        if (n := _count(counts, section, "zh_Hans", ("formal",))) < MIN_ZH_FORMAL:
            problems.append(f"section {section}: {n} formal zh_Hans questions, need {MIN_ZH_FORMAL}")
    out_of_scope = sum(_count(counts, 0, lang) for lang in LANGS)
    if out_of_scope < MIN_OUT_OF_SCOPE:
        problems.append(f"{out_of_scope} out-of-scope questions, need {MIN_OUT_OF_SCOPE}")
    for lang, minimum in MIN_OUT_OF_SCOPE_PER_LANG.items():
        if (n := _count(counts, 0, lang)) < minimum:
            problems.append(f"{n} out-of-scope {lang} questions, need {minimum}")
    styles = Counter(entry["style"] for entry in entries)
    for style, minimum in MIN_STYLE.items():
        if styles[style] < minimum:
            problems.append(f"{styles[style]} questions of style {style}, need {minimum}")
    return problems


# --------------------------------------------------------------------------- the real file


@pytest.fixture(scope="module")
def document() -> Any:
    with PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def entries(document: Any) -> list[Mapping[str, Any]]:
    assert isinstance(document, dict) and set(document) == {"questions"}, (
        f"{PATH.name}: the top level must be a mapping with the single key 'questions'"
    )
    questions = document["questions"]
    assert isinstance(questions, list), f"{PATH.name}: 'questions' must be a list"
    return questions


def test_entries_are_well_formed(entries: list[Mapping[str, Any]]) -> None:
    problems = [p for i, entry in enumerate(entries) for p in entry_problems(i, entry)]
    assert not problems, "\n".join(problems)


def test_no_duplicate_questions(entries: list[Mapping[str, Any]]) -> None:
    problems = duplicate_problems(entries)
    assert not problems, "\n".join(problems)


def test_coverage_minimums(entries: list[Mapping[str, Any]]) -> None:
    problems = coverage_problems(entries)
    assert not problems, "\n".join(problems)


def test_traditional_questions_use_traditional_characters(entries: list[Mapping[str, Any]]) -> None:
    opencc = pytest.importorskip("opencc")
    to_simplified = opencc.OpenCC("t2s")
    plain = [
        e["q"] for e in entries if e["style"] == "traditional" and to_simplified.convert(e["q"]) == e["q"]
    ]
    assert not plain, f"style traditional but no traditional character: {plain}"


# --------------------------------------------------------------------------- the checks can fail


GOOD = {"q": "娃上高中要交学费不", "lang": "zh_Hans", "style": "colloquial", "expect": [9]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"q": ""}, "q must be a non-empty string"),
        ({"q": 5}, "q must be a non-empty string"),
        ({"q": " 低保咋申请"}, "surrounding whitespace"),
        ({"lang": "zh"}, "lang 'zh' not in"),
        ({"style": "slang"}, "style 'slang' not in"),
        ({"expect": 9}, "expect must be a list"),
        ({"expect": [0]}, "not a section number"),
        ({"expect": [41]}, "not a section number"),
        ({"expect": ["9"]}, "not a section number"),
        ({"expect": [True]}, "not a section number"),
        ({"expect": [9, 9]}, "repeats a section"),
        ({"extra": 1}, "unknown ['extra']"),
        ({"lang": "ko"}, "no ko script"),
        ({"lang": "en"}, "no en script"),
        ({"q": "低保 how to apply"}, "mark it style: mixed"),
        ({"q": "대출 要抵押吗"}, "mark it style: mixed"),
        ({"q": "대출 要抵押吗", "lang": "ko"}, "mark it style: mixed"),
        ({"q": "贷款 loan 要抵押吗", "style": "mixed"}, None),
        ({"q": "贫困县还考核GDP不"}, None),
        ({"q": "危房是咋评级的 C级D级啥意思"}, None),
        ({"style": "mixed"}, "only one language"),
    ],
)
def test_entry_problems_are_reported(change: dict[str, Any], message: str | None) -> None:
    problems = entry_problems(0, GOOD | change)
    if message is None:
        assert problems == []
    else:
        assert any(message in p for p in problems), problems


def test_entry_missing_fields_and_non_mapping_are_reported() -> None:
    assert entry_problems(0, GOOD) == []
    assert "missing ['expect']" in entry_problems(0, {k: v for k, v in GOOD.items() if k != "expect"})[0]
    assert entry_problems(3, ["q"]) == ["questions[3]: not a mapping"]
    assert entry_problems(0, {"q": "低保 how to apply", "lang": "en", "style": "mixed", "expect": [11]}) == []
    assert (
        entry_problems(0, {"q": "What's the weather?", "lang": "en", "style": "formal", "expect": []}) == []
    )


def test_duplicates_ignore_case_spaces_and_punctuation() -> None:
    entries = [GOOD, GOOD | {"q": "娃上高中 要交学费不？"}, {"q": "Low income?"}, {"q": "low  income"}]
    assert len(duplicate_problems(entries)) == 2
    assert duplicate_problems([GOOD, {"q": "娃上初中要交学费不"}]) == []


def _synthetic(out_of_scope: int = 20) -> list[dict[str, Any]]:
    """A set that meets every minimum (with room to remove single questions)."""
    entries: list[dict[str, Any]] = []
    plan = {
        "zh_Hans": ["colloquial", "colloquial", "formal", "typo", "traditional", "mixed"],
        "ko": ["colloquial", "formal", "colloquial"],
        "en": ["colloquial", "formal", "mixed"],
    }
    for section in SECTIONS:
        for lang, styles in plan.items():
            for i, style in enumerate(styles):
                entries.append(
                    {"q": f"{section}-{lang}-{i}", "lang": lang, "style": style, "expect": [section]}
                )
    for lang in LANGS:
        for i in range(out_of_scope):
            entries.append({"q": f"oos-{lang}-{i}", "lang": lang, "style": "colloquial", "expect": []})
    return entries


def test_coverage_of_a_complete_set_passes() -> None:
    assert coverage_problems(_synthetic()) == []


def test_coverage_problems_are_reported() -> None:
    entries = _synthetic()
    # section 5 has only one Korean question left -> below the general minimum of 2
    entries = [
        e for e in entries if not (e["expect"] == [5] and e["lang"] == "ko" and e["style"] == "formal")
    ]
    entries = [e for e in entries if not (e["expect"] == [5] and e["lang"] == "ko" and e["q"].endswith("-0"))]
    # section 32 (household) loses a Chinese question -> 5 < 6; and its formal one -> 0 < 1
    entries = [
        e for e in entries if not (e["expect"] == [32] and e["lang"] == "zh_Hans" and e["style"] == "formal")
    ]
    # an alternative (non-primary) section does not count for coverage
    entries = [e | {"expect": [1, 2]} if e["expect"] == [2] and e["lang"] == "en" else e for e in entries]
    # out of scope: no Korean left, one Chinese less -> 39 in total
    entries = [e for e in entries if not (e["expect"] == [] and e["lang"] == "ko")]
    entries = [e for e in entries if e["q"] != "oos-zh_Hans-0"]
    problems = coverage_problems(entries)
    assert "section 5: 1 ko questions, need 2" in problems
    assert "section 32: 5 zh_Hans questions, need 6" in problems
    assert "section 32: 0 formal zh_Hans questions, need 1" in problems
    assert "section 2: 0 en questions, need 2" in problems
    assert "0 out-of-scope ko questions, need 10" in problems
    assert "19 out-of-scope zh_Hans questions, need 20" in problems
    assert "39 out-of-scope questions, need 40" in problems
    assert not any("en questions" in p and "out-of-scope" in p for p in problems)
    assert coverage_problems(entries[:10])[0] == f"10 questions, need at least {MIN_TOTAL}"


def test_colloquial_and_style_minimums_are_reported() -> None:
    entries = [
        e | {"style": "formal"} if e["expect"] == [7] and e["lang"] == "zh_Hans" else e for e in _synthetic()
    ]
    entries = [e | {"style": "colloquial"} if e["style"] == "typo" else e for e in entries]
    problems = coverage_problems(entries)
    assert "section 7: 0 colloquial zh_Hans questions, need 2" in problems
    assert "0 questions of style typo, need 5" in problems
