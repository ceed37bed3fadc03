"""Header matching and row parsing: cells → typed records, with one error per bad cell.

Nothing here touches the database. Reasons are English, one line, and never contain an ID
number (nor a phone number); labels of accepted values are quoted in Chinese as in the
registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from storage.enums import (
    CADRE_LEVEL_LABELS,
    CAUSE_LABELS,
    MEASURE_LABELS,
    MILESTONE_CATEGORY_LABELS,
    STATUS_LABELS,
    CadreLevel,
    HouseholdStatus,
    HousingGrade,
    MilestoneCategory,
    PovertyCause,
    SupportMeasure,
)
from storage.idhash import InvalidIdNumber, normalize_id_number
from storage.importer.columns import SPECS, Column, KindSpec, normalize_header
from storage.importer.readers import ImportFileError, Row

MAX_TITLE_ROWS = 3  # title lines above the header row that are skipped
MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_COUNT = 999
MAX_INCOME = Decimal("9999999999.99")  # Numeric(12, 2)


class CellValueError(ValueError):
    """One bad cell; `str()` is the reason."""


# --------------------------------------------------------------------------- headers


@dataclass
class HeaderMap:
    spec: KindSpec
    header_row: int
    positions: list[tuple[int, Column]]  # cell index → column
    names: dict[str, str]  # column key → header text as written in the file

    @property
    def present(self) -> frozenset[str]:
        return frozenset(self.names)

    def name(self, key: str) -> str:
        return self.names.get(key) or self.spec.by_key(key).header


_LONG_DIGITS = re.compile(r"\d{15,}")
_DIGIT_RUN = re.compile(r"\d{7,}")  # never echo what may be an ID or phone number


def _show_header(text: str) -> str:
    text = _LONG_DIGITS.sub("…", text.strip())
    return text if len(text) <= 24 else text[:23] + "…"


def map_headers(spec: KindSpec, cells: list[Any], row_number: int, file_name: str) -> HeaderMap:
    """Match one header row against `spec`; ImportFileError lists missing and unknown ones."""
    lookup = spec.lookup()
    ignored = {normalize_header(h) for h in spec.ignored_headers}
    positions: list[tuple[int, Column]] = []
    names: dict[str, str] = {}
    unknown: list[str] = []
    duplicates: list[str] = []
    for index, raw in enumerate(cells):
        text = "" if raw is None else str(raw).replace("\ufeff", "").strip()
        norm = normalize_header(text)
        if not norm or norm in ignored:
            continue
        col = lookup.get(norm)
        if col is None:
            unknown.append(_show_header(text))
        elif col.key in names:
            duplicates.append(f"{text} (same as {names[col.key]})")
        else:
            positions.append((index, col))
            names[col.key] = text
    missing = [c.header for c in spec.columns if c.header_required and c.key not in names]
    if not (missing or unknown or duplicates):
        return HeaderMap(spec, row_number, positions, names)
    if not names:
        expected = ", ".join(c.header for c in spec.columns if c.header_required)
        raise ImportFileError(
            f"{file_name}: no {spec.kind} header row found (expected the columns {expected})"
            + _kind_hint(spec, cells)
        )
    parts = []
    if missing:
        parts.append("missing required columns " + ", ".join(missing))
    if unknown:
        parts.append("unknown headers " + ", ".join(unknown))
    if duplicates:
        parts.append("duplicate columns " + ", ".join(duplicates))
    raise ImportFileError(
        f"{file_name}: wrong headers for {spec.kind} in row {row_number}: " + "; ".join(parts)
        + _kind_hint(spec, cells)
    )


def _kind_hint(spec: KindSpec, cells: list[Any]) -> str:
    """' (this looks like a cadres file)' when another kind matches the headers exactly."""
    for other in SPECS.values():
        if other.kind == spec.kind:
            continue
        lookup = other.lookup()
        keys = {lookup[n].key for n in map(normalize_header, cells) if n in lookup}
        if keys and all(c.key in keys for c in other.columns if c.header_required):
            return f" (this looks like a {other.kind} file)"
    return ""


def find_header(spec: KindSpec, rows: Iterator[Row], file_name: str) -> HeaderMap:
    """Consume rows up to and including the header row (title lines above it are skipped)."""
    first_error: ImportFileError | None = None
    lookup = spec.lookup()
    seen = 0
    for number, cells in rows:
        seen += 1
        try:
            return map_headers(spec, cells, number, file_name)
        except ImportFileError as exc:
            known = any(normalize_header(c) in lookup for c in cells)
            filled = sum(1 for c in cells if c is not None and str(c).strip())
            if known or filled > 2 or seen > MAX_TITLE_ROWS:
                raise
            first_error = first_error or exc
    if first_error is not None:
        raise first_error
    raise ImportFileError(f"{file_name}: the file is empty")


# --------------------------------------------------------------------------- cells

_SPACES = re.compile(r"[\s\u3000\u00a0]+")


def cell_text(value: Any) -> str:
    """A cell as stripped text ('' for empty); numbers without a spurious '.0'."""
    if value.__class__ is str:
        return value.strip()  # also strips U+3000 and U+00A0
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _plain(value: Any) -> str:
    """Text with all inner whitespace collapsed to single spaces."""
    return _SPACES.sub(" ", cell_text(value)).strip()


def parse_name(max_len: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _plain(value)
        if len(text) > max_len:
            raise CellValueError(f"too long (at most {max_len} characters)")
        return text

    return parse


def parse_region_name(value: Any) -> str:
    text = _SPACES.sub("", cell_text(value))
    if "/" in text or "\\" in text:
        raise CellValueError("a region name must not contain / or \\")
    if len(text) > 64:
        raise CellValueError("too long (at most 64 characters)")
    return text


_PATH_SPLIT = re.compile(r"\s*[/／\\]\s*")
PROVINCE = "吉林省"


def parse_village_path(value: Any) -> tuple[str, ...]:
    """'市州/县市区/乡镇/行政村' (optionally '吉林省/' in front) → the four names."""
    text = cell_text(value).strip().strip("/／\\")
    parts = [p for p in _PATH_SPLIT.split(text) if p]
    if parts and parts[0] == PROVINCE:
        parts = parts[1:]
    if len(parts) != 4:
        raise CellValueError(
            "expected a village path 市州/县市区/乡镇/行政村 such as 白山市/示例县/示例镇/示例一村 "
            f"({len(parts)} part{'s' if len(parts) != 1 else ''} given)"
        )
    return tuple(parse_region_name(p) for p in parts)


def parse_code(max_len: int = 32) -> Callable[[Any], str]:
    """Registry numbers and cadre numbers: no spaces; numbers from XLSX as digits."""

    def parse(value: Any) -> str:
        if isinstance(value, float) and (not value.is_integer() or abs(value) >= 1e15):
            raise CellValueError("stored as a number in the spreadsheet (digits may be lost): format the column as text")
        text = cell_text(value).lstrip("'\t=").strip().strip('"')
        if not text:
            raise CellValueError("required value is missing")
        if _SPACES.search(text):
            raise CellValueError("must not contain spaces")
        if len(text) > max_len:
            raise CellValueError(f"too long (at most {max_len} characters)")
        return text

    return parse


def parse_id_number(value: Any) -> str:
    if isinstance(value, float):
        raise CellValueError(
            "invalid ID number: stored as a number in the spreadsheet (digits are lost): "
            "format the column as text"
        )
    text = cell_text(value).lstrip("'\t=").strip().strip('"')
    try:
        return normalize_id_number(text)
    except InvalidIdNumber as exc:
        raise CellValueError(str(exc)) from None


_PHONE_RE = re.compile(r"^\+?\d[\d-]{5,19}$")


def parse_phone(value: Any) -> str:
    text = re.sub(r"[\s()（）]", "", cell_text(value).lstrip("'\t"))
    if not _PHONE_RE.match(text) or sum(ch.isdigit() for ch in text) < 6:
        raise CellValueError("invalid phone number (expected digits, optionally + and -)")
    return text


def parse_count(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise CellValueError("expected a whole number")
        if isinstance(value, int):
            number = value
        elif isinstance(value, float):
            if not value.is_integer():
                raise CellValueError("expected a whole number")
            number = int(value)
        else:
            text = cell_text(value).replace(",", "").removesuffix("人").strip()
            if not re.fullmatch(r"[+-]?\d+", text):
                raise CellValueError("expected a whole number")
            number = int(text)
        if number < minimum:
            raise CellValueError(f"must be at least {minimum}")
        if number > MAX_COUNT:
            raise CellValueError(f"must be at most {MAX_COUNT}")
        return number

    return parse


_AMOUNT_RE = re.compile(r"^[+-]?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$")


def parse_income(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise CellValueError("expected an amount in yuan such as 3560.50")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
        rounded = amount.quantize(Decimal("0.01"))
        if abs(amount - rounded) < Decimal("0.000001"):  # binary float noise of a formula
            amount = rounded
    else:
        text = _SPACES.sub("", cell_text(value)).replace("，", ",").replace("¥", "").replace("￥", "")
        text = text.removesuffix("元")
        if not _AMOUNT_RE.match(text):
            raise CellValueError("expected an amount in yuan such as 3560.50 (thousands separators and 元 allowed)")
        try:
            amount = Decimal(text.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - guarded by the regex
            raise CellValueError("expected an amount in yuan such as 3560.50") from None
    if amount < 0:
        raise CellValueError("must not be negative")
    if amount != amount.quantize(Decimal("0.01")):
        raise CellValueError("at most 2 decimal places")
    if amount > MAX_INCOME:
        raise CellValueError("amount too large")
    return amount.quantize(Decimal("0.01"))


def parse_year(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        year = value
    else:
        text = cell_text(value).removesuffix("年度").removesuffix("年").strip()
        if not re.fullmatch(r"\d{4}", text):
            raise CellValueError("expected a year such as 2025")
        year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise CellValueError(f"expected a year between {MIN_YEAR} and {MAX_YEAR}")
    return year


_DATE_RES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
DATE_FORMATS_HINT = "2026-03-01, 2026/3/1, 2026.3.1 or 2026年3月1日"


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # an XLSX number in a date column: an Excel serial date (cell not formatted as date)
        from openpyxl.utils.datetime import from_excel

        try:
            converted = from_excel(value)
        except (ValueError, OverflowError, TypeError):
            raise CellValueError(f"expected a date such as {DATE_FORMATS_HINT}") from None
        if not isinstance(converted, datetime | date):
            raise CellValueError(f"expected a date such as {DATE_FORMATS_HINT}")
        result = converted.date() if isinstance(converted, datetime) else converted
    else:
        text = _SPACES.sub("", cell_text(value))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]?00:00(:00)?", text):
            text = text[:10]
        for regex in _DATE_RES:
            match = regex.match(text)
            if match:
                break
        else:
            raise CellValueError(f"expected a date such as {DATE_FORMATS_HINT}")
        try:
            result = date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            raise CellValueError("not a valid calendar date") from None
    if not MIN_YEAR <= result.year <= MAX_YEAR:
        raise CellValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return result


def _accepted(labels: dict[Any, str | tuple[str, ...]]) -> str:
    chinese: list[str] = []
    for value in labels.values():
        chinese.extend(value if isinstance(value, tuple) else (value,))
    english = [_english(member) for member in labels]
    return ", ".join(chinese) + " (or " + ", ".join(english) + ")"


def _english(member: Any) -> str:
    return member.name.lower() if isinstance(member, PovertyCause) else str(member.value)


def label_parser(labels: dict[Any, str | tuple[str, ...]], what: str) -> Callable[[str], Any]:
    """Exact Chinese label(s) or the English enum value (case-insensitive) → enum member."""
    table: dict[str, Any] = {}
    for member, value in labels.items():
        for label in value if isinstance(value, tuple) else (value,):
            table[label] = member
        table[_english(member).lower()] = member
    accepted = _accepted(labels)

    def parse(text: str) -> Any:
        text = _plain(text)
        member = table.get(text) or table.get(text.lower().replace(" ", "_").replace("-", "_"))
        if member is None:
            shown = _DIGIT_RUN.sub("…", text)[:30]
            raise CellValueError(f"unknown {what} '{shown}': expected one of {accepted}")
        return member

    return parse


_cause = label_parser(CAUSE_LABELS, "致贫原因")
_measure = label_parser(MEASURE_LABELS, "帮扶措施")
_status = label_parser(STATUS_LABELS, "脱贫状态")
_level = label_parser(CADRE_LEVEL_LABELS, "级别")
_category = label_parser(MILESTONE_CATEGORY_LABELS, "类别")
_CAUSE_SPLIT = re.compile(r"[、,，;；]")


def parse_causes(value: Any) -> PovertyCause:
    causes = PovertyCause(0)
    parts = [p.strip() for p in _CAUSE_SPLIT.split(cell_text(value)) if p.strip()]
    if not parts:
        raise CellValueError("at least one cause is required")
    for part in parts:
        causes |= _cause(part)
    return causes


def parse_measure(value: Any) -> SupportMeasure:
    return _measure(cell_text(value))


def parse_status(value: Any) -> HouseholdStatus:
    return _status(cell_text(value))


_LEVEL_CHARS = set(CADRE_LEVEL_LABELS.values())


def parse_level(value: Any) -> CadreLevel:
    text = _plain(value)
    if len(text) == 2 and text.endswith("级") and text[0] in _LEVEL_CHARS:
        text = text[0]
    return _level(text)


def parse_category(value: Any) -> MilestoneCategory:
    return _category(cell_text(value))


def parse_grade(value: Any) -> HousingGrade:
    text = _plain(value).upper().translate(str.maketrans("ＡＢＣＤ", "ABCD")).removesuffix("级")
    try:
        return HousingGrade(text)
    except ValueError:
        raise CellValueError("expected A, B, C or D (or an empty cell)") from None


_YES = {"是", "有", "享受", "yes", "y", "true", "1"}
_NO = {"否", "无", "不享受", "no", "n", "false", "0"}


def parse_yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _plain(value).lower()
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise CellValueError("expected 是 or 否 (or yes/no)")


_DONE = {"已完成", "完成", "done", "completed", "yes"}
_OPEN = {"未完成", "open", "pending", "no"}


def parse_done(value: Any) -> bool:
    text = _plain(value).lower()
    if text in _DONE:
        return True
    if text in _OPEN:
        return False
    raise CellValueError("expected 未完成 or 已完成 (or open/done)")


# --------------------------------------------------------------------------- records


@dataclass(kw_only=True)
class Record:
    row: int
    present: frozenset[str]


@dataclass(kw_only=True)
class HouseholdRecord(Record):
    reg_no: str
    head_name: str
    id_number: str | None = None
    phone: str | None = None
    city: str
    county: str
    township: str
    village: str
    members: int
    causes: PovertyCause
    measure: SupportMeasure | None
    income_per_capita: Decimal | None
    income_year: int | None
    status: HouseholdStatus
    students: int
    disabled: int
    housing_grade: HousingGrade | None
    dibao: bool


@dataclass(kw_only=True)
class CadreRecord(Record):
    code: str
    name: str
    unit: str
    post: str
    level: CadreLevel
    phone: str | None
    city: str
    county: str
    supervisor_code: str | None = None
    leader_village: tuple[str, ...] | None = None  # 市州, 县市区, 乡镇, 行政村


@dataclass(kw_only=True)
class PairingRecord(Record):
    cadre_code: str
    reg_no: str
    start_date: date


@dataclass(kw_only=True)
class MilestoneRecord(Record):
    reg_no: str
    title: str
    category: MilestoneCategory
    due_date: date
    done: bool


# key → (parser, value for an empty cell of a column whose cell may be empty)
_Parser = Callable[[Any], Any]
_FIELDS: dict[str, dict[str, tuple[_Parser, Any]]] = {
    "households": {
        "reg_no": (parse_code(32), None),
        "head_name": (parse_name(64), None),
        "id_number": (parse_id_number, None),
        "phone": (parse_phone, None),
        "city": (parse_region_name, None),
        "county": (parse_region_name, None),
        "township": (parse_region_name, None),
        "village": (parse_region_name, None),
        "members": (parse_count(1), None),
        "causes": (parse_causes, None),
        "measure": (parse_measure, None),
        "income_per_capita": (parse_income, None),
        "income_year": (parse_year, None),
        "status": (parse_status, None),
        "students": (parse_count(0), 0),
        "disabled": (parse_count(0), 0),
        "housing_grade": (parse_grade, None),
        "dibao": (parse_yes_no, False),
    },
    "cadres": {
        "code": (parse_code(32), None),
        "name": (parse_name(64), None),
        "unit": (parse_name(128), ""),
        "post": (parse_name(64), ""),
        "level": (parse_level, None),
        "phone": (parse_phone, None),
        "city": (parse_region_name, None),
        "county": (parse_region_name, None),
        "supervisor_code": (parse_code(32), None),
        "leader_village": (parse_village_path, None),
    },
    "pairings": {
        "cadre_code": (parse_code(32), None),
        "reg_no": (parse_code(32), None),
        "start_date": (parse_date, None),
    },
    "milestones": {
        "reg_no": (parse_code(32), None),
        "title": (parse_name(200), None),
        "category": (parse_category, None),
        "due_date": (parse_date, None),
        "done": (parse_done, False),
    },
}
_RECORDS: dict[str, type[Record]] = {
    "households": HouseholdRecord,
    "cadres": CadreRecord,
    "pairings": PairingRecord,
    "milestones": MilestoneRecord,
}
_FIELD_OF_COLUMN = {("milestones", "status"): "done"}


@dataclass
class ParsedRow:
    row: int
    record: Record | None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column header, reason)
    values: dict[str, Any] = field(default_factory=dict)  # the cells that parsed, also on errors


class RowParser:
    """Parses the data rows of one file given its header map."""

    def __init__(self, header: HeaderMap) -> None:
        self.header = header
        self.kind = header.spec.kind
        self.fields = _FIELDS[self.kind]
        self.record_type = _RECORDS[self.kind]
        self.present = frozenset(
            _FIELD_OF_COLUMN.get((self.kind, key), key) for key in header.present
        )
        self.plan: list[tuple[int, str, str, _Parser, Any, bool]] = []
        for index, col in header.positions:
            field_name = _FIELD_OF_COLUMN.get((self.kind, col.key), col.key)
            parser, empty_value = self.fields[field_name]
            self.plan.append((index, header.names[col.key], field_name, parser, empty_value, col.value_required))

    def parse(self, number: int, cells: list[Any]) -> ParsedRow:
        values: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        width = len(cells)
        for index, name, field_name, parser, empty_value, required in self.plan:
            raw = cells[index] if index < width else None
            if raw is None or (raw.__class__ is str and not raw.strip()):
                if required:
                    errors.append((name, "required value is missing"))
                values[field_name] = empty_value
                continue
            try:
                values[field_name] = parser(raw)
            except CellValueError as exc:
                errors.append((name, str(exc)))
        if not errors:
            errors.extend(self._cross_checks(values))
        if errors:
            return ParsedRow(number, None, errors, values)
        return ParsedRow(number, self.record_type(row=number, present=self.present, **values), [], values)

    def _cross_checks(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        errors: list[tuple[str, str]] = []
        if self.kind == "households":
            members = values.get("members")
            for key in ("students", "disabled"):
                if members is not None and (values.get(key) or 0) > members:
                    errors.append((self.header.name(key), f"more than 家庭人口 ({members})"))
        elif self.kind == "cadres":
            sup = values.get("supervisor_code")
            if sup and sup == values.get("code"):
                errors.append((self.header.name("supervisor_code"), "a cadre cannot be their own supervisor"))
        return errors
