"""Accuracy and latency of the policy engine on a question set (a report; exit status 0).

    python -m bot.policy.evaluate [--questions tests/policy/questions.yaml] [--scale 100] [--check]

Per language: in-scope questions (n), top-1 and top-3 section accuracy, false refusals of
in-scope questions, and the refusal rate of out-of-scope questions. A question counts as
top-1 correct when the engine answers and its best section is one of `expect`. Top-3 is
what the user is shown: the answer's section plus the "may be related" buttons (the
runners-up after an answer, the best candidates after a refusal; `SUGGEST_FLOOR` in
engine.py), at most three; it is correct when one of them is in `expect`. Also printed:
top-3 of answered questions only (a refusal counts as a miss even when its buttons hold the
right section), how many refused out-of-scope questions got buttons, and the ranking alone
(the engine's candidates, ignoring the refusal decision). Latency: every question asked
`--repeat` times after a warm-up pass, median and p99 of single calls; then the same on a
synthetic corpus `--scale` times larger (sections cloned with shuffled and perturbed
text and questions), with the ratios of the two. `--check` exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from bot.policy.corpus import LOCALES, Corpus, CorpusError, Section, load_corpus
from bot.policy.engine import PolicyEngine

REPO = Path(__file__).resolve().parents[2]
DEFAULT_QUESTIONS = REPO / "tests" / "policy" / "questions.yaml"

TARGET_TOP1 = 0.90
TARGET_TOP3 = 0.97
TARGET_REFUSAL = 0.90
TARGET_P99_MS = 20.0
TARGET_SCALED_P99_MS = 50.0


@dataclass(frozen=True)
class Question:
    q: str
    lang: str
    expect: tuple[int, ...]
    style: str = ""


@dataclass
class LangStats:
    n: int = 0
    top1: int = 0
    top3: int = 0
    false_refusals: int = 0
    shown3: int = 0  # one of the sections shown to the user (answer + "may be related" buttons) is right
    oos_offered: int = 0  # out-of-scope questions refused with "may be related" buttons
    rank1: int = 0  # the best candidate is right, whether or not the engine answered
    rank3: int = 0
    oos: int = 0
    refused: int = 0
    misses: list[str] = field(default_factory=list)

    def rate(self, num: int, den: int) -> float | None:
        return num / den if den else None


def load_questions(path: Path) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = data.get("questions", []) if isinstance(data, dict) else data
    out = []
    for item in items or []:
        if not isinstance(item, dict) or not item.get("q"):
            continue
        out.append(
            Question(
                str(item["q"]),
                str(item.get("lang", "zh_Hans")),
                tuple(int(x) for x in item.get("expect") or ()),
                str(item.get("style") or ""),
            )
        )
    return out


def measure_accuracy(engine: PolicyEngine, questions: Sequence[Question]) -> dict[str, LangStats]:
    stats = {lang: LangStats() for lang in LOCALES}
    for q in questions:
        s = stats.setdefault(q.lang, LangStats())
        result = engine.ask(q.q, k=3)
        got = [m.section.number for m in result.matches]
        shown = got[:1] + [m.section.number for m in result.suggestions]
        if not q.expect:
            s.oos += 1
            if not result.answered:
                s.refused += 1
                s.oos_offered += bool(result.suggestions)
            else:
                s.misses.append(f"[oos answered {got}] {q.q}")
            continue
        s.n += 1
        cand = [m.section.number for m in result.candidates]
        s.rank1 += bool(cand) and cand[0] in q.expect
        s.rank3 += any(n in q.expect for n in cand[:3])
        s.shown3 += any(n in q.expect for n in shown[:3])
        if not result.answered:
            s.false_refusals += 1
            s.misses.append(f"[refused, expected {list(q.expect)}, candidates {cand}] {q.q}")
            continue
        if got and got[0] in q.expect:
            s.top1 += 1
        else:
            s.misses.append(f"[expected {list(q.expect)}, got {got}] {q.q}")
        if any(n in q.expect for n in got[:3]):
            s.top3 += 1
    return stats


def measure_latency(engine: PolicyEngine, questions: Sequence[Question], repeat: int) -> tuple[float, float]:
    """(median, p99) in milliseconds of single `ask` calls, after a warm-up pass."""
    texts = [q.q for q in questions]
    for t in texts:
        engine.ask(t)
    times = []
    for _ in range(repeat):
        for t in texts:
            start = time.perf_counter_ns()
            engine.ask(t)
            times.append((time.perf_counter_ns() - start) / 1e6)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return statistics.median(times), p99


# --------------------------------------------------------------------------- synthetic corpus


def _perturb(text: str, rng: random.Random, pool: str) -> str:
    """Shuffle a part of the words (characters for Chinese), drop some, replace some."""
    if " " in text.strip():
        units = text.split()
        sep = " "
    else:
        units = list(text)
        sep = ""
    n = len(units)
    if n > 2:
        for _ in range(max(1, n // 4)):
            i, j = rng.randrange(n), rng.randrange(n)
            units[i], units[j] = units[j], units[i]
    out = []
    for u in units:
        r = rng.random()
        if r < 0.1:
            continue
        if r < 0.3 and pool:
            u = "".join(rng.choice(pool) for _ in range(max(1, len(u))))
        out.append(u)
    return sep.join(out) or text


def synthetic_corpus(corpus: Corpus, scale: int, seed: int = 7) -> Corpus:
    """The corpus plus (scale - 1) perturbed clones of every section (scale × sections)."""
    rng = random.Random(seed)
    pools = {}
    for lang in LOCALES:
        chars = "".join(s.answer_for(lang) for s in corpus.sections.values())
        pools[lang] = "".join(sorted({ch for ch in chars if ch.isalpha()}))
    sections: dict[int, Section] = dict(corpus.sections)
    width = max(corpus.sections) if corpus.sections else 0
    for clone in range(1, scale):
        for number, s in corpus.sections.items():
            new = clone * width + number

            def p(text: str, lang: str = "zh_Hans") -> str:
                return _perturb(text, rng, pools[lang])

            sections[new] = Section(
                number=new,
                label=s.label,
                chapter=s.chapter,
                title=p(s.title),
                text=p(s.text),
                tags=s.tags,
                answer=MappingProxyType({lang: p(a, lang) for lang, a in s.answer.items()}),
                questions=MappingProxyType(
                    {lang: tuple(p(q, lang) for q in qs) for lang, qs in s.questions.items()}
                ),
                keywords=MappingProxyType(
                    {lang: tuple(p(k, lang) for k in ks) for lang, ks in s.keywords.items()}
                ),
                related=(),
            )
    return Corpus(
        corpus.document_title,
        corpus.chapters,
        MappingProxyType(sections),
        corpus.topics,
        corpus.synonyms,
        corpus.directory,
    )


# --------------------------------------------------------------------------- report


def _pct(x: float | None) -> str:
    return "   -  " if x is None else f"{100 * x:5.1f}%"


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.policy.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument(
        "--corpus", type=Path, default=None, help="corpus directory (default bot/policy/data)"
    )
    parser.add_argument("--scale", type=int, default=100, help="synthetic corpus factor (0 or 1: skip)")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the questions")
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument(
        "--misses", action="store_true", help="list wrong answers (for development sets only)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    try:
        corpus = load_corpus(args.corpus)
    except CorpusError as exc:
        print(f"corpus does not load: {exc}")
        return 1 if args.check else 0
    try:
        questions = load_questions(args.questions)
    except (OSError, yaml.YAMLError, ValueError, TypeError) as exc:
        print(f"question set does not load: {args.questions}: {exc}")
        return 1 if args.check else 0

    started = time.perf_counter()
    engine = PolicyEngine(corpus, threshold=args.threshold)
    build_s = time.perf_counter() - started
    print(f"date: {time.strftime('%Y-%m-%d')}  machine: {machine()}")
    print(
        f"corpus: {len(corpus.sections)} sections, index built in {build_s:.2f} s; "
        f"questions: {args.questions} ({len(questions)}); threshold {engine.threshold}"
    )
    stats = measure_accuracy(engine, questions)
    ok = True
    print(
        f"{'language':<9} {'n':>4} {'top-1':>7} {'top-3':>7}   {'answered top-3':>14} {'false refusals':>15}"
        f" {'out-of-scope':>13} {'refused':>8} {'with buttons':>13}   ranking alone: top-1  top-3"
    )
    rows = list(stats.items())
    total = LangStats()
    for s in stats.values():
        for name in ("n", "top1", "top3", "shown3", "false_refusals", "oos", "refused", "oos_offered", "rank1", "rank3"):
            setattr(total, name, getattr(total, name) + getattr(s, name))
    for lang, s in [*rows, ("all", total)]:
        top1, shown3 = s.rate(s.top1, s.n), s.rate(s.shown3, s.n)
        refusal = s.rate(s.refused, s.oos)
        print(
            f"{lang:<9} {s.n:>4} {_pct(top1):>7} {_pct(shown3):>7}   {_pct(s.rate(s.top3, s.n)):>14} "
            f"{s.false_refusals:>6} ({_pct(s.rate(s.false_refusals, s.n))}) {s.oos:>13} {_pct(refusal):>8} "
            f"{s.oos_offered:>13}   {_pct(s.rate(s.rank1, s.n)):>20} {_pct(s.rate(s.rank3, s.n)):>6}"
        )
        if lang == "all":
            continue
        if s.n and (top1 < TARGET_TOP1 or shown3 < TARGET_TOP3):
            ok = False
        if s.oos and refusal < TARGET_REFUSAL:
            ok = False
    if args.misses:
        for lang, s in stats.items():
            for line in s.misses:
                print(f"  {lang}: {line}")

    if questions:
        med, p99 = measure_latency(engine, questions, args.repeat)
        print(
            f"latency ({len(corpus.sections)} sections, {len(questions)} questions × {args.repeat}): "
            f"median {med:.2f} ms, p99 {p99:.2f} ms"
        )
        ok = ok and p99 <= TARGET_P99_MS
        if args.scale and args.scale > 1:
            big = synthetic_corpus(corpus, args.scale)
            started = time.perf_counter()
            big_engine = PolicyEngine(big, threshold=args.threshold)
            build_big = time.perf_counter() - started
            bmed, bp99 = measure_latency(big_engine, questions, max(1, args.repeat // 2))
            print(
                f"latency ({len(big.sections)} sections, ×{args.scale}, index built in {build_big:.1f} s): "
                f"median {bmed:.2f} ms, p99 {bp99:.2f} ms; ratio to the real corpus: "
                f"median ×{bmed / med:.2f}, p99 ×{bp99 / p99:.2f}"
            )
            ok = ok and bp99 <= TARGET_SCALED_P99_MS
    print(
        "targets: top-1 ≥ 90%, top-3 ≥ 97% per language, out-of-scope refusal ≥ 90%, "
        f"p99 ≤ {TARGET_P99_MS:g} ms (≤ {TARGET_SCALED_P99_MS:g} ms ×{args.scale}): {'met' if ok else 'MISSED'}"
    )
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
