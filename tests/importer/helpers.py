"""Test helpers for the importer: file variants (BOM, GB18030, XLSX) and DB snapshots."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.importer.parsing import parse_date, parse_income
from storage.models import AppMeta, AuditLog, Base, Cadre, Household, Milestone, Pairing, Region

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ORDER = ("households", "cadres", "pairings", "milestones")
INT_HEADERS = {"家庭人口", "在校学生数", "残疾人数", "收入年度"}
MONEY_HEADERS = {"人均纯收入"}
DATE_HEADERS = {"开始日期", "截止日期"}


def example(kind: str) -> Path:
    return EXAMPLES / f"{kind}.csv"


def read_csv_rows(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return [row for row in csv.reader(io.StringIO(text, newline=""))]


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8-sig") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def reencode(src: Path, dst: Path, encoding: str) -> Path:
    return write_csv(dst, read_csv_rows(src), encoding)


def csv_to_xlsx(src: Path, dst: Path, *, typed: bool = True) -> Path:
    """The CSV as an XLSX sheet; with `typed`, numbers and dates become numeric/date cells."""
    from openpyxl import Workbook

    rows = read_csv_rows(src)
    header = rows[0]
    wb = Workbook()
    ws = wb.active
    ws.title = src.stem
    ws.append(header)
    for row in rows[1:]:
        cells: list[Any] = []
        for name, value in zip(header, row, strict=False):
            if typed and value and name in INT_HEADERS:
                cells.append(int(value))
            elif typed and value and name in MONEY_HEADERS:
                cells.append(float(parse_income(value)))
            elif typed and value and name in DATE_HEADERS:
                cells.append(datetime.combine(parse_date(value), datetime.min.time()))
            else:
                cells.append(value if value != "" else None)
        ws.append(cells)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd"
    for col in ws.columns:  # text cells stay text (registry and ID numbers)
        for cell in col:
            if isinstance(cell.value, str):
                cell.number_format = "@"
    wb.save(dst)
    return dst


async def counts(session: AsyncSession) -> dict[str, int]:
    result = {}
    for model in (Region, Household, Cadre, Pairing, Milestone, AuditLog, AppMeta):
        result[model.__tablename__] = await session.scalar(select(func.count()).select_from(model))
    return result


async def snapshot(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the registry tables (ids and timestamps included) for equality checks."""
    data: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in ("alembic_version",):
            continue
        rows = (await session.execute(select(table).order_by(*table.primary_key.columns))).all()
        data[table.name] = [tuple(r) for r in rows]
    return data
