"""Splitting the policy document (plain text) into its chapters and numbered sections.

Used once to lay out the corpus files under bot/policy/data/, and by the tests to check
that every section's original text in the corpus is still the document's, verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DOCUMENT_TITLE = "关于全面推进脱贫攻坚的实施意见"

CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

_CHAPTER_RE = re.compile(r"^([一二三四五六七八九十]+)、(.+)$")
_SECTION_RE = re.compile(r"^[(（]([一二三四五六七八九十]+)[)）](.*)$")
_TRAILER = ("分享到", "当前位置")


def cn_to_int(label: str) -> int:
    """'三十二' → 32 (numbers 1-99 as the document writes them)."""
    if label == "十":
        return 10
    if "十" in label:
        tens, _, units = label.partition("十")
        return (CN_DIGITS[tens] if tens else 1) * 10 + (CN_DIGITS[units] if units else 0)
    return CN_DIGITS[label]


def int_to_cn(number: int) -> str:
    digits = {v: k for k, v in CN_DIGITS.items()}
    if number < 10:
        return digits[number]
    tens, units = divmod(number, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[units] if units else "")


@dataclass
class SeedSection:
    number: int
    label: str
    chapter: int
    title: str
    text: str  # the whole section as the document gives it, header line included


@dataclass
class SeedChapter:
    number: int
    label: str
    title: str
    intro: list[str] = field(default_factory=list)


def split_document(raw: str) -> tuple[list[SeedChapter], list[SeedSection]]:
    """Chapters (with their intro paragraphs) and numbered sections of the document."""
    chapters: list[SeedChapter] = []
    sections: list[SeedSection] = []
    body: list[str] | None = None
    for line in (ln.strip() for ln in raw.splitlines()):
        if not line or line.startswith(_TRAILER) or line in {"0", "+|-"}:
            continue
        if m := _CHAPTER_RE.match(line):
            chapters.append(SeedChapter(cn_to_int(m.group(1)), m.group(1), m.group(2).strip()))
            body = chapters[-1].intro
            continue
        if not chapters:
            continue  # the page header and the preamble
        if m := _SECTION_RE.match(line):
            rest = m.group(2).strip()
            title = rest.split("。", 1)[0] if "。" in rest else rest
            sections.append(SeedSection(cn_to_int(m.group(1)), m.group(1), chapters[-1].number, title, line))
            body = None
            continue
        if body is not None:
            body.append(line)
        elif sections:
            sections[-1].text += "\n" + line
    return chapters, sections
