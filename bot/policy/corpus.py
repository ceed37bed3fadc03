"""The policy corpus: chapters, numbered sections, topics and synonyms, loaded from YAML.

The loader is strict: any problem raises `CorpusError` whose message names the file, the
line and the field ('bot/policy/data/sections/32.yaml:14: answer.ko: missing'), so an
admin who edited a file can find the mistake; the service keeps the last good corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from bot.policy.seed import DOCUMENT_TITLE, int_to_cn
from bot.policy.text import CueTable, SynonymTable

LOCALES = ("zh_Hans", "ko", "en")
DEFAULT_LOCALE = "zh_Hans"
DATA_DIR = Path(__file__).resolve().parent / "data"
SECTION_COUNT = 40
CHAPTER_COUNT = 7
MAX_ZH_ANSWER = 320
MAX_ANSWER = 1500  # ko/en: a sanity bound well inside one Telegram message
MAX_TAGS = 4

_TOPIC_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_SECTION_FILE_RE = re.compile(r"^(\d{2})\.yaml$")


class CorpusError(Exception):
    """A corpus file is missing, not valid YAML, or does not validate."""

    def __init__(self, path: Path | str, line: int | None, field_name: str | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field_name
        self.problem = problem
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {field_name}: {problem}" if field_name else f"{where}: {problem}")


# --------------------------------------------------------------------------- model


def _freeze(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Section:
    number: int
    label: str
    chapter: int
    title: str
    text: str
    tags: tuple[str, ...] = ()
    answer: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    questions: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    related: tuple[int, ...] = ()

    def __hash__(self) -> int:
        return hash((self.number, self.label, self.title))

    def answer_for(self, locale: str) -> str:
        """The plain-language answer in `locale`, falling back to Chinese."""
        return self.answer.get(locale) or self.answer.get(DEFAULT_LOCALE, "")

    @property
    def source(self) -> str:
        """The citation: '《关于全面推进脱贫攻坚的实施意见》（三十二）'."""
        return f"《{DOCUMENT_TITLE}》（{self.label}）"


@dataclass(frozen=True)
class Chapter:
    number: int
    label: str
    title: str
    intro: str = ""

    def __hash__(self) -> int:
        return hash((self.number, self.title))


@dataclass(frozen=True)
class Topic:
    id: str
    labels: Mapping[str, str]

    def __hash__(self) -> int:
        return hash(self.id)

    def label(self, locale: str) -> str:
        return self.labels.get(locale) or self.labels.get(DEFAULT_LOCALE, self.id)


@dataclass(frozen=True)
class Corpus:
    document_title: str
    chapters: Mapping[int, Chapter]
    sections: Mapping[int, Section]
    topics: tuple[Topic, ...]
    synonyms: SynonymTable = field(default_factory=SynonymTable)
    directory: Path | None = None
    out_of_scope: CueTable = field(default_factory=CueTable)

    def __hash__(self) -> int:
        return id(self)

    def sections_for_topic(self, topic_id: str) -> list[Section]:
        """Sections tagged with `topic_id`, in document order."""
        return [s for _, s in sorted(self.sections.items()) if topic_id in s.tags]

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    def section(self, number: int) -> Section | None:
        return self.sections.get(number)


# --------------------------------------------------------------------------- YAML with line numbers


class _Doc:
    """A parsed YAML file: values plus the marks of every node, for error messages."""

    def __init__(self, path: Path, display: str) -> None:
        self.display = display
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CorpusError(display, None, None, "file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CorpusError(display, None, None, f"cannot read: {exc.__class__.__name__}") from None
        try:
            self.node = yaml.compose(raw, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(raw)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = " ".join(str(p) for p in (exc.problem, exc.context) if p) or "invalid YAML"
            raise CorpusError(display, line, None, f"invalid YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise CorpusError(display, None, None, f"invalid YAML: {exc}") from None

    def error(self, node: yaml.Node | None, field_name: str | None, problem: str) -> CorpusError:
        line = node.start_mark.line + 1 if node is not None else 1
        return CorpusError(self.display, line, field_name, problem)


def _items(node: yaml.Node | None) -> Iterator[tuple[Any, yaml.Node, yaml.Node]]:
    """(key value, key node, value node) of a mapping node."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield (k.value if isinstance(k, yaml.ScalarNode) else None), k, v


def _child(node: yaml.Node | None, key: Any) -> tuple[yaml.Node | None, yaml.Node | None]:
    for k, knode, vnode in _items(node):
        if k == key or str(k) == str(key):
            return knode, vnode
    return None, None


def _seq_nodes(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


class _Checker:
    """Validates a mapping (one YAML document or a part of it) field by field."""

    def __init__(
        self, doc: _Doc, node: yaml.Node | None, data: Any, prefix: str = "", anchor: yaml.Node | None = None
    ) -> None:
        self.doc, self.node, self.data, self.prefix = doc, node, data, prefix
        self.anchor = anchor  # the key node of this mapping in its parent: where 'missing' points

    def name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str | None, problem: str, node: yaml.Node | None = None) -> CorpusError:
        if node is None and key is not None:
            knode, vnode = _child(self.node, key)
            node = vnode if vnode is not None else knode
        if node is None:
            node = self.anchor if self.anchor is not None else self.node
        return self.doc.error(node, self.name(key) if key else None, problem)

    def require_mapping(self) -> dict:
        if not isinstance(self.data, dict):
            what = "empty" if self.data is None else f"expected a mapping, got {_kind(self.data)}"
            raise self.doc.error(self.node, self.prefix.rstrip(".") or None, what)
        return self.data

    def only(self, allowed: set[str]) -> None:
        for k, knode, _ in _items(self.node):
            if str(k) not in allowed:
                raise self.doc.error(knode, self.name(str(k)), "unknown field")

    def present(self, key: str) -> Any:
        if key not in self.data or self.data[key] is None:
            raise self.fail(key, "missing")
        return self.data[key]

    def int_in(self, key: str, lo: int, hi: int) -> int:
        value = self.present(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(key, f"expected an integer, got {_kind(value)}")
        if not lo <= value <= hi:
            raise self.fail(key, f"must be between {lo} and {hi}, got {value}")
        return value

    def text(self, key: str, *, max_len: int | None = None) -> str:
        value = self.present(key)
        if not isinstance(value, str):
            raise self.fail(key, f"expected text, got {_kind(value)}")
        if not value.strip():
            raise self.fail(key, "empty")
        if max_len is not None and len(value.strip()) > max_len:
            raise self.fail(key, f"too long: {len(value.strip())} characters (at most {max_len})")
        return value.strip()

    def sub(self, key: str, *, required: bool = True) -> _Checker | None:
        if key not in self.data or self.data[key] is None:
            if required:
                raise self.fail(key, "missing")
            return None
        knode, vnode = _child(self.node, key)
        checker = _Checker(self.doc, vnode, self.data[key], self.name(key) + ".", anchor=knode)
        if not isinstance(checker.data, dict):
            raise self.fail(key, f"expected a mapping of {'/'.join(LOCALES)}, got {_kind(checker.data)}")
        return checker

    def str_list(self, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        value = self.present(key) if not allow_empty else (self.data.get(key) or [])
        _, vnode = _child(self.node, key)
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_kind(value)}")
        if not value and not allow_empty:
            raise self.fail(key, "empty list")
        out = []
        items = _seq_nodes(vnode)
        for i, item in enumerate(value):
            inode = items[i] if i < len(items) else vnode
            if not isinstance(item, str | int | float) or isinstance(item, bool):
                raise self.doc.error(inode, self.name(f"{key}[{i}]"), f"expected text, got {_kind(item)}")
            text = str(item).strip()
            if not text:
                raise self.doc.error(inode, self.name(f"{key}[{i}]"), "empty")
            out.append(text)
        return tuple(out)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- loading


def _display(path: Path) -> str:
    """Paths in messages: relative to the current directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load_chapters(directory: Path) -> tuple[str, dict[int, Chapter]]:
    doc = _Doc(directory / "chapters.yaml", _display(directory / "chapters.yaml"))
    top = _Checker(doc, doc.node, doc.data)
    top.require_mapping()
    top.only({"document", "chapters"})
    title = top.text("document")
    items = top.present("chapters")
    if not isinstance(items, list) or not items:
        raise top.fail("chapters", "expected a non-empty list")
    _, seq = _child(doc.node, "chapters")
    nodes = _seq_nodes(seq)
    chapters: dict[int, Chapter] = {}
    for i, item in enumerate(items):
        c = _Checker(doc, nodes[i] if i < len(nodes) else seq, item, f"chapters[{i}].")
        c.require_mapping()
        c.only({"number", "label", "title", "intro"})
        number = c.int_in("number", 1, CHAPTER_COUNT)
        if number in chapters:
            raise c.fail("number", f"duplicate chapter {number}")
        label = c.text("label")
        if label != int_to_cn(number):
            raise c.fail(
                "label", f"{label!r} does not match number {number} (expected {int_to_cn(number)!r})"
            )
        intro = item.get("intro") or ""
        if not isinstance(intro, str):
            raise c.fail("intro", f"expected text, got {_kind(intro)}")
        chapters[number] = Chapter(number, label, c.text("title"), intro.strip())
    return title, chapters


def _load_topics(directory: Path) -> tuple[Topic, ...]:
    doc = _Doc(directory / "topics.yaml", _display(directory / "topics.yaml"))
    top = _Checker(doc, doc.node, doc.data)
    top.require_mapping()
    top.only({"topics"})
    items = top.present("topics")
    if not isinstance(items, list) or not items:
        raise top.fail("topics", "expected a non-empty list")
    _, seq = _child(doc.node, "topics")
    nodes = _seq_nodes(seq)
    topics: list[Topic] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        c = _Checker(doc, nodes[i] if i < len(nodes) else seq, item, f"topics[{i}].")
        c.require_mapping()
        c.only({"id", *LOCALES})
        tid = c.text("id")
        if not _TOPIC_ID_RE.match(tid):
            raise c.fail("id", f"{tid!r} is not a valid id (lower-case letters, digits, '_')")
        if tid in seen:
            raise c.fail("id", f"duplicate topic {tid!r}")
        seen.add(tid)
        topics.append(Topic(tid, _freeze({loc: c.text(loc) for loc in LOCALES})))
    return tuple(topics)


def _open_per_locale(path: Path) -> tuple[_Doc, _Checker] | None:
    """An optional file mapping each locale to a list; None when absent or empty."""
    if not path.exists():
        return None
    doc = _Doc(path, _display(path))
    if doc.data is None:
        return None
    top = _Checker(doc, doc.node, doc.data)
    top.require_mapping()
    top.only(set(LOCALES))
    return doc, top


def _load_synonyms(directory: Path) -> SynonymTable:
    opened = _open_per_locale(directory / "synonyms.yaml")
    if opened is None:
        return SynonymTable()
    doc, top = opened
    groups: dict[str, tuple[tuple[str, ...], ...]] = {}
    for loc in LOCALES:
        items = doc.data.get(loc) or []
        if not isinstance(items, list):
            raise top.fail(loc, f"expected a list of groups, got {_kind(items)}")
        _, seq = _child(doc.node, loc)
        nodes = _seq_nodes(seq)
        out = []
        for i, group in enumerate(items):
            gnode = nodes[i] if i < len(nodes) else seq
            if not isinstance(group, list) or len(group) < 2:
                raise doc.error(gnode, f"{loc}[{i}]", "expected a list of at least two words")
            words = []
            for j, word in enumerate(group):
                if not isinstance(word, str) or not word.strip():
                    wnode = _seq_nodes(gnode)[j] if j < len(_seq_nodes(gnode)) else gnode
                    raise doc.error(wnode, f"{loc}[{i}][{j}]", "expected a non-empty word")
                words.append(word.strip())
            out.append(tuple(words))
        groups[loc] = tuple(out)
    return SynonymTable(_freeze(groups))


def _load_out_of_scope(directory: Path) -> CueTable:
    """out_of_scope.yaml (optional): per locale a list of cues, each a word or
    {cue: word, unless: [words]}."""
    opened = _open_per_locale(directory / "out_of_scope.yaml")
    if opened is None:
        return CueTable()
    doc, top = opened
    cues: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}
    for loc in LOCALES:
        items = doc.data.get(loc) or []
        if not isinstance(items, list):
            raise top.fail(loc, f"expected a list of cues, got {_kind(items)}")
        _, seq = _child(doc.node, loc)
        nodes = _seq_nodes(seq)
        out = []
        for i, item in enumerate(items):
            node = nodes[i] if i < len(nodes) else seq
            unless: object = []
            if isinstance(item, dict):
                if set(item) - {"cue", "unless"}:
                    raise doc.error(node, f"{loc}[{i}]", "only 'cue' and 'unless' are allowed")
                unless = item.get("unless") or []
                item = item.get("cue")
            if not isinstance(item, str) or not item.strip():
                raise doc.error(node, f"{loc}[{i}]", "expected a word or {cue: word, unless: [words]}")
            if not isinstance(unless, list) or not all(isinstance(u, str) and u.strip() for u in unless):
                raise doc.error(node, f"{loc}[{i}].unless", "expected a list of words")
            out.append((item.strip(), tuple(u.strip() for u in unless)))
        cues[loc] = tuple(out)
    return CueTable(_freeze(cues))


_SECTION_FIELDS = {
    "number",
    "label",
    "chapter",
    "title",
    "text",
    "tags",
    "answer",
    "questions",
    "keywords",
    "related",
}


def _load_section(path: Path, chapters: Mapping[int, Chapter], topic_ids: set[str]) -> tuple[Section, _Doc]:
    doc = _Doc(path, _display(path))
    c = _Checker(doc, doc.node, doc.data)
    c.require_mapping()
    c.only(_SECTION_FIELDS)
    number = c.int_in("number", 1, SECTION_COUNT)
    expected = int(_SECTION_FILE_RE.match(path.name).group(1))
    if number != expected:
        twin = path.with_name(f"{number:02d}.yaml")
        if twin.exists():
            raise c.fail(
                "number", f"duplicate section {number} (also in {_display(twin)}); this file is {path.name}"
            )
        raise c.fail("number", f"{number} does not match the file name {path.name}")
    label = c.text("label")
    if label != int_to_cn(number):
        raise c.fail("label", f"{label!r} does not match number {number} (expected {int_to_cn(number)!r})")
    chapter = c.int_in("chapter", 1, CHAPTER_COUNT)
    if chapters and chapter not in chapters:
        raise c.fail("chapter", f"chapter {chapter} is not in chapters.yaml")
    title = c.text("title")
    text = c.text("text")
    if not (text.startswith(f"({label})") or text.startswith(f"（{label}）")):
        raise c.fail("text", f"must start with the section's own header ({label})")

    tags = c.str_list("tags")
    _, tags_node = _child(doc.node, "tags")
    tag_nodes = _seq_nodes(tags_node)
    if len(tags) > MAX_TAGS:
        raise c.fail("tags", f"at most {MAX_TAGS} tags, got {len(tags)}")
    for i, tag in enumerate(tags):
        if tag not in topic_ids:
            raise doc.error(
                tag_nodes[i] if i < len(tag_nodes) else tags_node,
                f"tags[{i}]",
                f"unknown topic {tag!r} (see topics.yaml)",
            )
    if len(set(tags)) != len(tags):
        raise c.fail("tags", "duplicate tag")

    answers = c.sub("answer")
    answers.only(set(LOCALES))
    answer = {}
    for loc in LOCALES:
        answer[loc] = answers.text(loc, max_len=MAX_ZH_ANSWER if loc == DEFAULT_LOCALE else MAX_ANSWER)

    qs = c.sub("questions")
    qs.only(set(LOCALES))
    questions = {loc: qs.str_list(loc) for loc in LOCALES}

    kws = c.sub("keywords", required=False)
    keywords: dict[str, tuple[str, ...]] = {loc: () for loc in LOCALES}
    if kws is not None:
        kws.only(set(LOCALES))
        keywords = {loc: kws.str_list(loc, allow_empty=True) for loc in LOCALES}

    related: list[int] = []
    raw_related = doc.data.get("related")
    if raw_related is not None:
        if not isinstance(raw_related, list):
            raise c.fail("related", f"expected a list of section numbers, got {_kind(raw_related)}")
        _, rel_node = _child(doc.node, "related")
        rel_nodes = _seq_nodes(rel_node)
        for i, value in enumerate(raw_related):
            node = rel_nodes[i] if i < len(rel_nodes) else rel_node
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= SECTION_COUNT:
                raise doc.error(
                    node, f"related[{i}]", f"expected a section number 1-{SECTION_COUNT}, got {value!r}"
                )
            if value == number:
                raise doc.error(node, f"related[{i}]", "a section cannot be related to itself")
            if value in related:
                raise doc.error(node, f"related[{i}]", f"duplicate section {value}")
            related.append(value)

    section = Section(
        number=number,
        label=label,
        chapter=chapter,
        title=title,
        text=text,
        tags=tags,
        answer=_freeze(answer),
        questions=_freeze(questions),
        keywords=_freeze(keywords),
        related=tuple(related),
    )
    return section, doc


def load_corpus(directory: Path | None = None) -> Corpus:
    """Load and validate the corpus in `directory` (default: bot/policy/data)."""
    directory = Path(directory) if directory is not None else DATA_DIR
    if not directory.is_dir():
        raise CorpusError(_display(directory), None, None, "not a directory")
    document_title, chapters = _load_chapters(directory)
    topics = _load_topics(directory)
    synonyms = _load_synonyms(directory)
    out_of_scope = _load_out_of_scope(directory)
    topic_ids = {t.id for t in topics}

    section_dir = directory / "sections"
    if not section_dir.is_dir():
        raise CorpusError(_display(section_dir), None, None, "not a directory")
    sections: dict[int, Section] = {}
    docs: dict[int, _Doc] = {}
    for path in sorted(section_dir.iterdir()):
        if path.suffix not in (".yaml", ".yml") or path.name.startswith("."):
            continue
        if not _SECTION_FILE_RE.match(path.name):
            raise CorpusError(
                _display(path), None, None, "section files are named NN.yaml (01.yaml … 40.yaml)"
            )
        section, doc = _load_section(path, chapters, topic_ids)
        if section.number in sections:  # pragma: no cover - file names are unique
            raise doc.error(doc.node, "number", f"duplicate section {section.number}")
        sections[section.number] = section
        docs[section.number] = doc
    if not sections:
        raise CorpusError(_display(section_dir), None, None, "no section files")
    for number, section in sections.items():
        for i, rel in enumerate(section.related):
            if rel not in sections:
                doc = docs[number]
                _, rel_node = _child(doc.node, "related")
                nodes = _seq_nodes(rel_node)
                raise doc.error(
                    nodes[i] if i < len(nodes) else rel_node, f"related[{i}]", f"section {rel} does not exist"
                )
    return Corpus(
        document_title=document_title,
        chapters=_freeze(dict(sorted(chapters.items()))),
        sections=_freeze(dict(sorted(sections.items()))),
        topics=topics,
        synonyms=synonyms,
        directory=directory,
        out_of_scope=out_of_scope,
    )
