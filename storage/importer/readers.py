"""Reading import files: CSV (UTF-8 with or without BOM, GB18030) and XLSX (openpyxl).

The format is decided by the content, not the extension: a ZIP container is read as XLSX,
text as CSV. Everything that cannot be read raises ImportFileError with one line.

`read_table` returns a Table whose `rows` iterate `(row_number, cells)` over the non-empty
rows, header row included; the row number is what a spreadsheet shows (first row = 1) and
cells are str (CSV) or the typed values of openpyxl (str, int, float, bool, datetime, date,
time, None). Rows whose cells are all empty are skipped, their numbers are kept.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Cell = Any
Row = tuple[int, list[Cell]]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")

csv.field_size_limit(1 << 20)


class ImportFileError(Exception):
    """The file as a whole cannot be imported; `str()` is one console line."""


@dataclass
class Table:
    """A lazily read iterator over the non-empty rows of a file (header row included)."""

    name: str
    fmt: str  # 'csv' or 'xlsx'
    encoding: str | None  # CSV only
    rows: Iterator[Row]
    row_estimate: int | None = None
    _closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for closer in self._closers:
            closer()
        self._closers.clear()


def _is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_table(path: str | Path) -> Table:
    """Open `path` as CSV or XLSX; raise ImportFileError for every file-level problem."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise ImportFileError(f"{name}: no such file")
    if not path.is_file():
        raise ImportFileError(f"{name}: not a file")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if not head:
        raise ImportFileError(f"{name}: the file is empty")
    if head.startswith(_ZIP_MAGIC):
        return _read_xlsx(path)
    if head.startswith(_OLE_MAGIC):
        raise ImportFileError(
            f"{name}: legacy Excel .xls (or another binary office file) is not supported: "
            "save it as .xlsx or CSV"
        )
    return _read_csv(path)


def _decode(name: str, data: bytes) -> tuple[str, str]:
    if data.startswith(_UTF32_BOMS) or data.startswith(_UTF16_BOMS):
        raise ImportFileError(
            f"{name}: the file is UTF-16/UTF-32 text: save it as CSV in UTF-8 (or GB18030)"
        )
    if b"\x00" in data:
        raise ImportFileError(
            f"{name}: not a CSV or XLSX file (binary content; UTF-16 text is not supported)"
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise ImportFileError(
            f"{name}: cannot decode the file as UTF-8 or GB18030: not a CSV or XLSX file, "
            "or a different encoding (save it as CSV UTF-8)"
        ) from None


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _read_csv(path: Path) -> Table:
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    text, encoding = _decode(name, data)
    del data
    if not text.strip():
        raise ImportFileError(f"{name}: the file is empty")
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first_line))
    estimate = text.count("\n")

    def rows() -> Iterator[Row]:
        try:
            for number, record in enumerate(reader, start=1):
                if any(not _is_blank(v) for v in record):
                    yield number, list(record)
        except csv.Error as exc:
            raise ImportFileError(f"{name}: not a valid CSV file ({exc})") from None

    return Table(name, "csv", encoding, rows(), estimate)


def _read_xlsx(path: Path) -> Table:
    name = path.name
    try:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError:  # pragma: no cover - a declared dependency
        raise ImportFileError("reading XLSX needs openpyxl: pip install openpyxl") from None
    handle = path.open("rb")  # a file object: openpyxl then does not insist on the extension
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError):
        handle.close()
        raise ImportFileError(
            f"{name}: not a CSV or XLSX file (a ZIP archive but not an XLSX workbook)"
        ) from None
    except Exception as exc:  # openpyxl raises assorted errors for broken workbooks
        handle.close()
        raise ImportFileError(f"{name}: cannot read the XLSX workbook ({type(exc).__name__})") from None

    def close() -> None:
        workbook.close()
        handle.close()

    if not workbook.worksheets:
        close()
        raise ImportFileError(f"{name}: the workbook has no worksheet")
    sheet = workbook.worksheets[0]
    estimate = sheet.max_row if isinstance(sheet.max_row, int) and sheet.max_row > 1 else None
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()  # some writers store wrong dimensions; read what is there

    def rows() -> Iterator[Row]:
        try:
            for number, record in enumerate(sheet.iter_rows(values_only=True), start=1):
                if any(not _is_blank(v) for v in record):
                    yield number, list(record)
        except ImportFileError:
            raise
        except Exception as exc:
            raise ImportFileError(f"{name}: cannot read the XLSX workbook ({type(exc).__name__})") from None
        finally:
            close()

    return Table(name, "xlsx", None, rows(), estimate, [close])
