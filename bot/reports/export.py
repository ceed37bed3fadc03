"""The report as a spreadsheet (issue #6): an XLSX workbook, a zip of CSVs, or the figures
alone as one CSV.

Sheets (and CSV files), in order: 汇总 (the figures of `Report`: one row per child region
and a 合计 row), 逾期走访, 逾期事项, 存疑走访, 干部包户 (storage/repositories/report_lists.py)
and 说明 (region, as-of day, period). Headers are gettext msgids (Chinese), translated to
the requested locale; the header is row 1 (bold, frozen, filtered) so that sorting and
filters work. Numbers are numbers, dates are dates, the coverage is a % number format.

Memory stays constant whatever the registry's size: rows are streamed from the database
into openpyxl's write-only sheets (which spill to a temporary file) or straight into the
zip member. No phone or ID numbers appear anywhere.

The event loop only fetches: each batch of `BATCH_ROWS` rows (the lists' fetch size) is
handed to one worker thread per file, which turns the rows into cells and writes them
(openpyxl, csv, zip, `Workbook.save`), so a long export does not stall the bot's other
updates. `build_export` (the chat's entry) lets one export run at a time per process; the
next waits for it (`on_wait` is told first).
"""

from __future__ import annotations

import asyncio
import contextvars
import csv
import functools
import io
import os
import re
import tempfile
import unicodedata
import weakref
import zipfile
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
)
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Literal, TypeVar
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import SOURCE_LOCALE, SUPPORTED, create_i18n, normalize_locale
from bot.reports.figures import Figures, Report, build_report
from bot.work.households_render import milestone_category_label
from storage.enums import VisitConfirmation
from storage.repositories.regions import display_path
from storage.repositories.report_lists import (
    CadreLoadRow,
    FlaggedVisitRow,
    OverdueMilestoneRow,
    OverdueVisitRow,
    ReportListRepository,
)

Format = Literal["xlsx", "csv", "zip"]  # build_export: the workbook, or every sheet as CSV in a zip
FORMATS: tuple[Format, ...] = ("xlsx", "csv", "zip")
Output = Literal["xlsx", "zip", "figures_csv"]  # write_export: what gets written
OUTPUT_OF_FORMAT: dict[str, Output] = {"xlsx": "xlsx", "csv": "zip", "zip": "zip"}
EXTENSION: dict[Output, str] = {"xlsx": "xlsx", "zip": "zip", "figures_csv": "csv"}
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
FILE_PREFIX = "扶贫报表"

CellKind = Literal["text", "int", "date", "datetime", "pct", "float"]
_NUMBER_FORMATS: dict[str, str] = {
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm",
    "pct": "0.0%",
    "float": "0.00",
}
_KIND_WIDTH = {"int": 8, "date": 11, "datetime": 17, "pct": 9, "float": 8, "text": 10}
_MAX_WIDTH = 60
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
BATCH_ROWS = 500  # rows handed to the writer thread at a time (= the lists' fetch size)
T = TypeVar("T")


# ----------------------------------------------------------------------------- the lists


@dataclass
class ReportLists:
    """The rows of the list sheets; each consumed once, in this order. Async iterables
    (the repository's streams) or plain iterables (tests)."""

    overdue_visits: AsyncIterable[OverdueVisitRow] | Iterable[OverdueVisitRow] = ()
    overdue_milestones: AsyncIterable[OverdueMilestoneRow] | Iterable[OverdueMilestoneRow] = ()
    flagged_visits: AsyncIterable[FlaggedVisitRow] | Iterable[FlaggedVisitRow] = ()
    cadre_loads: AsyncIterable[CadreLoadRow] | Iterable[CadreLoadRow] = ()


def report_lists(session: AsyncSession, report: Report) -> ReportLists:
    """The streaming lists of `report`'s region (nothing runs until a sheet consumes it)."""
    repo = ReportListRepository(session, report.path)
    return ReportLists(
        overdue_visits=repo.overdue_visits(report.as_of),
        overdue_milestones=repo.overdue_milestones(report.as_of),
        flagged_visits=repo.flagged_visits(report.period_start, report.as_of),
        cadre_loads=repo.cadre_loads(report.as_of),
    )




# ----------------------------------------------------------------------------- sheets


@dataclass(frozen=True)
class Column:
    header: str
    kind: CellKind = "text"
    width: int = 0  # expected content width in Latin characters (CJK count 2)


def _as_is(row: Any) -> list[Any]:
    return row


@dataclass
class Sheet:
    title: str
    columns: list[Column]
    rows: AsyncGenerator[list[Any], None]  # batches of source rows (see `_batched`)
    cells: Callable[[Any], list[Any]] = _as_is  # a source row -> its values (in the writer thread)
    bold_last: bool = False  # the 合计 row of 汇总


def display_width(text: str) -> int:
    """Width in Latin characters: wide and full-width (CJK) characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def column_width(column: Column) -> int:
    return min(_MAX_WIDTH, max(display_width(column.header), column.width, _KIND_WIDTH[column.kind]) + 2)


def _summary_columns() -> list[Column]:
    return [
        Column(_("地区"), "text", 16),
        Column(_("户数"), "int"),
        Column(_("未脱贫"), "int"),
        Column(_("已脱贫"), "int"),
        Column(_("返贫"), "int"),
        Column(_("结对数"), "int"),
        Column(_("按期走访"), "int"),
        Column(_("走访覆盖率"), "pct"),
        Column(_("逾期走访"), "int"),
        Column(_("逾期事项"), "int"),
        Column(_("存疑走访"), "int"),
        Column(_("平均满意度"), "float"),
        Column(_("已绑定账号"), "int"),
    ]


def _figure_values(name: str, f: Figures) -> list[Any]:
    return [
        name, f.households, f.not_lifted, f.lifted, f.returned, f.pairings, f.visited_in_cadence,
        f.coverage, f.overdue_visits, f.overdue_milestones, f.flagged_visits, f.avg_satisfaction,
        f.bound_accounts,
    ]


def _summary_rows(report: Report, total_label: str) -> list[list[Any]]:
    return [*(_figure_values(row.name, row.figures) for row in report.rows),
            _figure_values(total_label, report.total)]


def _flag_reason(confirmation: VisitConfirmation) -> str:
    if confirmation is VisitConfirmation.DENIED:
        return _("贫困户否认")
    if confirmation is VisitConfirmation.EXPIRED:
        return _("超时未确认")
    return _("其他")


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Excel has no time zones: the local wall-clock time, naive."""
    return None if moment is None else moment.astimezone(tz).replace(tzinfo=None)


async def _batched(source: Any) -> AsyncIterator[list[Any]]:
    """The rows of `source` in lists of `BATCH_ROWS` (the last one shorter, none when
    `source` is empty); closing this generator closes an async `source` (and with it the
    database cursor)."""
    size = BATCH_ROWS
    batch: list[Any] = []
    if isinstance(source, AsyncIterable):
        iterator = aiter(source)
        try:
            async for row in iterator:
                batch.append(row)
                if len(batch) >= size:
                    yield batch
                    batch = []
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
    else:
        for row in source:
            batch.append(row)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


async def _close(sheets: list[Sheet]) -> None:
    for sheet in sheets:
        await sheet.rows.aclose()


def _sheets(report: Report, lists: ReportLists, tz: ZoneInfo) -> list[Sheet]:
    """Every sheet with translated title, columns and row source (call in a locale)."""
    village = Column(_("行政村"), "text", 20)
    reg_no = Column(_("户编号"), "text", 14)
    head = Column(_("户主"), "text", 8)
    cadre = Column(_("帮扶干部"), "text", 8)
    cadre_code = Column(_("干部编号"), "text", 10)
    overdue_days = Column(_("逾期天数"), "int")

    def visit(r: OverdueVisitRow) -> list[Any]:
        return [r.reg_no, r.head_name, r.village, r.cadre_name, r.cadre_code, r.last_visit_on,
                r.next_visit_due, r.days_overdue]

    def milestone(r: OverdueMilestoneRow) -> list[Any]:
        return [r.reg_no, r.head_name, r.village, milestone_category_label(r.category), r.title,
                r.due_date, r.days_overdue, r.cadre_name, r.cadre_code]

    def flagged(r: FlaggedVisitRow) -> list[Any]:
        return [r.visited_on, r.reg_no, r.head_name, r.village, r.cadre_name, r.cadre_code,
                _flag_reason(r.confirmation), _local(r.flagged_at, tz)]

    def load(r: CadreLoadRow) -> list[Any]:
        return [r.code, r.name, r.unit, r.post, r.region, r.households, r.overdue_visits,
                r.overdue_milestones, r.last_visit_on]

    return [
        Sheet(_("汇总"), _summary_columns(), _batched(_summary_rows(report, _("合计"))), bold_last=True),
        Sheet(
            _("逾期走访"),
            [reg_no, head, village, cadre, cadre_code, Column(_("上次走访"), "date"),
             Column(_("应走访日期"), "date"), overdue_days],
            _batched(lists.overdue_visits),
            visit,
        ),
        Sheet(
            _("逾期事项"),
            [reg_no, head, village, Column(_("类别"), "text", 8), Column(_("事项"), "text", 30),
             Column(_("截止日期"), "date"), overdue_days, cadre, cadre_code],
            _batched(lists.overdue_milestones),
            milestone,
        ),
        Sheet(
            _("存疑走访"),
            [Column(_("走访日期"), "date"), reg_no, head, village, cadre, cadre_code,
             Column(_("原因"), "text", 10), Column(_("标记时间"), "datetime")],
            _batched(lists.flagged_visits),
            flagged,
        ),
        Sheet(
            _("干部包户"),
            [cadre_code, Column(_("姓名"), "text", 8), Column(_("单位"), "text", 24),
             Column(_("职务"), "text", 12), Column(_("所在地区"), "text", 24), Column(_("包户数"), "int"),
             Column(_("逾期走访"), "int"), Column(_("逾期事项"), "int"), Column(_("最近走访日期"), "date")],
            _batched(lists.cadre_loads),
            load,
        ),
        Sheet(
            _("说明"),
            [Column(_("项目"), "text", 12), Column(_("内容"), "text", 30)],
            _batched(_about_rows(report)),
        ),
    ]


def _about_rows(report: Report) -> list[list[Any]]:
    return [
        [_("地区"), display_path(report.path)],
        [_("数据日期"), report.as_of],
        [_("统计起始日期"), report.period_start],
        [_("说明"), _("存疑走访、平均满意度按统计起始日期以来的走访计算；其余为数据日期当天的状态。")],
    ]


# ----------------------------------------------------------------------------- writer thread


class _Writer:
    """One worker thread for one file: every writing step (openpyxl, csv, zip, save) runs
    there, one after the other, in the caller's context (gettext's locale), while the event
    loop only awaits. A cancelled caller still waits for the step in progress, so that no
    clean-up ever races the thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-export")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        future = loop.run_in_executor(self._pool, functools.partial(context.run, fn, *args))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=False)  # idle by now: every step was awaited


_export_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _export_slot() -> asyncio.Semaphore:
    """One export at a time per process (per event loop; the bot runs one): exports are
    long and CPU-bound, several at once would only slow each other and the bot down."""
    loop = asyncio.get_running_loop()
    slot = _export_slots.get(loop)
    if slot is None:
        slot = _export_slots[loop] = asyncio.Semaphore(1)
    return slot


# ----------------------------------------------------------------------------- locale


@lru_cache(maxsize=1)
def _own_i18n() -> I18n:
    return create_i18n()


def _locale(locale: str) -> str:
    return locale if locale in SUPPORTED else (normalize_locale(locale) or SOURCE_LOCALE)


@contextmanager
def translation(locale: str) -> Iterator[None]:
    """gettext in `locale`: the bot's I18n when one is current (in a handler), else the
    project's catalogs (CLI)."""
    current = I18n.get_current(no_error=True)
    if current is not None:
        with current.use_locale(_locale(locale)):
            yield
    else:
        i18n = _own_i18n()
        with i18n.context(), i18n.use_locale(_locale(locale)):
            yield


# ----------------------------------------------------------------------------- XLSX


def _text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _xlsx_cell(ws: Any, kind: CellKind, value: Any, bold: Font | None) -> Any:
    if value is None:
        if bold is None:
            return None
        cell = WriteOnlyCell(ws, value=None)
        cell.font = bold
        return cell
    if isinstance(value, str):
        value = _text(value)
        if value.startswith("=") or bold is not None:  # never a formula
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"
            if bold is not None:
                cell.font = bold
            return cell
        return value
    fmt = _NUMBER_FORMATS.get(kind)
    if kind == "text" and isinstance(value, datetime):
        fmt = _NUMBER_FORMATS["datetime"]
    elif kind == "text" and isinstance(value, date):
        fmt = _NUMBER_FORMATS["date"]
    if fmt is None and bold is None:
        return value
    cell = WriteOnlyCell(ws, value=value)
    if fmt is not None:
        cell.number_format = fmt
    if bold is not None:
        cell.font = bold
    return cell


async def write_xlsx(
    report: Report, lists: ReportLists, out: BinaryIO | Path, locale: str = SOURCE_LOCALE,
    *, tz: ZoneInfo = DEFAULT_TZ,
) -> None:
    """The workbook: one write-only sheet per list, rows streamed as they come (written in
    a worker thread, a batch at a time)."""
    bold = Font(bold=True)
    wb = Workbook(write_only=True)
    writer = _Writer()
    try:
        with translation(locale):
            sheets = _sheets(report, lists, tz)
            try:
                await _write_sheets(writer, wb, sheets, bold)
            except BaseException:
                _discard(wb)  # the writer is idle: `run` waits for its step even when cancelled
                raise
            finally:
                await _close(sheets)
        await writer.run(wb.save, out)
    finally:
        writer.close()


def _discard(wb: Workbook) -> None:
    """Close the sheets of a workbook that will not be saved and delete the temporary
    files openpyxl spilled their rows to (what `save` does after copying them)."""
    for ws in wb.worksheets:
        try:
            ws.close()
            writer = getattr(ws, "_writer", None)
            if writer is not None:
                writer.cleanup()
        except Exception:  # best effort: the original error is what matters
            pass


async def _write_sheets(writer: _Writer, wb: Workbook, sheets: list[Sheet], bold: Font) -> None:
    for sheet in sheets:
        ws = await writer.run(_start_sheet, wb, sheet, bold)
        count = 1
        pending: list[Any] | None = None  # held back one batch: its last row may be bold
        async for batch in sheet.rows:
            if pending is not None:
                count += await writer.run(_append_rows, ws, sheet, pending, None)
            pending = batch
        if pending is not None:
            count += await writer.run(_append_rows, ws, sheet, pending, bold if sheet.bold_last else None)
        ws.auto_filter.ref = f"A1:{get_column_letter(len(sheet.columns))}{count}"


def _start_sheet(wb: Workbook, sheet: Sheet, bold: Font) -> Any:
    """A new write-only sheet with its column widths, frozen and bold header row (writer thread)."""
    ws = wb.create_sheet(sheet.title)
    for index, column in enumerate(sheet.columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column_width(column)
    ws.freeze_panes = "A2"
    ws.append([_xlsx_cell(ws, "text", c.header, bold) for c in sheet.columns])
    return ws


def _append_rows(ws: Any, sheet: Sheet, batch: list[Any], last_font: Font | None) -> int:
    """Append a batch of source rows, the last one in `last_font` (writer thread)."""
    last = len(batch) - 1
    for index, source in enumerate(batch):
        font = last_font if index == last else None
        values = sheet.cells(source)
        ws.append([_xlsx_cell(ws, c.kind, v, font) for c, v in zip(sheet.columns, values, strict=True)])
    return len(batch)


# ----------------------------------------------------------------------------- CSV


def _csv_value(kind: CellKind, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = _text(value)
        return "'" + value if value.startswith(_CSV_FORMULA_START) else value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if kind == "pct":
        return f"{value * 100:.1f}%"
    if kind == "float":
        return f"{value:.2f}"
    return str(value)


async def _write_csv_sheet(writer: _Writer, sheet: Sheet, text: Any) -> None:
    rows = csv.writer(text)
    await writer.run(rows.writerow, [c.header for c in sheet.columns])
    async for batch in sheet.rows:
        await writer.run(_write_csv_rows, rows, sheet, batch)


def _write_csv_rows(rows: Any, sheet: Sheet, batch: list[Any]) -> None:
    """A batch of source rows as CSV lines (writer thread)."""
    for source in batch:
        values = sheet.cells(source)
        rows.writerow([_csv_value(c.kind, v) for c, v in zip(sheet.columns, values, strict=True)])


def _open_member(zf: zipfile.ZipFile, name: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(zf.open(name, "w"), encoding="utf-8-sig", newline="")


async def write_csv_zip(
    report: Report, lists: ReportLists, out: BinaryIO | Path, locale: str = SOURCE_LOCALE,
    *, tz: ZoneInfo = DEFAULT_TZ,
) -> None:
    """A zip with one UTF-8-with-BOM CSV per sheet (Excel reads the BOM as UTF-8), written
    in a worker thread, a batch at a time."""
    writer = _Writer()
    try:
        with translation(locale):
            sheets = _sheets(report, lists, tz)
            try:
                zf = await writer.run(zipfile.ZipFile, out, "w", zipfile.ZIP_DEFLATED)
                try:
                    for sheet in sheets:
                        text = await writer.run(_open_member, zf, f"{sheet.title}.csv")
                        try:
                            await _write_csv_sheet(writer, sheet, text)
                        finally:
                            await writer.run(text.close)
                finally:
                    await writer.run(zf.close)
            finally:
                await _close(sheets)
    finally:
        writer.close()


async def write_csv(
    report: Report, out: BinaryIO | Path, locale: str = SOURCE_LOCALE, *, tz: ZoneInfo = DEFAULT_TZ
) -> None:
    """The figures (the 汇总 sheet) alone as one UTF-8-with-BOM CSV."""
    writer = _Writer()
    try:
        with translation(locale):
            sheets = _sheets(report, ReportLists(), tz)
            await _close(sheets[1:])
            summary = sheets[0]
            try:
                if isinstance(out, Path):
                    text = await writer.run(functools.partial(out.open, "w", encoding="utf-8-sig", newline=""))
                    try:
                        await _write_csv_sheet(writer, summary, text)
                    finally:
                        await writer.run(text.close)
                else:
                    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
                    try:
                        await _write_csv_sheet(writer, summary, text)
                        await writer.run(text.flush)
                    finally:
                        text.detach()  # the caller owns `out`
            finally:
                await summary.rows.aclose()
    finally:
        writer.close()


# ----------------------------------------------------------------------------- export


def export_filename(report: Report, output: Output) -> str:
    """扶贫报表_<region name>_<YYYYMMDD>.<ext> (UTF-8; Telegram accepts it)."""
    name = _UNSAFE_FILENAME.sub("_", report.name).strip() or "region"
    return f"{FILE_PREFIX}_{name}_{report.as_of:%Y%m%d}.{EXTENSION[output]}"


async def write_export(
    session: AsyncSession, report: Report, out: BinaryIO | Path, locale: str, output: Output,
    *, tz: ZoneInfo = DEFAULT_TZ,
) -> None:
    """Write `report` as `output`: 'xlsx' (every sheet), 'zip' (every sheet as CSV) or
    'figures_csv' (the 汇总 sheet alone as one CSV)."""
    if output == "xlsx":
        await write_xlsx(report, report_lists(session, report), out, locale, tz=tz)
    elif output == "zip":
        await write_csv_zip(report, report_lists(session, report), out, locale, tz=tz)
    elif output == "figures_csv":
        await write_csv(report, out, locale, tz=tz)
    else:
        raise ValueError(f"unknown export output {output!r}")


async def build_export(
    session: AsyncSession, region_path: str, today: date, locale: str, fmt: Format | str,
    *, tz: ZoneInfo = DEFAULT_TZ, out: Path | None = None,
    on_wait: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[str, Path]:
    """Compute the report of `region_path` (the caller checked the admin's scope) and write
    it as `fmt`: 'xlsx' (the workbook) or 'csv' / 'zip' (a zip holding one CSV per sheet),
    to `out` or to a new temporary file that the caller deletes after sending. Returns
    (the file name to show, the path).

    `tz` turns the flag times (stored in UTC) into local times: pass `settings.tz`.
    One export runs at a time per process: while another one runs, `on_wait()` is awaited
    (e.g. to tell the user) and this one waits for its turn, holding no database
    transaction of its own (commit before calling). Raises
    bot.reports.figures.RegionNotFound for an unknown region, ValueError for an unknown
    format; a partly written file is removed.
    """
    output = OUTPUT_OF_FORMAT.get(fmt)
    if output is None:
        raise ValueError(f"unknown export format {fmt!r}")
    slot = _export_slot()
    if slot.locked() and on_wait is not None:
        await on_wait()
    async with slot:
        return await _build_export(session, region_path, today, locale, output, tz, out)


async def _build_export(
    session: AsyncSession, region_path: str, today: date, locale: str, output: Output, tz: ZoneInfo,
    out: Path | None,
) -> tuple[str, Path]:
    report = await build_report(session, region_path, today)
    filename = export_filename(report, output)
    if out is None:
        fd, name = tempfile.mkstemp(prefix="fupin-report-", suffix=f".{EXTENSION[output]}")
        os.close(fd)
        path = Path(name)
    else:
        path = out
    try:
        await write_export(session, report, path, locale, output, tz=tz)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return filename, path
