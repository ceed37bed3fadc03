"""The gettext catalogs: the real ones pass `bot.i18n_catalogs.check`, and every check can fail.

The first group runs the checker on locales/ (one test per kind of problem, so a failure names
what is wrong and the message lists the offending entries). The second group builds a small
synthetic project in tmp_path, proves it passes, then breaks one thing at a time.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from gettext import GNUTranslations
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot import i18n_catalogs as cat
from bot.i18n import SOURCE_LOCALE, SUPPORTED, create_i18n

# --------------------------------------------------------------------------- the real catalogs


@pytest.fixture(scope="module")
def problems() -> list[cat.Problem]:
    return cat.check()


def _report(problems: list[cat.Problem], kind: str) -> list[str]:
    return [str(p) for p in problems if p.kind == kind]


HINTS = {
    cat.MISSING_FILE: "run: python -m bot.i18n_catalogs update && python -m bot.i18n_catalogs compile",
    cat.POT_STALE: "run: python -m bot.i18n_catalogs extract && python -m bot.i18n_catalogs update",
    cat.PO_STALE: "run: python -m bot.i18n_catalogs update",
    cat.UNTRANSLATED: "translate the messages in locales/<locale>/LC_MESSAGES/messages.po, then compile",
    cat.FUZZY: "review the translations and remove the fuzzy flag, then compile",
    cat.SOURCE_FILLED: "zh_Hans msgstr must stay empty; change the Chinese text in the code",
    cat.PLACEHOLDERS: "keep exactly the source's {name} / %s fields in the translation",
    cat.MARKUP: "keep exactly the source's HTML tags in the translation",
    cat.PLURALS: "fix the Language / Plural-Forms header of the catalog",
    cat.INVALID: "fix the syntax of the file (e.g. more msgstr[n] than nplurals)",
    cat.MO_STALE: "run: python -m bot.i18n_catalogs compile",
}


@pytest.mark.parametrize("kind", cat.KINDS)
def test_real_catalogs(problems: list[cat.Problem], kind: str) -> None:
    found = _report(problems, kind)
    assert not found, f"{HINTS[kind]}\n" + "\n".join(found)


def test_every_problem_kind_is_known(problems: list[cat.Problem]) -> None:
    assert {p.kind for p in problems} <= set(cat.KINDS)


def test_catalogs_load_at_runtime() -> None:
    i18n = create_i18n()
    assert set(i18n.available_locales) == set(SUPPORTED)
    for locale in cat.TRANSLATED:
        with cat.po_path(locale).open("rb") as fileobj:
            catalog = read_po(fileobj, locale=locale)
        for message in catalog:
            if message.id and isinstance(message.id, str) and message.string and not message.fuzzy:
                assert i18n.gettext(message.id, locale=locale) == message.string
    any_msgid = next(m.id for m in cat._messages(cat._read_po(cat.POT_FILE)) if isinstance(m.id, str))
    assert i18n.gettext(any_msgid, locale=SOURCE_LOCALE) == any_msgid


def test_check_command_exit_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cat, "check", lambda: [cat.Problem(cat.FUZZY, "x.po", "'a': marked fuzzy")])
    assert cat.main(["check"]) == 1
    assert "x.po: [fuzzy] 'a': marked fuzzy" in capsys.readouterr().out
    monkeypatch.setattr(cat, "check", lambda: [])
    assert cat.main(["check"]) == 0
    assert "catalogs OK" in capsys.readouterr().out


def test_module_is_runnable() -> None:
    with pytest.raises(SystemExit):
        cat.main(["no-such-action"])


# --------------------------------------------------------------------------- format helpers


def test_brace_fields() -> None:
    assert cat.brace_fields("你好，{name}，{name}！{n:,}") == {"{name}": 2, "{n:,}": 1}
    assert cat.brace_fields("没有占位符") == {}
    assert cat.brace_fields("{{字面量}}") == {}
    assert cat.brace_fields("坏的 {name") is None


def test_percent_fields() -> None:
    assert cat.percent_fields("%(name)s 有 %d 户，100%% 完成") == {"%(name)s": 1, "%d": 1}
    # A literal percent sign before a space or a Chinese character is not a conversion.
    assert cat.percent_fields("完成 100% 的任务") == {}
    assert cat.percent_fields("100% of the work") == {}


def test_html_tags() -> None:
    assert cat.html_tags('<b>重要</b> <a href="https://x">链接</a>') == {
        "<b>": 1,
        "</b>": 1,
        "<a>": 1,
        "</a>": 1,
    }
    assert cat.html_tags("1 < 2 且 3 > 2") == {}


# --------------------------------------------------------------------------- synthetic project

SOURCE_CODE = """\
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext

# TRANSLATORS: greeting, {name} is the user's name
GREETING = __("您好，{name}！")


def texts(n):
    return [
        _("<b>注意</b>：请按时参加培训。"),
        _("完成率 %(rate)s"),
        ngettext("还剩 {n} 户", "还剩 {n} 户", n),
        _("有 {n} 条新消息", "有 {n} 条新消息", n=n),
    ]
"""

TRANSLATIONS = {
    "ko": {
        "您好，{name}！": "안녕하세요, {name}님!",
        "<b>注意</b>：请按时参加培训。": "<b>알림</b>: 교육에 제때 참석해 주세요.",
        "完成率 %(rate)s": "완료율 %(rate)s",
        ("还剩 {n} 户", "还剩 {n} 户"): ("{n}가구 남았습니다",),
        ("有 {n} 条新消息", "有 {n} 条新消息"): ("새 메시지가 {n}개 있습니다",),
    },
    "en": {
        "您好，{name}！": "Hello, {name}!",
        "<b>注意</b>：请按时参加培训。": "<b>Note</b>: please attend the training on time.",
        "完成率 %(rate)s": "Completion rate %(rate)s",
        # The singular form may leave out the count.
        ("还剩 {n} 户", "还剩 {n} 户"): ("One household left", "{n} households left"),
        ("有 {n} 条新消息", "有 {n} 条新消息"): ("{n} new message", "{n} new messages"),
    },
}


class Project:
    """A small source tree with babel.cfg and locales/, maintained with bot.i18n_catalogs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.locales = root / "locales"
        self.pot = self.locales / "messages.pot"
        self.cfg = root / "babel.cfg"
        self.code = root / "app" / "texts.py"

    def check(self) -> list[cat.Problem]:
        return cat.check(locales_dir=self.locales, pot_file=self.pot, root=self.root, mapping_file=self.cfg)

    def kinds(self) -> set[str]:
        return {p.kind for p in self.check()}

    def extract(self) -> bool:
        return cat.extract(root=self.root, pot_file=self.pot, mapping_file=self.cfg)

    def update(self) -> list[str]:
        return cat.update(locales_dir=self.locales, pot_file=self.pot)

    def compile(self) -> list[str]:
        return cat.compile(locales_dir=self.locales)

    def read(self, locale: str) -> Catalog:
        return cat._read_po(cat.po_path(locale, self.locales), locale=locale)

    def write(self, catalog: Catalog, locale: str) -> None:
        cat.po_path(locale, self.locales).write_bytes(cat._po_bytes(catalog))

    def edit(self, locale: str, change: Callable[[Catalog], None], recompile: bool = True) -> None:
        catalog = self.read(locale)
        change(catalog)
        self.write(catalog, locale)
        if recompile:
            self.compile()

    def translate(self) -> None:
        for locale, table in TRANSLATIONS.items():

            def fill(catalog: Catalog, table: dict = table) -> None:
                for msgid, text in table.items():
                    catalog[msgid].string = text

            self.edit(locale, fill, recompile=False)

    def translations(self, locale: str) -> GNUTranslations:
        return GNUTranslations(io.BytesIO(cat.mo_path(locale, self.locales).read_bytes()))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    proj = Project(tmp_path)
    proj.code.parent.mkdir()
    proj.code.write_text(SOURCE_CODE, encoding="utf-8")
    proj.cfg.write_text("[python: app/**.py]\n", encoding="utf-8")
    assert proj.extract() is True
    assert proj.update() == list(SUPPORTED)
    proj.translate()
    proj.compile()
    return proj


def test_synthetic_project_passes(project: Project) -> None:
    assert project.check() == []


def test_headers_of_new_catalogs(project: Project) -> None:
    assert {locale: project.read(locale).num_plurals for locale in SUPPORTED} == cat.EXPECTED_NPLURALS
    assert project.read("en").plural_expr == "(n != 1)"


def test_extract_update_compile_are_idempotent(project: Project) -> None:
    before = {path: path.read_bytes() for path in project.locales.rglob("*.*")}
    assert project.extract() is False
    assert project.update() == []
    assert project.compile() == []
    assert {path: path.read_bytes() for path in project.locales.rglob("*.*")} == before


def test_translator_comments_reach_the_catalogs(project: Project) -> None:
    assert "#. greeting, {name} is the user's name\n" in project.pot.read_text("utf-8")
    assert project.read("ko")["您好，{name}！"].auto_comments == ["greeting, {name} is the user's name"]


def test_compiled_catalogs(project: Project) -> None:
    en, ko, zh = (project.translations(locale) for locale in ("en", "ko", "zh_Hans"))
    assert en.gettext("您好，{name}！") == "Hello, {name}!"
    assert en.ngettext("还剩 {n} 户", "还剩 {n} 户", 1) == "One household left"
    assert en.ngettext("还剩 {n} 户", "还剩 {n} 户", 5) == "{n} households left"
    assert ko.ngettext("有 {n} 条新消息", "有 {n} 条新消息", 5) == "새 메시지가 {n}개 있습니다"
    # The source catalog is the identity.
    assert zh.gettext("完成率 %(rate)s") == "完成率 %(rate)s"
    assert zh.ngettext("还剩 {n} 户", "还剩 {n} 户", 5) == "还剩 {n} 户"


def test_untranslated_plural_falls_back_to_the_source_plural(project: Project) -> None:
    def clear(catalog: Catalog) -> None:
        catalog[("有 {n} 条新消息", "有 {n} 条新消息")].string = ("", "")

    project.edit("en", clear)
    en = project.translations("en")
    assert en.ngettext("一条新消息", "有 {n} 条新消息", 5) == "有 {n} 条新消息"
    assert cat.UNTRANSLATED in project.kinds()


# One test per kind of problem: each breaks the synthetic project in one place.


def test_empty_translation_is_reported(project: Project) -> None:
    project.edit("ko", lambda c: setattr(c["您好，{name}！"], "string", ""))
    problems = project.check()
    assert [p.kind for p in problems] == [cat.UNTRANSLATED]
    assert "ko" in problems[0].where
    assert "您好，{name}！" in problems[0].detail


def test_missing_plural_form_is_reported(project: Project) -> None:
    key = ("还剩 {n} 户", "还剩 {n} 户")
    project.edit("en", lambda c: setattr(c[key], "string", ("One household left", "")))
    assert project.kinds() == {cat.UNTRANSLATED}


def test_too_many_plural_forms_are_reported(project: Project) -> None:
    # Written by hand: Babel itself writes exactly nplurals forms (and would drop the extra one).
    path = cat.po_path("ko", project.locales)
    text = path.read_text(encoding="utf-8")
    line = 'msgstr[0] "{n}가구 남았습니다"\n'
    assert line in text
    path.write_text(text.replace(line, line + 'msgstr[1] "{n}가구 남았습니다"\n'), encoding="utf-8")
    problems = project.check()
    assert [p.kind for p in problems] == [cat.INVALID], problems
    assert "more translations than num_plurals" in problems[0].detail


def test_wrong_plural_header_is_reported(project: Project) -> None:
    path = cat.po_path("en", project.locales)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("nplurals=2; plural=(n != 1);", "nplurals=1; plural=0;"), encoding="utf-8")
    assert cat.PLURALS in project.kinds()


def test_wrong_language_header_is_reported(project: Project) -> None:
    path = cat.po_path("en", project.locales)
    path.write_text(
        path.read_text(encoding="utf-8").replace("Language: en", "Language: ko"), encoding="utf-8"
    )
    problems = project.check()
    assert [p.kind for p in problems] == [cat.PLURALS], problems
    assert "Language header is 'ko'" in problems[0].detail


def test_fuzzy_translation_is_reported(project: Project) -> None:
    project.edit("en", lambda c: c["完成率 %(rate)s"].flags.add("fuzzy"))
    problems = project.check()
    assert [p.kind for p in problems] == [cat.FUZZY]


def test_filled_source_catalog_is_reported(project: Project) -> None:
    project.edit(SOURCE_LOCALE, lambda c: setattr(c["您好，{name}！"], "string", "你好，{name}！"))
    assert project.kinds() == {cat.SOURCE_FILLED}


@pytest.mark.parametrize(
    ("locale", "msgid", "bad"),
    [
        ("en", "您好，{name}！", "Hello, {nmae}!"),  # renamed field
        ("en", "您好，{name}！", "Hello!"),  # dropped field
        ("ko", "您好，{name}！", "안녕하세요, {name}님 {name}!"),  # duplicated field
        ("ko", "您好，{name}！", "안녕하세요, {name님!"),  # unbalanced brace
        ("en", "完成率 %(rate)s", "Completion rate %(rate)d"),  # %-style conversion changed
        ("en", "完成率 %(rate)s", "Completion rate"),  # %-style field dropped
        ("en", ("还剩 {n} 户", "还剩 {n} 户"), ("One household left", "Households left")),  # plural form
    ],
)
def test_placeholder_mismatch_is_reported(project: Project, locale: str, msgid: object, bad: object) -> None:
    project.edit(locale, lambda c: setattr(c[msgid], "string", bad))
    problems = project.check()
    assert {p.kind for p in problems} == {cat.PLACEHOLDERS}, problems


def test_markup_mismatch_is_reported(project: Project) -> None:
    msgid = "<b>注意</b>：请按时参加培训。"
    project.edit("en", lambda c: setattr(c[msgid], "string", "<b>Note: please attend the training on time."))
    assert project.kinds() == {cat.MARKUP}


def test_stale_mo_is_reported(project: Project) -> None:
    project.edit("en", lambda c: setattr(c["您好，{name}！"], "string", "Hi, {name}!"), recompile=False)
    mo = cat.mo_path("en", project.locales)
    os.utime(mo, (1_000_000_000, 1_000_000_000))
    problems = project.check()
    assert [p.kind for p in problems] == [cat.MO_STALE]
    assert "older" in problems[0].detail
    project.compile()
    assert project.check() == []


def test_corrupt_mo_is_reported(project: Project) -> None:
    cat.mo_path("ko", project.locales).write_bytes(b"not a catalog")
    assert project.kinds() == {cat.MO_STALE}


def test_missing_mo_is_reported(project: Project) -> None:
    cat.mo_path("ko", project.locales).unlink()
    assert project.kinds() == {cat.MISSING_FILE}


def test_mo_older_than_po_with_same_content_is_fine(project: Project) -> None:
    # git does not keep modification times: only the content decides.
    os.utime(cat.mo_path("en", project.locales), (1_000_000_000, 1_000_000_000))
    assert project.check() == []


def test_new_source_string_is_reported(project: Project) -> None:
    project.code.write_text(SOURCE_CODE + '\nEXTRA = _("新的提示")\n', encoding="utf-8")
    problems = project.check()
    assert [p.kind for p in problems] == [cat.POT_STALE]
    assert "新的提示" in problems[0].detail
    assert "texts.py" in problems[0].detail


def test_removed_source_string_is_reported(project: Project) -> None:
    project.code.write_text(SOURCE_CODE.replace('_("完成率 %(rate)s"),', ""), encoding="utf-8")
    assert project.kinds() == {cat.POT_STALE}


def test_catalog_not_updated_is_reported(project: Project) -> None:
    project.code.write_text(SOURCE_CODE + '\nEXTRA = _("新的提示")\n', encoding="utf-8")
    assert project.extract() is True
    assert project.kinds() == {cat.PO_STALE}
    assert set(project.update()) == set(SUPPORTED)
    project.compile()
    problems = project.check()
    # The new message now waits for its ko and en translations; the source catalog is fine.
    assert {p.kind for p in problems} == {cat.UNTRANSLATED}
    assert {p.where.split("/")[-3] for p in problems} == {"ko", "en"}


def test_changed_msgid_becomes_fuzzy_in_translations_only(project: Project) -> None:
    project.code.write_text(SOURCE_CODE.replace("请按时参加培训", "请准时参加培训"), encoding="utf-8")
    project.extract()
    project.update()
    project.compile()
    problems = project.check()
    assert {p.kind for p in problems} == {cat.FUZZY}
    assert {p.where.split("/")[-3] for p in problems} == {"ko", "en"}
    # The fuzzy (unreviewed) translation is not compiled: the source text is shown meanwhile.
    assert (
        project.translations("en").gettext("<b>注意</b>：请准时参加培训。") == "<b>注意</b>：请准时参加培训。"
    )


def test_missing_catalog_is_reported(project: Project) -> None:
    cat.po_path("ko", project.locales).unlink()
    assert project.kinds() == {cat.MISSING_FILE}
    project.update()
    assert cat.UNTRANSLATED in project.kinds()


def test_missing_template_is_reported(project: Project) -> None:
    project.pot.unlink()
    assert project.kinds() == {cat.MISSING_FILE}
