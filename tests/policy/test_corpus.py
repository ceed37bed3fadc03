"""The policy corpus loader (bot/policy/corpus.py): strict validation with path:line
messages on small fixture corpora, and the real corpus: complete, verbatim, and no figure in
any answer that the cited sections do not state."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.policy.corpus import DATA_DIR, LOCALES, CorpusError, Section, load_corpus
from bot.policy.seed import int_to_cn, split_document
from bot.policy.text import figures
from tests.policy.fixture_corpus import SECTIONS, dump, section, write_corpus, write_section

REPO = Path(__file__).resolve().parents[2]
SEED = REPO.parent / "shared" / "seed" / "000_43a4c4d0f0703f6b.txt"


def line_of(path: Path, pattern: str) -> int:
    """1-based number of the first line of `path` matching `pattern`."""
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.search(pattern, line):
            return i
    raise AssertionError(f"{pattern!r} not in {path}")


def load_error(directory: Path) -> CorpusError:
    with pytest.raises(CorpusError) as info:
        load_corpus(directory)
    return info.value


# --------------------------------------------------------------------------- fixture corpus


def test_fixture_corpus_loads(tmp_path: Path) -> None:
    corpus = load_corpus(write_corpus(tmp_path))
    assert sorted(corpus.sections) == [9, 10, 16, 32]
    s = corpus.sections[32]
    assert s.label == "三十二" and s.chapter == 6 and s.tags == ("finance",) and s.related == (16,)
    assert s.source == "《关于全面推进脱贫攻坚的实施意见》（三十二）"
    assert s.answer_for("ko").startswith("조건에")
    assert s.answer_for("fr") == s.answer["zh_Hans"]  # unknown locale → Chinese
    assert s.questions["en"][0].startswith("Do I need collateral")
    assert [x.number for x in corpus.sections_for_topic("finance")] == [32]
    assert corpus.sections_for_topic("nothing") == []
    assert corpus.topic("medical").label("ko") == "의료"
    assert corpus.topic("medical").label("xx") == "看病就医"
    assert sorted(corpus.chapters) == list(range(1, 8))
    assert corpus.document_title == "关于全面推进脱贫攻坚的实施意见"
    assert len(corpus.synonyms.groups["zh_Hans"]) == 4
    # immutable
    with pytest.raises(TypeError):
        s.answer["zh_Hans"] = "x"  # type: ignore[index]
    assert hash(s) == hash(corpus.sections[32])
    assert {s, corpus.sections[9]}  # hashable


def test_bad_yaml_syntax_reports_the_line(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    write_section(directory, 32, "number: 32\nlabel: 三十二\nchapter: 6\n  title: 创新金融扶贫机制\n")
    err = load_error(directory)
    assert err.path.endswith("sections/32.yaml") and err.line == 4
    assert str(err).startswith(f"{err.path}:4: invalid YAML")


def test_missing_korean_answer_points_at_the_answer(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    data = section(32)
    data["answer"] = {"zh_Hans": data["answer"]["zh_Hans"], "en": data["answer"]["en"]}
    path = write_section(directory, 32, data)
    err = load_error(directory)
    assert str(err) == f"{err.path}:{line_of(path, r'^answer:')}: answer.ko: missing"
    assert err.field == "answer.ko" and err.problem == "missing"


def test_empty_answer_and_empty_questions(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    data = section(9)
    data["answer"] = dict(data["answer"], en="  ")
    path = write_section(directory, 9, data)
    err = load_error(directory)
    assert (err.field, err.problem, err.line) == ("answer.en", "empty", line_of(path, r"^  en:"))

    data = section(9)
    data["questions"] = dict(data["questions"], ko=[])
    path = write_section(directory, 9, data)
    err = load_error(directory)
    assert (err.field, err.problem) == ("questions.ko", "empty list")
    assert err.line == line_of(path, r"^  ko: \[\]")


def test_unknown_tag(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    path = write_section(directory, 10, section(10, tags=["medical", "healthcare"]))
    err = load_error(directory)
    assert err.field == "tags[1]" and "unknown topic 'healthcare'" in err.problem
    assert err.line == line_of(path, r"- healthcare")


def test_duplicate_number(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    path = write_section(directory, 10, section(32))  # 32's content saved as 10.yaml
    err = load_error(directory)
    assert err.path.endswith("sections/10.yaml") and err.field == "number"
    assert "duplicate section 32" in err.problem and "32.yaml" in err.problem
    assert err.line == line_of(path, r"^number:")


def test_number_must_match_the_file_name(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    write_section(directory, 11, section(10))  # there is no other 10.yaml … but 10.yaml exists
    (directory / "sections" / "10.yaml").unlink()
    err = load_error(directory)
    assert err.field == "number" and "does not match the file name 11.yaml" in err.problem


def test_label_mismatch(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    path = write_section(directory, 32, section(32, label="三十三"))
    err = load_error(directory)
    assert err.field == "label" and "expected '三十二'" in err.problem
    assert err.line == line_of(path, r"^label:")


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"chapter": 8}, "chapter", "between 1 and 7"),
        ({"chapter": "six"}, "chapter", "expected an integer"),
        ({"number": 41}, "number", "between 1 and 40"),
        ({"related": [32]}, "related[0]", "itself"),
        ({"related": [0]}, "related[0]", "section number 1-40"),
        ({"related": [16, 16]}, "related[1]", "duplicate"),
        ({"related": [39]}, "related[0]", "section 39 does not exist"),
        ({"tags": []}, "tags", "empty list"),
        ({"tags": ["finance", "housing", "medical", "education", "finance"]}, "tags", "at most 4"),
        ({"tags": ["finance", "finance"]}, "tags", "duplicate tag"),
        ({"answer": "text"}, "answer", "expected a mapping"),
        ({"answer": {**SECTIONS[32]["answer"], "zh_Hans": "很长" * 161}}, "answer.zh_Hans", "too long: 322"),
        ({"answer": {**SECTIONS[32]["answer"], "fr": "x"}}, "answer.fr", "unknown field"),
        (
            {"questions": {**SECTIONS[32]["questions"], "en": "one question"}},
            "questions.en",
            "expected a list",
        ),
        ({"questions": {**SECTIONS[32]["questions"], "en": ["ok", ""]}}, "questions.en[1]", "empty"),
        ({"keywords": {"zh_Hans": [["nested"]]}}, "keywords.zh_Hans[0]", "expected text"),
        ({"title": ""}, "title", "empty"),
        ({"text": "（三十三）别的。"}, "text", "header"),
        ({"answers": {}}, "answers", "unknown field"),
    ],
)
def test_section_validation(tmp_path: Path, change: dict, field: str, problem: str) -> None:
    directory = write_corpus(tmp_path)
    path = write_section(directory, 32, section(32, **change))
    err = load_error(directory)
    assert err.field == field, str(err)
    assert problem in err.problem, str(err)
    assert err.path.endswith("sections/32.yaml") and err.line is not None
    assert str(err).startswith(f"{err.path}:{err.line}: {field}: ")
    assert 1 <= err.line <= len(path.read_text(encoding="utf-8").splitlines())


def test_missing_field_and_empty_file(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    data = section(16)
    del data["tags"]
    write_section(directory, 16, data)
    err = load_error(directory)
    assert (err.field, err.problem) == ("tags", "missing")

    write_section(directory, 16, "")
    err = load_error(directory)
    assert err.problem == "empty" and err.line == 1

    write_section(directory, 16, "- a list\n")
    assert "expected a mapping" in load_error(directory).problem


def test_keywords_and_related_are_optional(tmp_path: Path) -> None:
    data = section(10)
    del data["keywords"]
    del data["related"]
    corpus = load_corpus(write_corpus(tmp_path, {10: data}))
    assert corpus.sections[10].keywords == {loc: () for loc in LOCALES}
    assert corpus.sections[10].related == ()


def test_other_files(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    (directory / "topics.yaml").write_text(
        dump({"topics": [{"id": "Bad Id", "zh_Hans": "a", "ko": "b", "en": "c"}]})
    )
    err = load_error(directory)
    assert err.path.endswith("topics.yaml") and err.field == "topics[0].id" and err.line == 2

    directory = write_corpus(tmp_path)
    (directory / "topics.yaml").write_text(dump({"topics": [{"id": "education", "zh_Hans": "a", "ko": "b"}]}))
    assert load_error(directory).field == "topics[0].en"

    directory = write_corpus(tmp_path)
    (directory / "synonyms.yaml").write_text("zh_Hans:\n  - [娃, 孩子]\n  - [孤单]\n")
    err = load_error(directory)
    assert err.path.endswith("synonyms.yaml") and err.line == 3 and err.field == "zh_Hans[1]"

    directory = write_corpus(tmp_path)
    (directory / "chapters.yaml").write_text(
        dump({"document": "x", "chapters": [{"number": 1, "label": "二", "title": "t"}]})
    )
    err = load_error(directory)
    assert err.path.endswith("chapters.yaml") and err.field == "chapters[0].label"

    directory = write_corpus(tmp_path)
    (directory / "chapters.yaml").unlink()
    assert load_error(directory).problem == "file not found"

    directory = write_corpus(tmp_path)
    (directory / "sections" / "x.yaml").write_text("number: 1\n")
    assert "NN.yaml" in load_error(directory).problem

    assert load_error(tmp_path / "nowhere").problem == "not a directory"


def test_synonyms_file_is_optional(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    (directory / "synonyms.yaml").unlink()
    assert load_corpus(directory).synonyms.groups == {}


# --------------------------------------------------------------------------- the real corpus


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


def test_real_corpus_is_complete(corpus) -> None:
    assert corpus.directory == DATA_DIR
    assert sorted(corpus.sections) == list(range(1, 41))
    assert sorted(corpus.chapters) == list(range(1, 8))
    for number, s in corpus.sections.items():
        assert isinstance(s, Section) and s.label == int_to_cn(number)
        assert all(s.answer[loc] and s.questions[loc] for loc in LOCALES)
        assert s.chapter in corpus.chapters
    assert corpus.sections[32].source == "《关于全面推进脱贫攻坚的实施意见》（三十二）"
    topics = {t.id for t in corpus.topics}
    assert all(corpus.sections_for_topic(t) for t in topics), "every topic has sections"


@pytest.mark.skipif(not SEED.exists(), reason="the source document is not available")
def test_real_corpus_texts_are_the_document_verbatim(corpus) -> None:
    chapters, sections = split_document(SEED.read_text(encoding="utf-8"))
    assert [s.number for s in sections] == list(range(1, 41))
    for seed in sections:
        s = corpus.sections[seed.number]
        assert s.text == seed.text.strip(), f"section {seed.number}: text differs from the document"
        assert (s.title, s.chapter, s.label) == (seed.title, seed.chapter, seed.label)
    for seed in chapters:
        assert corpus.chapters[seed.number].title == seed.title
        assert corpus.chapters[seed.number].intro == "\n".join(seed.intro)


def _allowed_figures(corpus, s: Section) -> set[Decimal]:
    allowed = set(figures(s.text, document=True))
    for number in s.related:
        allowed |= figures(corpus.sections[number].text, document=True)
    return allowed


def test_every_figure_in_every_answer_is_in_the_cited_sections(corpus) -> None:
    problems = []
    for number, s in corpus.sections.items():
        allowed = _allowed_figures(corpus, s)
        for loc in LOCALES:
            extra = figures(s.answer[loc]) - allowed
            if extra:
                problems.append(
                    f"section {number} answer.{loc}: {sorted(map(str, extra))} not in the document"
                )
    assert not problems, "\n".join(problems)


def test_the_figure_check_catches_a_wrong_figure(corpus) -> None:
    s = corpus.sections[32]
    allowed = _allowed_figures(corpus, s)
    assert figures("可以贷5万元，3年以内，贴息90%") <= allowed
    assert figures("최대 5만 위안, 3년") <= allowed
    assert figures("up to 50,000 yuan for three years") <= allowed
    assert figures("可以贷10万元") - allowed == {Decimal(100000)}
    assert figures("up to 60,000 yuan") - allowed == {Decimal(60000)}
    assert figures("6만 위안까지") - allowed == {Decimal(60000)}
    assert figures("call 12345678") - allowed == {Decimal(12345678)}


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("5万元以下、3年以内", {50000, 3}),
        ("5만 위안 이하, 3년 이내", {50000, 3}),
        ("up to 50,000 yuan", {50000}),
        ("贴息90%", {90}),
        ("7.4万户", {74000}),
        ("6.87万贫困户", {68700}),
        ("6만 8,700가구", {68700}),
        ("7만 4천 가구", {74000}),
        ("68,700 households", {68700}),
        ("2011-2020年", {2011, 2020}),
        ("到2018年", {2018}),
        ("三年内", {3}),
        ("八个重点县", {8}),
        ("ten thousand cadres", {10000}),
        ("1.2 million people", {1200000}),
        ("这一条讲一事一议，进一步统一", set()),
        ("依据（三十二）和第三十二条、section 16, 제32항", set()),
    ],
)
def test_figures(text: str, values: set[int]) -> None:
    assert figures(text) == {Decimal(v) for v in values}


def test_out_of_scope_cues(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    assert not (directory / "out_of_scope.yaml").exists()
    assert load_corpus(directory).out_of_scope.find("护照去哪办") == ()
    (directory / "out_of_scope.yaml").write_text(
        "zh_Hans:\n  - 护照\n  - {cue: 天气, unless: [保险]}\nen:\n  - credit card\n", encoding="utf-8"
    )
    cues = load_corpus(directory).out_of_scope
    assert cues.find("护照去哪办") == ("护照",)
    assert cues.find("明天天气") == ("天气",) and cues.find("天气指数保险") == ()
    assert cues.find("how do i get credit cards") == ("credit card",)
    (directory / "out_of_scope.yaml").write_text("zh_Hans:\n  - 护照\n  - {cue: 天气, unless: 保险}\n")
    err = load_error(directory)
    assert err.path.endswith("out_of_scope.yaml") and err.line == 3 and err.field == "zh_Hans[1].unless"
    (directory / "out_of_scope.yaml").write_text("ko: 여권\n")
    assert load_error(directory).field == "ko"


def test_real_out_of_scope_cues_load() -> None:
    cues = load_corpus().out_of_scope
    assert cues.find("养老金什么时候涨") and not cues.find("孤寡老人能去养老院吗")
