"""Maintenance of the gettext catalogs in `locales/`, on top of Babel's Python API.

    python -m bot.i18n_catalogs extract   # source code -> locales/messages.pot
    python -m bot.i18n_catalogs update    # messages.pot -> locales/<locale>/LC_MESSAGES/messages.po
    python -m bot.i18n_catalogs compile   # messages.po -> messages.mo
    python -m bot.i18n_catalogs check     # exit 1 listing every problem (see docs/i18n.md)

zh_Hans is the source language: msgids are Chinese and the zh_Hans catalog leaves every
msgstr empty, which gettext treats as "use the msgid" (identity). ko and en must translate
every message. Empty (untranslated) messages are left out of the .mo files, so gettext
falls back to the Chinese source for them (for plural messages too, with the source's
own singular/plural choice).
"""

from __future__ import annotations

import argparse
import io
import re
import string
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import PoFileError, read_po, write_po

from bot.i18n import DOMAIN, LOCALES_DIR, SOURCE_LOCALE, SUPPORTED

ROOT = LOCALES_DIR.parent
MAPPING_FILE = ROOT / "babel.cfg"
POT_FILE = LOCALES_DIR / f"{DOMAIN}.pot"

PROJECT = "fupin-bot"
COPYRIGHT_HOLDER = "fupin-bot"

# GNU-gettext style keyword specs, added to Babel's defaults (_, gettext, ngettext, ...).
# `_:1,2,3t` and `__:1,2,3t`: aiogram's gettext also takes (singular, plural, n), so a call
# with three arguments is extracted as a plural message.
KEYWORD_SPECS = (
    "_",
    "_:1,2,3t",
    "__",
    "__:1,2,3t",
    "gettext",
    "lazy_gettext",
    "ngettext:1,2",
    "lazy_ngettext:1,2",
)

# A comment starting with this tag just before a gettext call is copied into the catalogs
# as a note for translators (`#. ...`).
COMMENT_TAGS = ("TRANSLATORS:",)

# Catalogs that must translate every message (the source catalog stays empty).
TRANSLATED = tuple(locale for locale in SUPPORTED if locale != SOURCE_LOCALE)
EXPECTED_NPLURALS = {"zh_Hans": 1, "ko": 1, "en": 2}

# Kinds of problems reported by `check` (tests select on them).
UNTRANSLATED = "untranslated"
FUZZY = "fuzzy"
SOURCE_FILLED = "source-msgstr"
PLACEHOLDERS = "placeholders"
MARKUP = "markup"
PLURALS = "plurals"
POT_STALE = "pot"
PO_STALE = "po"
MO_STALE = "mo"
MISSING_FILE = "missing"
INVALID = "invalid"
KINDS = (
    UNTRANSLATED,
    FUZZY,
    SOURCE_FILLED,
    PLACEHOLDERS,
    MARKUP,
    PLURALS,
    POT_STALE,
    PO_STALE,
    MO_STALE,
    MISSING_FILE,
    INVALID,
)


@dataclass(frozen=True)
class Problem:
    kind: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.kind}] {self.detail}"


# --------------------------------------------------------------------------- paths


def po_path(locale: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(locale: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _read_po(path: Path, locale: str | None = None, strict: bool = False) -> Catalog:
    """Read a catalog; `strict` raises PoFileError where Babel would only warn (e.g. more
    msgstr[n] forms than nplurals, which Babel drops)."""
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale, domain=DOMAIN, abort_invalid=strict)


def _read_po_checked(path: Path, locale: str | None, problems: list[Problem]) -> Catalog:
    try:
        return _read_po(path, locale, strict=True)
    except PoFileError as exc:
        problems.append(Problem(INVALID, _rel(path), f"malformed catalog: {exc}"))
        return _read_po(path, locale)


def _po_bytes(catalog: Catalog) -> bytes:
    buf = io.BytesIO()
    # Same layout as `pybabel extract --no-location --sort-output`; obsolete entries are dropped
    # (fuzzy matching has already carried their translations over).
    write_po(buf, catalog, no_location=True, sort_output=True, ignore_obsolete=True)
    return buf.getvalue()


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _msg_key(message: Message) -> tuple[str | None, str | tuple[str, ...]]:
    msgid = message.id if isinstance(message.id, str) else tuple(message.id)
    return (message.context, msgid)


def _show(key: tuple[str | None, str | tuple[str, ...]]) -> str:
    context, msgid = key
    text = msgid if isinstance(msgid, str) else " | ".join(msgid)
    text = repr(text[:57] + "..." if len(text) > 60 else text)
    return f"{context}: {text}" if context else text


def _messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


# --------------------------------------------------------------------------- extract


def keywords() -> dict:
    merged = dict(DEFAULT_KEYWORDS)
    merged.update(parse_keywords(KEYWORD_SPECS))
    return merged


def extract_catalog(root: Path = ROOT, mapping_file: Path = MAPPING_FILE) -> Catalog:
    """Extract the messages of the source tree (per babel.cfg) into an in-memory template."""
    with mapping_file.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, filename=str(mapping_file))
    catalog = Catalog(project=PROJECT, copyright_holder=COPYRIGHT_HOLDER, fuzzy=True)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(root),
        method_map,
        options_map,
        keywords=keywords(),
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _template_signature(catalog: Catalog) -> list[tuple]:
    return sorted(
        (repr(_msg_key(m)), tuple(sorted(m.flags - {"fuzzy"})), tuple(m.auto_comments))
        for m in _messages(catalog)
    )


def extract(root: Path = ROOT, pot_file: Path = POT_FILE, mapping_file: Path = MAPPING_FILE) -> bool:
    """Write the template; returns False (file untouched) when its messages did not change."""
    catalog = extract_catalog(root, mapping_file)
    if pot_file.exists():
        old = _read_po(pot_file)
        if _template_signature(old) == _template_signature(catalog):
            return False
    _write_if_changed(pot_file, _po_bytes(catalog))
    return True


# --------------------------------------------------------------------------- update


def update(
    locales: Iterable[str] = SUPPORTED, locales_dir: Path = LOCALES_DIR, pot_file: Path = POT_FILE
) -> list[str]:
    """Merge the template into every catalog (creating missing ones); returns the changed locales.

    Messages whose msgid changed are fuzzy-matched to the old translation and flagged fuzzy
    in ko/en; the source catalog (zh_Hans) gets no fuzzy matching and stays empty.
    """
    template = _read_po(pot_file)
    changed = []
    for locale in locales:
        path = po_path(locale, locales_dir)
        if path.exists():
            catalog = _read_po(path, locale=locale)
            catalog.update(template, no_fuzzy_matching=(locale == SOURCE_LOCALE))
        else:
            catalog = _read_po(pot_file, locale=locale)
            catalog.locale = Locale.parse(locale)
            catalog.fuzzy = False
            catalog.revision_date = template.creation_date
        if _write_if_changed(path, _po_bytes(catalog)):
            changed.append(locale)
    return changed


# --------------------------------------------------------------------------- compile


def compile_bytes(catalog: Catalog) -> bytes:
    """The .mo for a catalog: fuzzy and untranslated messages are left out.

    Babel already leaves out empty singular messages; a plural message whose forms are all
    empty is left out too, so that gettext uses the source's singular/plural (instead of the
    singular msgid for every n).
    """
    for message in list(_messages(catalog)):
        if isinstance(message.id, (list, tuple)):
            forms = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
            if not any(forms):
                catalog.delete(message.id, context=message.context)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def compile(locales: Iterable[str] = SUPPORTED, locales_dir: Path = LOCALES_DIR) -> list[str]:
    """Compile every .po to its .mo; returns the locales whose .mo changed."""
    changed = []
    for locale in locales:
        catalog = _read_po(po_path(locale, locales_dir), locale=locale)
        if _write_if_changed(mo_path(locale, locales_dir), compile_bytes(catalog)):
            changed.append(locale)
    return changed


# --------------------------------------------------------------------------- check helpers

_FORMATTER = string.Formatter()

# printf-style conversions as Python's % operator reads them; a space flag is not accepted so
# that literal text such as "100% of" is not mistaken for a conversion.
_PERCENT_RE = re.compile(r"%%|%(?:\([^)]*\))?[#0+-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa]")
_TAG_RE = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)\b[^>]*>")


def brace_fields(text: str) -> Counter[str] | None:
    """str.format replacement fields as `{name!conv:spec}` tokens; None if the braces do not parse."""
    fields: Counter[str] = Counter()
    try:
        for _literal, name, spec, conversion in _FORMATTER.parse(text):
            if name is None:
                continue
            token = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            fields["{" + token + "}"] += 1
    except ValueError:
        return None
    return fields


def percent_fields(text: str) -> Counter[str]:
    return Counter(match for match in _PERCENT_RE.findall(text) if match != "%%")


def html_tags(text: str) -> Counter[str]:
    """The HTML tags (Telegram's parse mode) as `<b>`/`</b>` tokens, attributes ignored."""
    tokens: Counter[str] = Counter()
    for match in _TAG_RE.finditer(text):
        closing = match.group(0).startswith("</")
        tokens[("</" if closing else "<") + match.group(1).lower() + ">"] += 1
    return tokens


def _fmt(counter: Counter[str] | None) -> str:
    if counter is None:
        return "unbalanced braces"
    return " ".join(sorted(counter.elements())) if counter else "none"


def _fields_ok(source: Counter[str] | None, translation: Counter[str] | None, subset: bool) -> bool:
    if source is None:  # the source is not a format string: nothing to compare
        return True
    if translation is None:
        return False
    if subset:
        return all(name in source for name in translation)
    return translation == source


def _compare_format(
    source: str, translation: str, where: str, key_text: str, subset: bool = False
) -> list[Problem]:
    """Fields and tags of a translation against its source.

    With `subset` (the n == 1 form of a plural message, which may leave out the count) the
    translation may omit fields but must not use one the source does not have.
    """
    problems = []
    src_braces, tr_braces = brace_fields(source), brace_fields(translation)
    if not _fields_ok(src_braces, tr_braces, subset):
        problems.append(
            Problem(
                PLACEHOLDERS,
                where,
                f"{key_text}: str.format fields [{_fmt(tr_braces)}] differ from the source's [{_fmt(src_braces)}]",
            )
        )
    src_pct, tr_pct = percent_fields(source), percent_fields(translation)
    if not _fields_ok(src_pct, tr_pct, subset):
        problems.append(
            Problem(
                PLACEHOLDERS,
                where,
                f"{key_text}: %-style fields [{_fmt(tr_pct)}] differ from the source's [{_fmt(src_pct)}]",
            )
        )
    src_tags, tr_tags = html_tags(source), html_tags(translation)
    if src_tags != tr_tags:
        problems.append(
            Problem(
                MARKUP,
                where,
                f"{key_text}: HTML tags [{_fmt(tr_tags)}] differ from the source's [{_fmt(src_tags)}]",
            )
        )
    return problems


def _forms(message: Message) -> tuple[str, ...]:
    if isinstance(message.string, (list, tuple)):
        return tuple(s or "" for s in message.string)
    return (message.string or "",)


# --------------------------------------------------------------------------- checks


def check_header(catalog: Catalog, locale: str, where: str) -> list[Problem]:
    expected = EXPECTED_NPLURALS.get(locale)
    headers = dict(catalog.mime_headers)
    problems = []
    if str(catalog.locale) != locale and headers.get("Language") != locale:
        problems.append(
            Problem(PLURALS, where, f"Language header is {headers.get('Language')!r}, not {locale!r}")
        )
    if expected is not None and catalog.num_plurals != expected:
        problems.append(
            Problem(PLURALS, where, f"Plural-Forms has nplurals={catalog.num_plurals}, expected {expected}")
        )
    return problems


def check_translations(catalog: Catalog, locale: str, where: str) -> list[Problem]:
    """Completeness, fuzzy flags, placeholders and markup of one catalog.

    Source catalog (zh_Hans): every msgstr must stay empty (identity) and nothing is fuzzy.
    Translated catalogs: every form translated, not fuzzy, same fields/tags as the source.
    """
    problems = []
    source = locale == SOURCE_LOCALE
    for message in _messages(catalog):
        key_text = _show(_msg_key(message))
        forms = _forms(message)
        plural = isinstance(message.id, (list, tuple))
        if message.fuzzy:
            problems.append(Problem(FUZZY, where, f"{key_text}: marked fuzzy (check and remove the flag)"))
        if source:
            if any(forms):
                problems.append(
                    Problem(
                        SOURCE_FILLED,
                        where,
                        f"{key_text}: the source catalog must leave msgstr empty "
                        "(change the text in the code instead)",
                    )
                )
            continue
        if not all(forms):
            problems.append(Problem(UNTRANSLATED, where, f"{key_text}: no translation"))
            continue
        if not plural:
            problems += _compare_format(message.id, forms[0], where, key_text)
            continue
        plural_id = message.id[1]
        for index, form in enumerate(forms):
            # The last form covers "many" and keeps every field of the plural msgid; other forms
            # (n == 1 in English) may leave fields out ("One household left") but add none.
            last = index == len(forms) - 1
            problems += _compare_format(plural_id, form, where, f"{key_text} [{index}]", subset=not last)
    return problems


def check_po_against_template(catalog: Catalog, template: Catalog, where: str) -> list[Problem]:
    """The catalog holds exactly the template's messages (else `update` was not run)."""
    have = {_msg_key(m) for m in _messages(catalog)}
    want = {_msg_key(m) for m in _messages(template)}
    problems = [
        Problem(PO_STALE, where, f"{_show(key)}: in messages.pot but not in this catalog (run update)")
        for key in sorted(want - have, key=repr)
    ]
    problems += [
        Problem(PO_STALE, where, f"{_show(key)}: not in messages.pot any more (run update)")
        for key in sorted(have - want, key=repr)
    ]
    return problems


def check_template_against_source(template: Catalog, source: Catalog, where: str) -> list[Problem]:
    """The template holds exactly the messages extracted from the code (else `extract` was not run)."""
    have = {_msg_key(m) for m in _messages(template)}
    found = {_msg_key(m) for m in _messages(source)}
    locations = {_msg_key(m): m.locations for m in _messages(source)}
    problems = []
    for key in sorted(found - have, key=repr):
        place = ", ".join(f"{file}:{line}" for file, line in locations[key][:3])
        problems.append(
            Problem(POT_STALE, where, f"{_show(key)}: used in {place} but not in the template (run extract)")
        )
    problems += [
        Problem(POT_STALE, where, f"{_show(key)}: no longer in the code (run extract)")
        for key in sorted(have - found, key=repr)
    ]
    return problems


def _mo_entries(data: bytes) -> tuple[dict, str | None]:
    catalog = read_mo(io.BytesIO(data))
    entries = {_msg_key(m): m.string for m in _messages(catalog)}
    plural_forms = dict(catalog.mime_headers).get("Plural-Forms")
    return entries, plural_forms


def check_mo(po_file: Path, mo_file: Path, locale: str) -> list[Problem]:
    """The .mo holds what the .po compiles to (messages and Plural-Forms).

    The comparison is by content: a file modification time alone proves nothing after a git
    checkout (git does not keep mtimes), but a stale .mo is reported with its age.
    """
    where = _rel(mo_file)
    if not mo_file.exists():
        return [Problem(MISSING_FILE, where, "no .mo file (run compile)")]
    expected = compile_bytes(_read_po(po_file, locale=locale))
    actual = mo_file.read_bytes()
    if actual == expected:
        return []
    try:
        have = _mo_entries(actual)
    except Exception as exc:  # a truncated or foreign file
        return [Problem(MO_STALE, where, f"unreadable .mo ({exc.__class__.__name__}); run compile")]
    want = _mo_entries(expected)
    if have == want:
        return []
    older = mo_file.stat().st_mtime < po_file.stat().st_mtime
    differing = sorted(set(have[0]) ^ set(want[0]), key=repr) or sorted(
        (k for k in want[0] if have[0].get(k) != want[0][k]), key=repr
    )
    sample = ", ".join(_show(k) for k in differing[:3]) or "Plural-Forms header"
    return [
        Problem(
            MO_STALE,
            where,
            f"differs from what {po_file.name} compiles to{' and is older' if older else ''} "
            f"({len(differing)} messages, e.g. {sample}); run compile",
        )
    ]


def check(
    locales: Sequence[str] = SUPPORTED,
    locales_dir: Path = LOCALES_DIR,
    pot_file: Path | None = None,
    root: Path | None = ROOT,
    mapping_file: Path = MAPPING_FILE,
) -> list[Problem]:
    """Every problem of the catalogs; empty when all is well.

    `root=None` skips the comparison of the template with the source code.
    """
    pot_file = pot_file or locales_dir / f"{DOMAIN}.pot"
    problems: list[Problem] = []
    template: Catalog | None = None
    if not pot_file.exists():
        problems.append(Problem(MISSING_FILE, _rel(pot_file), "no template (run extract)"))
    else:
        template = _read_po_checked(pot_file, None, problems)
        if root is not None:
            # Extract into a temporary template, as `extract` would write it, and compare.
            with tempfile.TemporaryDirectory() as tmp:
                fresh = Path(tmp) / "messages.pot"
                with fresh.open("wb") as fileobj:
                    write_po(fileobj, extract_catalog(root, mapping_file), sort_output=True)
                problems += check_template_against_source(template, _read_po(fresh), _rel(pot_file))
    for locale in locales:
        po_file, mo_file = po_path(locale, locales_dir), mo_path(locale, locales_dir)
        where = _rel(po_file)
        if not po_file.exists():
            problems.append(Problem(MISSING_FILE, where, "no catalog (run update)"))
            continue
        catalog = _read_po_checked(po_file, locale, problems)
        problems += check_header(catalog, locale, where)
        if template is not None:
            problems += check_po_against_template(catalog, template, where)
        problems += check_translations(catalog, locale, where)
        problems += check_mo(po_file, mo_file, locale)
    return problems


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.i18n_catalogs", description="Maintain the gettext catalogs in locales/."
    )
    parser.add_argument("action", choices=("extract", "update", "compile", "check"))
    args = parser.parse_args(argv)
    if args.action == "extract":
        changed = extract()
        print(f"{_rel(POT_FILE)}: {'written' if changed else 'unchanged'}")
    elif args.action == "update":
        changed_locales = update()
        for locale in SUPPORTED:
            path = _rel(po_path(locale))
            print(f"{path}: {'updated' if locale in changed_locales else 'unchanged'}")
    elif args.action == "compile":
        changed_locales = compile()
        for locale in SUPPORTED:
            path = _rel(mo_path(locale))
            print(f"{path}: {'compiled' if locale in changed_locales else 'unchanged'}")
    else:
        problems = check()
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s) in the catalogs", file=sys.stderr)
            return 1
        print("catalogs OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
