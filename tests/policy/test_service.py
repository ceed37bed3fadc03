"""PolicyService (bot/policy/service.py): start-up, reload, and keeping the last good
corpus when an edited file does not validate."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.policy.corpus import CorpusError
from bot.policy.service import PolicyService
from tests.policy.fixture_corpus import section, write_corpus, write_section


def test_starts_and_answers(tmp_path: Path) -> None:
    service = PolicyService(write_corpus(tmp_path))
    assert sorted(service.corpus.sections) == [9, 10, 16, 32]
    assert service.ask("贷款要抵押吗").best.section.number == 32
    assert service.engine.corpus is service.corpus


def test_default_directory_is_the_real_corpus() -> None:
    service = PolicyService()
    assert len(service.corpus.sections) == 40


def test_start_up_with_a_broken_corpus_raises(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    write_section(directory, 32, "number: 32\n  label: x\n")
    with pytest.raises(CorpusError):
        PolicyService(directory)


def test_reload_picks_up_an_edit(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    service = PolicyService(directory)
    old_engine = service.engine
    answer = dict(section(32)["answer"], zh_Hans="新的回答：5万元以下、3年以内。")
    write_section(directory, 32, section(32, answer=answer))
    corpus = service.reload()
    assert corpus is service.corpus and service.engine is not old_engine
    assert service.corpus.sections[32].answer["zh_Hans"] == "新的回答：5万元以下、3年以内。"


def test_reload_keeps_the_last_good_corpus(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    service = PolicyService(directory)
    good_corpus, good_engine = service.corpus, service.engine

    data = section(32)
    data["answer"] = {"zh_Hans": data["answer"]["zh_Hans"], "en": data["answer"]["en"]}
    write_section(directory, 32, data)
    with pytest.raises(CorpusError) as info:
        service.reload()
    assert "answer.ko: missing" in str(info.value) and "sections/32.yaml:" in str(info.value)
    assert service.corpus is good_corpus and service.engine is good_engine
    assert service.ask("贷款要抵押吗").best.section.number == 32

    write_section(directory, 32, "number: [\n")  # not even YAML
    with pytest.raises(CorpusError):
        service.reload()
    assert service.corpus is good_corpus

    write_section(directory, 32, section(32))  # fixed
    assert service.reload() is not good_corpus
    assert service.ask("贷款要抵押吗").best.section.number == 32


def test_questions_during_reloads_always_see_a_whole_corpus(tmp_path: Path) -> None:
    directory = write_corpus(tmp_path)
    service = PolicyService(directory)
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        try:
            while not stop.is_set():
                engine = service.engine
                result = engine.ask("贷款要抵押吗")
                assert result.best.section.number == 32
                assert result.best.section is engine.corpus.sections[32]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(4):
            if i % 2:
                write_section(directory, 9, "number: 9\nlabel: [\n")
                with pytest.raises(CorpusError):
                    service.reload()
            else:
                write_section(directory, 9, section(9))
                service.reload()
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
