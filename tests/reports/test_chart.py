"""The report chart (bot/reports/chart.py): a decodable PNG in zh_Hans, ko and en with no
missing glyph (matplotlib's "Glyph ... missing from font(s)" warning fails these tests),
an empty report, 40 rows, a missing font, and proof that the glyph check can fail."""

from __future__ import annotations

import asyncio
import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import matplotlib
import pytest
from aiogram.utils.i18n import I18n
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from bot.i18n import create_i18n
from bot.reports import chart
from bot.reports.chart import ChartFontMissing, render_chart, render_chart_async
from bot.reports.figures import Figures, RegionRow, Report
from storage.enums import RegionLevel

LOCALES = ("zh_Hans", "ko", "en")
DEJAVU = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
AS_OF = date(2026, 11, 29)


def figures(not_lifted: int, lifted: int, returned: int, pairings: int, visited: int, milestones: int) -> Figures:
    return Figures(
        households=not_lifted + lifted + returned, not_lifted=not_lifted, lifted=lifted, returned=returned,
        pairings=pairings, visited_in_cadence=visited, overdue_visits=pairings - visited,
        overdue_milestones=milestones, flagged_visits=1, ratings=4, rating_sum=17, bound_households=3,
        bound_cadres=2,
    )


def report(rows: list[tuple[str, Figures]], *, name: str = "延边朝鲜族自治州", total: Figures | None = None) -> Report:
    region_rows = [
        RegionRow(i + 10, row_name, f"吉林省/{name}/{row_name}", RegionLevel.COUNTY, True, f)
        for i, (row_name, f) in enumerate(rows)
    ]
    if total is None:
        total = Figures()
        for row in region_rows:
            total = total + row.figures
    return Report(
        region_id=2, name=name, path=f"吉林省/{name}", level=RegionLevel.CITY, as_of=AS_OF,
        period_start=date(2026, 1, 1), rows=region_rows, total=total,
    )


JILIN = report(
    [
        ("长白朝鲜族自治县", figures(120, 2300, 15, 300, 280, 2)),
        ("延吉市", figures(80, 1900, 4, 250, 120, 0)),
        ("前郭尔罗斯蒙古族自治县", figures(700, 900, 40, 200, 20, 12)),
        ("图们市", figures(0, 0, 0, 0, 0, 0)),  # no households, no pairings
        ("珲春市", figures(30, 400, 0, 0, 0, 0)),  # households, no pairings
    ]
)
HANGUL = report([("연길시", figures(10, 90, 1, 40, 39, 1)), ("용정시", figures(5, 50, 0, 10, 5, 0))], name="연변")
EMPTY = report([("图们市", Figures()), ("珲春市", Figures())])
NO_ROWS = Report(  # a village: no child regions, the region itself is the one bar
    region_id=9, name="红旗村", path="吉林省/延边朝鲜族自治州/和龙市/西城镇/红旗村", level=RegionLevel.VILLAGE,
    as_of=AS_OF, period_start=date(2026, 1, 1), rows=[], total=figures(3, 20, 1, 10, 7, 1),
)


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return create_i18n()


@contextmanager
def no_missing_glyphs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Any warning is an error (so is matplotlib's missing-glyph UserWarning), and nothing
    matplotlib logs at WARNING or above, or about something 'missing', is allowed."""
    with warnings.catch_warnings(), caplog.at_level(logging.INFO, logger="matplotlib"):
        warnings.simplefilter("error")
        yield
    bad = [
        r.getMessage() for r in caplog.records
        if r.name.startswith("matplotlib")
        and (r.levelno >= logging.WARNING or "missing" in r.getMessage().lower()
             or "not found" in r.getMessage().lower())
    ]
    assert not bad, bad


def render(i18n: I18n, value: Report, locale: str, caplog: pytest.LogCaptureFixture, **kw: object) -> bytes:
    with i18n.context(), i18n.use_locale(locale), no_missing_glyphs(caplog):
        return render_chart(value, locale, **kw)


def decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(png)).verify()
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGB")


def assert_not_blank(image: Image.Image, min_colors: int = 20, max_white: float = 0.97) -> None:
    colors = image.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) >= min_colors
    white = max(colors)  # the background is the most frequent colour
    assert white[1] == (255, 255, 255)
    assert white[0] < image.width * image.height * max_white  # something is drawn


def texts_of(value: Report, locale: str, i18n: I18n) -> list[str]:
    font = chart.load_font()
    with i18n.context(), i18n.use_locale(locale):
        fig = chart.build_figure(value, locale, font.family)
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


@pytest.mark.parametrize("locale", LOCALES)
def test_chart_renders_chinese_without_missing_glyphs(i18n: I18n, caplog, locale: str) -> None:
    image = decode(render(i18n, JILIN, locale, caplog))
    assert 1000 <= image.width <= 2000 and 400 <= image.height <= 1500
    assert_not_blank(image)
    # the status colours of the stacked bars are on the picture
    colors = {rgb for _n, rgb in image.getcolors(maxcolors=1 << 20)}
    assert {(0xF2, 0x8E, 0x2B), (0x59, 0xA1, 0x4F), (0xE1, 0x57, 0x59)} <= colors


@pytest.mark.parametrize("locale", LOCALES)
def test_chart_renders_hangul(i18n: I18n, caplog, locale: str) -> None:
    assert_not_blank(decode(render(i18n, HANGUL, locale, caplog)))
    font = chart.load_font()
    assert font.missing(["연길시 용정시 빈곤 재발 방문 기한 초과 항목"]) == []


def test_chart_labels_cover_every_region_and_figure(i18n: I18n) -> None:
    texts = texts_of(JILIN, "zh_Hans", i18n)
    joined = "\n".join(texts)
    for name in ("长白朝鲜族自治县", "延吉市", "前郭尔罗斯蒙古族自治县", "图们市", "珲春市"):
        assert name in texts
    assert "延边朝鲜族自治州 扶贫工作报表" in joined and "2026年11月29日" in joined
    assert "共 6,489 户" in joined  # the total households, Babel-formatted
    for label in ("未脱贫", "已脱贫", "返贫", "93%", "48%", "10%", "无结对"):
        assert label in texts, label
    assert "逾期走访 180  ·  逾期计划事项 12" in texts  # the row of 前郭尔罗斯蒙古族自治县
    assert "逾期走访 130" in texts  # 延吉市: no overdue plan item, none shown
    assert "暂无数据" not in texts


def test_every_text_uses_the_cjk_font(i18n: I18n) -> None:
    font = chart.load_font()
    with i18n.context(), i18n.use_locale("ko"):
        fig = chart.build_figure(JILIN, "ko", font.family)
    fig.canvas.draw()  # tick labels are made at draw time
    texts = fig.findobj(Text)
    assert texts and all(t.get_fontfamily() == [font.family] for t in texts)


def test_en_dates_and_numbers(i18n: I18n) -> None:
    joined = "\n".join(texts_of(JILIN, "en", i18n))
    assert "November 29, 2026" in joined and "6,489" in joined


def test_empty_report_says_no_data(i18n: I18n, caplog) -> None:
    image = decode(render(i18n, EMPTY, "zh_Hans", caplog))
    assert image.width >= 600 and image.height >= 300
    assert_not_blank(image, min_colors=5, max_white=0.995)
    assert "暂无数据" in texts_of(EMPTY, "zh_Hans", i18n)
    for locale in ("ko", "en"):
        decode(render(i18n, EMPTY, locale, caplog))
    no_rows_empty = Report(1, "吉林省", "吉林省", RegionLevel.PROVINCE, AS_OF, date(2026, 1, 1))
    decode(render(i18n, no_rows_empty, "zh_Hans", caplog))


def test_region_without_children_is_its_own_bar(i18n: I18n, caplog) -> None:
    assert_not_blank(decode(render(i18n, NO_ROWS, "zh_Hans", caplog)))
    texts = texts_of(NO_ROWS, "zh_Hans", i18n)
    assert "红旗村" in texts and "70%" in texts


def test_forty_rows_stay_legible(i18n: I18n, caplog) -> None:
    base = ["长白朝鲜族自治县", "延吉市", "前郭尔罗斯蒙古族自治县", "敦化市", "梅河口市"]
    rows = [
        (f"{base[i % len(base)]}第{i}片区" if i % 7 == 0 else f"{base[i % len(base)]}{i}",
         figures(i * 3, 100 + i * 20, i % 4, 40 + i, 20 + i // 2, i % 5))
        for i in range(40)
    ]
    big = report(rows, name="吉林省")
    small_png = render(i18n, JILIN, "zh_Hans", caplog)
    for locale in LOCALES:
        image = decode(render(i18n, big, locale, caplog))
        assert image.height > decode(small_png).height * 2  # the figure grows with the rows
        assert image.height <= 2400 and image.width + image.height < 10_000  # a Telegram photo
        assert_not_blank(image)
    texts = texts_of(big, "zh_Hans", i18n)
    assert "延吉市1" in texts
    assert "前郭尔罗斯蒙古族自治县第7片区" not in texts  # 28 columns: cut
    assert "前郭尔罗斯蒙古族自治县…" in texts


def test_shorten() -> None:
    assert chart.shorten("延吉市") == "延吉市"
    assert chart.shorten("前郭尔罗斯蒙古族自治县") == "前郭尔罗斯蒙古族自治县"  # 22 columns fit
    cut = chart.shorten("前郭尔罗斯蒙古族自治县第七片区")
    assert cut.endswith("…") and len(cut) == 12
    assert chart.shorten("Qian Gorlos Mongol Autonomous County") == "Qian Gorlos Mongol Aut…"


async def test_async_render_keeps_the_locale_and_is_serialised(i18n: I18n, monkeypatch) -> None:
    seen: list[str] = []
    title = chart._title

    def spy(value: Report) -> str:
        seen.append(I18n.get_current().current_locale)
        return title(value)

    monkeypatch.setattr(chart, "_title", spy)
    with i18n.context(), i18n.use_locale("ko"):
        pngs = await asyncio.gather(*(render_chart_async(JILIN, "ko") for _ in range(4)))
    assert seen == ["ko"] * 4
    assert len(set(pngs)) == 1  # concurrent renders under the lock give the same picture
    assert_not_blank(decode(pngs[0]))


def test_no_font_raises(i18n: I18n, monkeypatch) -> None:
    monkeypatch.delenv(chart.FONT_ENV, raising=False)
    monkeypatch.setattr(chart, "SYSTEM_FONTS", ())
    monkeypatch.setattr(chart, "mplfonts_file", lambda: None)
    with i18n.context(), i18n.use_locale("zh_Hans"), pytest.raises(ChartFontMissing, match="no CJK font"):
        render_chart(JILIN, "zh_Hans")


def test_mplfonts_is_located_without_importing_it() -> None:
    import sys

    path = chart.mplfonts_file()
    assert path is not None and path.name == "NotoSansCJKsc-Regular.otf" and path.is_file()
    assert "mplfonts" not in sys.modules


def test_configured_font_must_exist(i18n: I18n, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(chart.FONT_ENV, str(tmp_path / "nope.otf"))
    with i18n.context(), i18n.use_locale("zh_Hans"), pytest.raises(ChartFontMissing, match=r"nope\.otf"):
        render_chart(JILIN, "zh_Hans")
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font at all")
    with i18n.context(), i18n.use_locale("zh_Hans"), pytest.raises(ChartFontMissing, match="cannot be read"):
        render_chart(JILIN, "zh_Hans", font=junk)


def test_env_font_is_used(i18n: I18n, monkeypatch, caplog) -> None:
    target = chart.mplfonts_file()
    assert target is not None
    monkeypatch.setattr(chart, "SYSTEM_FONTS", ())
    monkeypatch.setenv(chart.FONT_ENV, str(target))
    assert chart.find_font() == target
    decode(render(i18n, HANGUL, "ko", caplog))


def test_latin_only_font_is_refused(i18n: I18n) -> None:
    """A font without CJK glyphs (DejaVu Sans) is refused before drawing boxes."""
    with i18n.context(), i18n.use_locale("zh_Hans"), pytest.raises(ChartFontMissing, match=r"U\+5EF6"):
        render_chart(JILIN, "zh_Hans", font=DEJAVU)  # 延


def test_glyph_check_catches_a_latin_only_font(i18n: I18n, caplog) -> None:
    """The check of the tests above can fail: Chinese text in DejaVu Sans makes matplotlib
    warn about the missing glyphs, which `no_missing_glyphs` turns into a failure."""
    fig = Figure()
    FigureCanvasAgg(fig)
    fig.text(0.1, 0.5, "长白朝鲜族自治县 연길시", fontfamily="DejaVu Sans")
    with pytest.raises(UserWarning, match=r"Glyph \d+ .* missing from font\(s\) DejaVu Sans"):
        with no_missing_glyphs(caplog):
            fig.savefig(io.BytesIO(), format="png")


def test_glyph_check_catches_render_chart_with_a_latin_only_font(i18n: I18n, caplog, monkeypatch) -> None:
    """The same through render_chart, with its own glyph check switched off."""
    monkeypatch.setattr(chart.ChartFont, "missing", lambda self, texts: [])
    with pytest.raises(UserWarning, match="missing from font"):
        render(i18n, JILIN, "zh_Hans", caplog, font=DEJAVU)


DOLLARS = report(
    [("$x$镇", figures(3, 5, 1, 6, 4, 1)), (r"$\frac{a$村", figures(1, 2, 0, 2, 1, 0))],
    name=r"美元$县$\frac{a$",
)


@pytest.mark.parametrize("value", [DOLLARS, report([("$x$镇", Figures())], name="$x$")], ids=["rows", "empty"])
def test_dollars_in_names_are_plain_text(i18n: I18n, caplog, value: Report) -> None:
    """A "$" in a region name is no mathtext: no ValueError for an unbalanced formula, no
    italic x for "$x$": every text, also those made at draw time, is drawn as it is written."""
    image = decode(render(i18n, value, "zh_Hans", caplog))
    if value.total.households:
        assert_not_blank(image)
    font = chart.load_font()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        fig = chart.build_figure(value, "zh_Hans", font.family)
    fig.canvas.draw()
    texts = [t for t in fig.findobj(Text) if "$" in t.get_text()]
    shown = {t.get_text() for t in texts}
    assert any(s.startswith(f"{value.name} 扶贫工作报表") for s in shown)  # the title
    if value.total.households:
        assert {r.name for r in value.rows} <= shown  # the tick labels
    assert all(not t.get_parse_math() for t in fig.findobj(Text))
    for t in texts:  # what the renderer gets: the literal string, not a math expression
        assert t._preprocess_math(t.get_text()) == (t.get_text(), False)
