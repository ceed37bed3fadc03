"""Retrieval over the policy corpus: which section answers a question, and how sure we are.

Per language, two BM25 indexes (built with bm25s): one over small documents of every
section (each curated question, the keyword set, the answer; for Chinese also the title and
the original text, whole and sentence by sentence) and one over sections (the bag of all of
a section's material in that language). A question is tokenised for every script it
contains (text.py) and scored against the index of that language; a section's score is its
section-level score plus a small share of its best document's, each divided by what the
question could score at most, so that scores are comparable between questions.

The confidence (0..1) rests on the evidence for the best section: that score, the
IDF-weighted share of the question's tokens the section has (coverage) and the same for the
question's content words (unit coverage: a word counts through its stem, its synonym group
or, partly, its bigrams; unknown words weigh most). A question about something the document
does not cover keeps unknown or foreign words and scores low; below the threshold the
engine refuses. Everyday questions next to the domain (pensions, car insurance, credit
cards, bank hours) share words with it (保险, 银行, 养老); a question holding one of the
out-of-scope cues of bot/policy/data/out_of_scope.yaml needs OUT_OF_SCOPE_PENALTY more
evidence, and a question that is nothing but such a cue ('weather', 'your name', '养老金') is
refused outright. The evidence thresholds per language were set on development questions
(tests/policy/dev_questions.yaml) and on held-out folds of the curated questions.

Homophone typos of pinyin input methods (抵保/底保 for 低保, 合做社, 修录 for 修路): a Chinese
word or bigram of the question that the index does not know is replaced by the known one(s)
that read the same in toneless pinyin (pypinyin, character by character), at
HOMOPHONE_WEIGHT of its weight, and a content word the index does not know is covered
through them. Known words never change, so
the channel only acts where the question would otherwise score nothing; out-of-scope cues are
also recognised through their homophones (天汽 → 天气, text.CueTable.find_homophones).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from bot.policy.corpus import LOCALES, Corpus, Section
from bot.policy.text import (
    BIGRAM,
    NUMBER,
    SYNONYM,
    UNIGRAM,
    WORD,
    Query,
    SynonymTable,
    Unit,
    char_pinyin_key,
    is_han,
    normalize,
    prepare_query,
    token_kind,
    tokens_for,
    zh_glued,
)

DEFAULT_THRESHOLD = 0.5
# Evidence = score + COVERAGE_WEIGHT × coverage + UNIT_WEIGHT × unit coverage; its value at
# confidence 0.5 per language of the question (Korean questions carry more endings and
# particles that match nothing, so the same evidence means more there).
COVERAGE_WEIGHT = 0.3
UNIT_WEIGHT = 0.3
EVIDENCE_THRESHOLDS = {"zh_Hans": 0.31, "ko": 0.29, "en": 0.46}
CONFIDENCE_SLOPE = 10.0
# extra evidence needed when the question holds an out-of-scope cue (data/out_of_scope.yaml)
OUT_OF_SCOPE_PENALTY = 0.3
# A candidate section at or above this confidence is offered to the user as "may be related"
# (a button, never a citation): after an answer the runners-up, after a refusal the best
# candidates. Set on 4-fold held-out curated questions: it keeps ~99% of the right sections
# that a floor of 0 would offer while showing buttons for <20% of out-of-scope questions.
SUGGEST_FLOOR = 0.1
# content units (Han/Hangul characters, a Latin word's letters / 3 rounded up) below which we refuse
MIN_CONTENT = 2

# query token weights by kind
TOKEN_WEIGHTS = {"": 1.0, BIGRAM: 0.6, UNIGRAM: 0.2, SYNONYM: 0.8, NUMBER: 0.5}
# document weights by kind
DOC_WEIGHTS = {"question": 1.0, "keywords": 0.9, "title": 0.8, "answer": 0.75, "sentence": 0.6, "text": 0.5}
# Homophone typos of pinyin input methods (抵保 → 低保, 合做社 → 合作社): a Chinese word or
# bigram of the question that the index does not know stands also for the known ones that
# read the same (toneless pinyin), at this share of its weight, at most HOMOPHONE_MAX of them
HOMOPHONE_WEIGHT = 0.5
HOMOPHONE_MAX = 2
HOMOPHONE_REPLACE = True  # drop the unknown token itself when it has homophones
DOC_SHARE = 0.15  # weight of the best single document next to the section-level score
K1, B = 1.5, 0.75  # per-document index
BAG_K1, BAG_B = 1.5, 0.75  # section-level index

_SENTENCE_RE = re.compile(r"[^。;；!?！？\n]+")


@dataclass(frozen=True)
class Match:
    section: Section
    score: float  # confidence 0..1


@dataclass(frozen=True)
class Result:
    matches: tuple[Match, ...]  # best first (top-k); empty when the engine refuses
    answered: bool  # False = refusal (out of scope / no content)
    language: str  # detected language of the question: zh_Hans|ko|en
    candidates: tuple[Match, ...] = ()  # best sections even on refusal: for logs and evaluation only
    reason: str = ""  # why the engine refused: empty|too_short|low_confidence
    # sections to offer as "may be related" (buttons, not sources): after an answer the
    # runners-up of `matches`, after a low-confidence refusal the best candidates
    suggestions: tuple[Match, ...] = ()

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


class _Candidate(NamedTuple):
    pos: int  # position of the section in PolicyEngine.sections
    confidence: float
    score: float  # normalised BM25 score
    coverage: float  # IDF-weighted share of the question's tokens the section has
    unit_coverage: float  # IDF-weighted share of the question's content words the section has


@dataclass
class _Docs:
    """Documents of one language while building: tokens, owning section, kind."""

    tokens: list[list[str]] = field(default_factory=list)
    section: list[int] = field(default_factory=list)  # position of the section in order
    weight: list[float] = field(default_factory=list)

    def add(self, toks: list[str], pos: int, kind: str) -> None:
        if toks:
            self.tokens.append(toks)
            self.section.append(pos)
            self.weight.append(DOC_WEIGHTS[kind])


class _Bm25:
    """A BM25 index (built by bm25s) with weighted queries and IDF lookups."""

    def __init__(self, docs: Sequence[list[str]], k1: float, b: float) -> None:
        import bm25s

        # bm25s sets its own logger to DEBUG on import and logs every index build.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.n = len(docs)
        self.k1 = k1
        index = bm25s.BM25(k1=k1, b=b, method="lucene")
        index.index([list(d) for d in docs], show_progress=False)
        self.vocab: dict[str, int] = index.vocab_dict
        self.data: np.ndarray = np.asarray(index.scores["data"], dtype=np.float64)
        self.indices: np.ndarray = np.asarray(index.scores["indices"])
        self.indptr: np.ndarray = np.asarray(index.scores["indptr"])
        df = np.diff(self.indptr)
        # Lucene IDF, as bm25s uses it; unknown tokens get the largest possible IDF
        self.idf = np.log(1 + (self.n - df + 0.5) / (df + 0.5))
        self.max_idf = math.log(1 + (self.n + 0.5) / 0.5)

    def scores(self, weighted: Sequence[tuple[str, float]]) -> np.ndarray:
        idx_parts, val_parts = [], []
        for token, w in weighted:
            tid = self.vocab.get(token)
            if tid is None:
                continue
            s, e = self.indptr[tid], self.indptr[tid + 1]
            idx_parts.append(self.indices[s:e])
            val_parts.append(self.data[s:e] * w)
        if not idx_parts:
            return np.zeros(self.n)
        return np.bincount(np.concatenate(idx_parts), weights=np.concatenate(val_parts), minlength=self.n)

    def token_idf(self, token: str) -> float:
        tid = self.vocab.get(token)
        return float(self.idf[tid]) if tid is not None else self.max_idf


class _LanguageIndex:
    def __init__(self, lang: str, sections: Sequence[Section], synonyms: SynonymTable) -> None:
        self.lang = lang
        self.synonyms = synonyms
        docs = _Docs()
        bags: list[list[str]] = []
        for pos, section in enumerate(sections):
            start = len(docs.tokens)
            bag: list[str] = []

            def add(text: str, kind: str, pos: int = pos, bag: list[str] = bag) -> None:
                toks = tokens_for(lang, normalize(text), synonyms)
                docs.add(toks, pos, kind)
                bag.extend(toks)

            for q in section.questions.get(lang, ()):
                add(q, "question")
            kws = section.keywords.get(lang, ())
            if kws:
                add(" ".join(kws), "keywords")
            if lang == "zh_Hans":
                add(section.title, "title")
            answer = section.answer.get(lang)
            if answer:
                add(answer, "answer")
            if lang == "zh_Hans":
                body = section.text
                sentences = [s for s in _SENTENCE_RE.findall(body) if len(s.strip()) > 4]
                if len(sentences) > 1:
                    for sentence in sentences:
                        add(sentence, "sentence")
                toks = tokens_for(lang, normalize(body), synonyms)
                docs.add(toks, pos, "text")
                # the body goes into the section's bag only once (sentences repeat it)
                bag.extend(toks)
            if len(docs.tokens) == start:  # keep one (empty) document per section
                docs.tokens.append([])
                docs.section.append(pos)
                docs.weight.append(0.0)
            bags.append(bag)
        self.docs = _Bm25(docs.tokens, K1, B)
        self.doc_weight = np.asarray(docs.weight)
        self.starts = np.flatnonzero(np.r_[True, np.diff(np.asarray(docs.section)) != 0])
        self.bags = _Bm25(bags, BAG_K1, BAG_B)
        self.vocab_of = [frozenset(b) for b in bags]
        self.homophones = _homophone_table(self.bags) if lang == "zh_Hans" else {}

    def homophones_of(self, token: str) -> tuple[str, ...]:
        """Known words or bigrams that read like `token` when the index does not know it."""
        if not self.homophones or token in self.bags.vocab:
            return ()
        kind = token_kind(token)
        surface = token[len(kind) :]
        if kind not in (WORD, BIGRAM) or len(surface) < 2:
            return ()
        return self.homophones.get(kind + char_pinyin_key(surface), ())

    def expand(self, unit: Unit) -> Unit:
        """A content word the index does not know, with the known words that read the same."""
        if not self.homophones or any(f in self.bags.vocab for f in unit.forms):
            return unit
        forms = tuple(h for f in unit.forms for h in self.homophones_of(f))
        parts = tuple((self.homophones_of(p) or (p,))[0] for p in unit.parts)
        if not forms and parts == unit.parts:
            return unit
        groups = unit.groups + tuple(
            g for h in forms for g in self.synonyms.tokens(self.lang, h, query=False) if g not in unit.groups
        )
        return Unit(unit.surface, unit.forms + forms, parts, groups)

    def unit_weight(self, unit: Unit) -> float:
        """IDF of a content word in the section-level index (unknown words weigh most)."""
        known = [self.bags.idf[self.bags.vocab[f]] for f in unit.forms if f in self.bags.vocab]
        if known:
            return float(max(known))
        if unit.parts:
            return float(np.mean([self.bags.token_idf(p) for p in unit.parts]))
        return self.bags.max_idf

    def weighted(self, tokens: Iterable[str]) -> list[tuple[str, float]]:
        if self.lang == "zh_Hans":
            # a two-character jieba word the index does not know and that holds a function
            # character (想建, 钱会, 是从) is a segmentation accident: its bigram and the
            # content character still count, the accident does not
            tokens = [t for t in tokens if not _glued(t) or t in self.bags.vocab]
        if not self.homophones:
            return [(t, TOKEN_WEIGHTS[token_kind(t)]) for t in tokens]
        out: list[tuple[str, float]] = []
        seen = set(tokens)
        extra: list[tuple[str, float]] = []
        for t in tokens:
            hs = self.homophones_of(t)
            if not hs or not HOMOPHONE_REPLACE:
                out.append((t, TOKEN_WEIGHTS[token_kind(t)]))
            for h in hs:
                if h in seen:
                    continue
                seen.add(h)
                extra.append((h, TOKEN_WEIGHTS[token_kind(h)] * HOMOPHONE_WEIGHT))
                if token_kind(h) == WORD:
                    for g in self.synonyms.tokens(self.lang, h, query=False):
                        if g not in seen:
                            seen.add(g)
                            extra.append((g, TOKEN_WEIGHTS[SYNONYM] * HOMOPHONE_WEIGHT))
        return out + extra

    def score(self, tokens: Sequence[str]) -> tuple[np.ndarray, list[tuple[str, float]]]:
        """(normalised section scores, (token, weight × idf) of the query, for coverage)."""
        weighted = self.weighted(tokens)
        doc = self.docs.scores(weighted) * self.doc_weight
        best_doc = np.maximum.reduceat(doc, self.starts)
        bag = self.bags.scores(weighted)
        mass = [(t, w * self.bags.token_idf(t)) for t, w in weighted]
        doc_max = sum(w * self.docs.token_idf(t) for t, w in weighted) * (self.docs.k1 + 1) / 2
        bag_max = sum(m for _, m in mass) * (self.bags.k1 + 1) / 2
        raw = bag / max(bag_max, 1e-9) + DOC_SHARE * best_doc / max(doc_max, 1e-9)
        return raw / (1 + DOC_SHARE), mass


class PolicyEngine:
    """Finds the sections that answer a question. Build once per corpus; `ask` is
    thread-safe (read-only) and fast (a few milliseconds)."""

    def __init__(self, corpus: Corpus, *, threshold: float | None = None) -> None:
        self.corpus = corpus
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self.synonyms = corpus.synonyms
        self.cues = corpus.out_of_scope
        self.sections: tuple[Section, ...] = tuple(s for _, s in sorted(corpus.sections.items()))
        self.indexes: dict[str, _LanguageIndex] = {
            lang: _LanguageIndex(lang, self.sections, self.synonyms) for lang in LOCALES
        }

    # ------------------------------------------------------------------ public

    def ask(self, question: str, k: int = 3) -> Result:
        query = prepare_query(question, self.synonyms)
        if query.empty or query.content < MIN_CONTENT:
            return Result((), False, query.language, reason="too_short")
        if len(query.units.get(query.language, ())) <= 1 and self._cues(query):
            # a lone out-of-scope word ('weather', 'your name', '养老金') is no policy question
            return Result((), False, query.language, reason="too_short")
        ranked = self._rank(query, max(k, 1))
        candidates = tuple(Match(self.sections[c.pos], c.confidence) for c in ranked)
        if not candidates or candidates[0].score < self.threshold:
            offered = tuple(m for m in candidates[:k] if m.score >= SUGGEST_FLOOR)
            return Result((), False, query.language, candidates, reason="low_confidence", suggestions=offered)
        offered = tuple(m for m in candidates[1:k] if m.score >= SUGGEST_FLOOR)
        return Result(candidates[:k], True, query.language, candidates, suggestions=offered)

    def explain(self, question: str, k: int = 5) -> dict:
        """The numbers behind a decision (for evaluation and debugging)."""
        query = prepare_query(question, self.synonyms)
        ranked = self._rank(query, k) if not query.empty else []
        return {
            "text": query.text,
            "language": query.language,
            "content": query.content,
            "out_of_scope": list(self._cues(query)),
            "tokens": {lang: list(t) for lang, t in query.tokens.items()},
            "top": [
                {
                    "section": self.sections[c.pos].number,
                    "confidence": round(c.confidence, 3),
                    "score": round(c.score, 3),
                    "coverage": round(c.coverage, 3),
                    "units": round(c.unit_coverage, 3),
                }
                for c in ranked
            ],
        }

    # ------------------------------------------------------------------ scoring

    def _cues(self, query: Query) -> tuple[str, ...]:
        """The out-of-scope cues of the question, also through homophone typos (天汽 → 天气)."""
        return self.cues.find(query.text) or self.cues.find_homophones(query.text)

    def _rank(self, query: Query, k: int) -> list[_Candidate]:
        """The k best sections, best first."""
        n = len(self.sections)
        total = np.zeros(n)
        parts: list[tuple[_LanguageIndex, list[tuple[str, float]]]] = []
        zsum = 0.0
        for lang, tokens in query.tokens.items():
            if not tokens:
                continue
            index = self.indexes[lang]
            raw, mass = index.score(tokens)
            z = sum(m for _, m in mass)
            if z <= 0:
                continue
            zsum += z
            total += raw * z
            parts.append((index, mass))
        if zsum <= 0:
            return []
        total /= zsum
        m = min(max(k, 2) + 3, n)
        top = np.argpartition(-total, m - 1)[:m] if m < n else np.arange(n)
        top = top[np.argsort(-total[top], kind="stable")]
        coverage = np.zeros(len(top))
        unit_cov = np.zeros(len(top))
        unit_total = 0.0
        for index, mass in parts:
            units = [index.expand(u) for u in query.units.get(index.lang, ())]
            weights = [index.unit_weight(u) for u in units]
            unit_total += sum(weights)
            for j, pos in enumerate(top):
                vocab = index.vocab_of[pos]
                coverage[j] += sum(mm for t, mm in mass if t in vocab)
                unit_cov[j] += sum(w * _covered(u, vocab) for u, w in zip(units, weights, strict=True))
        coverage /= zsum
        if unit_total > 0:
            unit_cov /= unit_total
        scores = total[top]
        lang_threshold = EVIDENCE_THRESHOLDS.get(query.language, EVIDENCE_THRESHOLDS["zh_Hans"])
        if self._cues(query):
            lang_threshold += OUT_OF_SCOPE_PENALTY
        out = []
        for j, pos in enumerate(top[:k]):
            conf = confidence(float(scores[j]), float(coverage[j]), float(unit_cov[j]), lang_threshold)
            out.append(_Candidate(int(pos), conf, float(scores[j]), float(coverage[j]), float(unit_cov[j])))
        return out


def _homophone_table(index: _Bm25) -> dict[str, tuple[str, ...]]:
    """Known Chinese words and bigrams by kind + toneless pinyin, most frequent first."""
    table: dict[str, list[str]] = {}
    for token in index.vocab:
        kind = token_kind(token)
        surface = token[len(kind) :]
        if kind in (WORD, BIGRAM) and len(surface) >= 2 and all(map(is_han, surface)):
            table.setdefault(kind + char_pinyin_key(surface), []).append(token)
    df = np.diff(index.indptr)
    return {
        key: tuple(sorted(tokens, key=lambda t: -df[index.vocab[t]])[:HOMOPHONE_MAX])
        for key, tokens in table.items()
    }


def _glued(token: str) -> bool:
    return token_kind(token) == "" and zh_glued(token)


def _covered(unit: Unit, vocab: frozenset[str]) -> float:
    if any(f in vocab for f in unit.forms) or any(g in vocab for g in unit.groups):
        return 1.0
    if unit.parts:
        return 0.8 * sum(p in vocab for p in unit.parts) / len(unit.parts)
    return 0.0


def confidence(score: float, coverage: float, unit_coverage: float, threshold: float) -> float:
    """0..1 from the evidence for a section: its normalised score plus the share of the
    question's tokens and of its content words that the section knows; 0.5 at the
    language's evidence threshold (calibrated on out-of-scope questions)."""
    evidence = score + COVERAGE_WEIGHT * coverage + UNIT_WEIGHT * unit_coverage
    return 1 / (1 + math.exp(-CONFIDENCE_SLOPE * (evidence - threshold)))


def section_numbers(matches: Iterable[Match]) -> list[int]:
    return [m.section.number for m in matches]
