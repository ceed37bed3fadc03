"""The PNG chart of a report (issue #6): progress per child region at a glance.

`render_chart(report, locale)` draws, for the child regions of `report.rows` (or the region
itself when it has none), households by status (未脱贫 / 已脱贫 / 返贫, stacked bars) on
the left and the share of open pairings visited within their cadence on the right, each
row annotated with its overdue visits and overdue plan items. A report without households
gives a small PNG that says 暂无数据. Labels go through gettext: the caller sets the locale
(`i18n.use_locale`); `locale` is for Babel's dates and numbers.

matplotlib is used through its object-oriented API only (`Figure` + the Agg canvas, no
pyplot, no global rc changes) and, not being thread-safe, under one module-level lock;
async code calls `render_chart_async`, which renders in a worker thread (the context, and
so the gettext locale, is copied into it).

The font: CJK and Hangul labels need a font that has their glyphs, else matplotlib draws
boxes. `find_font` takes CHART_FONT (`Settings.chart_font` or the environment), else a
system Noto Sans CJK (Debian's fonts-noto-cjk, ...), else the Noto Sans CJK SC file shipped
by the `mplfonts` package (located with importlib, never imported: importing it changes
matplotlib's global rc). The file is registered with matplotlib's font manager once and
used by family name for every text of the figure. No usable font, or a font lacking a
glyph the chart needs: `ChartFontMissing`, and the caller replies with text only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import os
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from babel.numbers import format_percent
from matplotlib import ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from bot.i18n import babel_locale, format_date, format_number
from bot.reports.figures import Figures, Report

FONT_ENV = "CHART_FONT"

# System Noto Sans CJK files, most specific first (Debian/Ubuntu fonts-noto-cjk, Fedora,
# Arch, Alpine). A .ttc holds several faces; the Simplified Chinese one is preferred.
SYSTEM_FONTS: tuple[Path, ...] = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJKsc-Regular.otf"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
)
MPLFONTS_PACKAGE = "mplfonts"
MPLFONTS_FILE = Path("fonts") / "NotoSansCJKsc-Regular.otf"

DPI = 110
WIDTH_IN = 12.0
ROW_IN = 0.34  # inches per child region: 40 rows stay legible (about 1,800 px high)
NAME_WIDTH = 24  # display columns of a region name (a CJK character counts 2)

STATUS_COLORS = {"not_lifted": "#f28e2b", "lifted": "#59a14f", "returned": "#e15759"}
TRACK_COLOR = "#ececec"
GOOD, FAIR, POOR = "#59a14f", "#edc948", "#e15759"
TEXT_COLOR, MUTED_COLOR, ALERT_COLOR = "#222222", "#888888", "#b3261e"

_LOCK = threading.Lock()  # matplotlib (font manager, Agg) is not thread-safe
_fonts: dict[Path, ChartFont] = {}


class ChartFontMissing(RuntimeError):
    """No font with the chart's glyphs (CJK, Hangul) was found; the message says where we
    looked or which characters the font lacks."""


@dataclass(frozen=True)
class ChartFont:
    path: Path
    family: str  # the family name the font is registered under with matplotlib
    codepoints: frozenset[int]

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The distinct characters of `texts` this font has no glyph for."""
        seen: dict[str, None] = {}
        for text in texts:
            for ch in text:
                if not ch.isspace() and ord(ch) not in self.codepoints:
                    seen.setdefault(ch)
        return list(seen)


def mplfonts_file() -> Path | None:
    """Noto Sans CJK SC from the mplfonts package, located without importing it."""
    spec = importlib.util.find_spec(MPLFONTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / MPLFONTS_FILE
        if path.is_file():
            return path
    return None


def find_font(configured: Path | str | None = None) -> Path:
    """The font file to use: `configured` (Settings.chart_font), else CHART_FONT from the
    environment, else a system Noto Sans CJK, else mplfonts'. ChartFontMissing if none."""
    chosen = configured or os.environ.get(FONT_ENV, "").strip() or None
    if chosen is not None:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ChartFontMissing(f"chart font {path} ({FONT_ENV}) is not a readable file")
        return path
    for path in SYSTEM_FONTS:
        if path.is_file():
            return path
    path = mplfonts_file()
    if path is not None:
        return path
    raise ChartFontMissing(
        "no CJK font for report charts: install fonts-noto-cjk or the mplfonts package, "
        f"or set {FONT_ENV} to a Noto Sans CJK file"
    )


def _load_font(path: Path) -> ChartFont:
    """Register `path` with matplotlib once; called under _LOCK."""
    path = path.resolve()
    font = _fonts.get(path)
    if font is not None:
        return font
    try:
        first = ft2font.FT2Font(str(path))
        faces = [first] + [ft2font.FT2Font(str(path), face_index=i) for i in range(1, first.num_faces)]
    except (OSError, RuntimeError, ValueError) as exc:
        raise ChartFontMissing(f"chart font {path} cannot be read: {exc}") from exc
    face = next((f for f in faces if f.family_name.endswith(" SC")), faces[0])
    fontManager.addfont(str(path))
    font = ChartFont(path=path, family=face.family_name, codepoints=frozenset(face.get_charmap()))
    _fonts[path] = font
    return font


def load_font(configured: Path | str | None = None) -> ChartFont:
    """Find and register the chart font (see `find_font`)."""
    path = find_font(configured)
    with _LOCK:
        return _load_font(path)


def render_chart(report: Report, locale: str, *, font: Path | str | None = None) -> bytes:
    """The report's chart as PNG bytes. `font` overrides the font search (pass
    Settings.chart_font). Raises ChartFontMissing when no suitable font is found."""
    path = find_font(font)
    with _LOCK:
        chart_font = _load_font(path)
        fig = build_figure(report, locale, chart_font.family)
        missing = chart_font.missing([t.get_text() for t in fig.findobj(Text)])
        if missing:
            raise ChartFontMissing(
                f"chart font {chart_font.path} has no glyph for " + " ".join(f"U+{ord(c):04X}" for c in missing)
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
        return buf.getvalue()


async def render_chart_async(report: Report, locale: str, *, font: Path | str | None = None) -> bytes:
    """`render_chart` in a worker thread (keeps the event loop free; gettext's locale is
    carried over with the context)."""
    return await asyncio.to_thread(render_chart, report, locale, font=font)


# --- drawing -------------------------------------------------------------------------


def build_figure(report: Report, locale: str, family: str) -> Figure:
    """The chart as a matplotlib Figure (Agg canvas) with every text in font `family`
    (registered beforehand, see `load_font`). Not thread-safe: `render_chart` holds the lock."""
    fig = Figure(dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    if report.total.households <= 0:
        _draw_empty(fig, report, locale)
    else:
        _draw(fig, report, locale)
    for ax in fig.axes:
        ax.tick_params(labelfontfamily=family)  # ticks made at draw time too
    for text in fig.findobj(Text):
        text.set_fontfamily(family)
        text.set_parse_math(False)  # region names are plain text: a "$" is no mathtext
    return fig


def shorten(name: str, width: int = NAME_WIDTH) -> str:
    """`name` cut to `width` display columns (East Asian wide characters count 2), with …"""

    def cols(ch: str) -> int:
        return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1

    if sum(cols(ch) for ch in name) <= width:
        return name
    out, used = [], 0
    for ch in name:
        if used + cols(ch) > width - 2:  # room for the ellipsis
            break
        out.append(ch)
        used += cols(ch)
    return "".join(out) + "…"


def _title(report: Report) -> str:
    return _("{region} 扶贫工作报表").format(region=report.name)


def _percent(value: float, locale: str) -> str:
    return format_percent(value, locale=babel_locale(locale))


def _subtitle(report: Report, locale: str) -> str:
    total = report.total
    parts = [_("截至 {date}").format(date=format_date(report.as_of, locale, "long"))]
    parts.append(
        ngettext("共 {count} 户", "共 {count} 户", total.households).format(
            count=format_number(total.households, locale)
        )
    )
    if total.coverage is not None:
        parts.append(_("按期走访率 {rate}").format(rate=_percent(total.coverage, locale)))
    parts.append(_("逾期走访 {count}").format(count=format_number(total.overdue_visits, locale)))
    parts.append(_("逾期计划事项 {count}").format(count=format_number(total.overdue_milestones, locale)))
    return " · ".join(parts)


def _draw_empty(fig: Figure, report: Report, locale: str) -> None:
    fig.set_size_inches(8, 3.2)
    fig.suptitle(_title(report), fontsize=14, color=TEXT_COLOR)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(
        0.5, 0.62, _("暂无数据"), ha="center", va="center", fontsize=20, color=MUTED_COLOR,
        transform=ax.transAxes,
    )
    ax.text(
        0.5, 0.3, _("截至 {date}").format(date=format_date(report.as_of, locale, "long")),
        ha="center", va="center", fontsize=11, color=MUTED_COLOR, transform=ax.transAxes,
    )


def _coverage_color(coverage: float) -> str:
    if coverage >= 0.9:
        return GOOD
    return FAIR if coverage >= 0.6 else POOR


def _draw(fig: Figure, report: Report, locale: str) -> None:
    rows: list[tuple[str, Figures]] = [(r.name, r.figures) for r in report.rows] or [
        (report.name, report.total)
    ]
    n = len(rows)
    fig.set_size_inches(WIDTH_IN, 2.3 + ROW_IN * max(n, 4))
    fig.suptitle(_title(report) + "\n" + _subtitle(report, locale), fontsize=13, color=TEXT_COLOR)

    grid = fig.add_gridspec(1, 2, width_ratios=(1.1, 1))
    ax_h = fig.add_subplot(grid[0, 0])
    ax_c = fig.add_subplot(grid[0, 1], sharey=ax_h)
    label_size = 9 if n <= 25 else 8
    y = list(range(n))

    # Left: households by status, stacked.
    statuses = (("not_lifted", _("未脱贫")), ("lifted", _("已脱贫")), ("returned", _("返贫")))
    left = [0] * n
    for key, label in statuses:
        values = [getattr(f, key) for _name, f in rows]
        ax_h.barh(y, values, left=left, height=0.68, color=STATUS_COLORS[key], label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    top = max(left) or 1
    for i, households in enumerate(left):
        ax_h.text(
            households + top * 0.01, i, format_number(households, locale), va="center", ha="left",
            fontsize=label_size - 0.5, color=TEXT_COLOR,
        )
    ax_h.set_xlim(0, top * 1.14)
    ax_h.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    ax_h.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_number(round(v), locale)))
    ax_h.set_title(_("户数（按脱贫状态）"), loc="left", fontsize=11, color=TEXT_COLOR)
    ax_h.set_yticks(y, [shorten(name) for name, _f in rows])
    ax_h.set_ylim(n - 0.5, -0.5)  # first region on top
    fig.legend(
        loc="outside lower left", ncols=3, frameon=False, fontsize=9, handlelength=1.2,
    )

    # Right: share of open pairings visited within their cadence, 0-100 %.
    ax_c.barh(y, [100] * n, height=0.68, color=TRACK_COLOR)
    for i, (_name, f) in enumerate(rows):
        overdue = []
        if f.overdue_visits:
            overdue.append(_("逾期走访 {count}").format(count=format_number(f.overdue_visits, locale)))
        if f.overdue_milestones:
            overdue.append(_("逾期计划事项 {count}").format(count=format_number(f.overdue_milestones, locale)))
        if f.coverage is None:
            head, color = _("无结对"), MUTED_COLOR
        else:
            ax_c.barh(i, f.coverage * 100, height=0.68, color=_coverage_color(f.coverage))
            head, color = _percent(f.coverage, locale), TEXT_COLOR
        head_text = ax_c.text(
            101.5, i, head, va="center", ha="left", fontsize=label_size - 0.5, color=color
        )
        if overdue:
            ax_c.annotate(
                "  ·  ".join(overdue), xy=(1, 0.5), xycoords=head_text, xytext=(6, 0),
                textcoords="offset points", va="center", ha="left", fontsize=label_size - 0.5,
                color=ALERT_COLOR,
            )
    ax_c.set_xlim(0, 100)
    ax_c.xaxis.set_major_locator(FixedLocator([0, 25, 50, 75, 100]))
    ax_c.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _percent(v / 100, locale)))
    ax_c.set_title(_("按期走访的结对占比"), loc="left", fontsize=11, color=TEXT_COLOR)
    ax_c.tick_params(axis="y", left=False, labelleft=False)

    for ax in (ax_h, ax_c):
        ax.tick_params(axis="y", labelsize=label_size, length=0)
        ax.tick_params(axis="x", labelsize=8, colors=MUTED_COLOR)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
