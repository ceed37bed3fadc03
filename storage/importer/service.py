"""The import service: read and validate a whole file, then upsert it in ONE transaction.

Phases:
1. read + parse every row (no database access), collecting every bad cell;
2. duplicate natural keys within the file (every row of a duplicate is reported);
3. checks against the database (regions, referenced households/cadres, pairing history),
   with batched IN queries;
4. unless a row failed (and --skip-invalid was not given): the writes, in chunks, plus the
   audit entry, committed together. Anything else leaves the database as it was.

Upserts use the natural keys 户编号, 干部编号, (干部, 户, 开始日期) and (户, 事项). A row whose
values equal the stored ones is 'unchanged' and not written, so updated_at only moves on
real changes. A column missing from an optional header leaves the stored value alone.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from tqdm import tqdm

from storage.enums import RegionLevel
from storage.idhash import get_id_hash_key, hash_normalized_id_number
from storage.importer.columns import CITY_ALIASES, JILIN_CITIES, SPECS, KindSpec
from storage.importer.parsing import (
    CadreRecord,
    HeaderMap,
    HouseholdRecord,
    MilestoneRecord,
    PairingRecord,
    Record,
    RowParser,
    find_header,
)
from storage.importer.readers import ImportFileError, read_table
from storage.models import Cadre, Household, Milestone, Pairing, Region, utcnow
from storage.repositories.audit import AuditRepository
from storage.repositories.cadence import CadenceRepository, CadenceRules
from storage.repositories.regions import PROVINCE_NAME, SEPARATOR, RegionRepository

T = TypeVar("T")

CHUNK = 500  # keys per IN query / rows per write statement
DEFAULT_MAX_ERRORS = 200


class ImportDatabaseError(Exception):
    """The write failed in the database (e.g. a concurrent change); nothing was imported."""


@dataclass(frozen=True)
class RowError:
    file: str
    row: int  # as a spreadsheet shows it: header = row 1
    column: str | None  # the header as written in the file
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.row}"
        return f"{where}: {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass
class ImportReport:
    kind: str
    file: str
    rows: int = 0  # data rows read (empty lines not counted)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # invalid rows left out with skip_invalid
    closed: int = 0  # pairings only: earlier open pairings closed by a new one
    invalid_rows: int = 0
    error_count: int = 0  # all errors found; `errors` holds at most max_errors of them
    errors: list[RowError] = field(default_factory=list)
    committed: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.closed)

    def counts(self) -> dict[str, int]:
        data = {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
        }
        if self.kind == "pairings":
            data["closed"] = self.closed
        return data

    def summary(self) -> str:
        text = (
            f"{self.kind} from {self.file}: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped} skipped"
        )
        if self.closed:
            text += f" ({self.closed} earlier pairings closed)"
        if self.dry_run:
            text += " (dry run: nothing written)"
        elif self.committed and not self.changed:
            text += " (nothing changed)"
        return text


class _Errors:
    def __init__(self, report: ImportReport, max_errors: int) -> None:
        self.report = report
        self.max_errors = max_errors
        self.bad_rows: set[int] = set()

    def add(self, row: int, column: str | None, reason: str) -> None:
        self.bad_rows.add(row)
        self.report.error_count += 1
        if len(self.report.errors) < self.max_errors:
            self.report.errors.append(RowError(self.report.file, row, column, reason))

    def valid(self, records: Iterable[T]) -> list[T]:
        return [r for r in records if r.row not in self.bad_rows]  # type: ignore[attr-defined]


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _progress(total: int | None, desc: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit=" rows", file=sys.stderr, disable=not enabled, leave=False)


@asynccontextmanager
async def _session_scope(target: AsyncSession | async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    if isinstance(target, AsyncSession):
        yield target
        return
    async with target() as session:
        yield session


# --------------------------------------------------------------------------- public API


async def import_file(
    target: AsyncSession | async_sessionmaker[AsyncSession],
    kind: str,
    path: str | Path,
    *,
    skip_invalid: bool = False,
    id_hash_key: str | None = None,
    dry_run: bool = False,
    progress: bool = False,
    actor: str = "cli",
    max_errors: int = DEFAULT_MAX_ERRORS,
    visit_rules: CadenceRules | None = None,
) -> ImportReport:
    """Import one registry file of `kind` (households, cadres, pairings, milestones).

    `target` is a session maker (a session is opened and closed here) or a session (the
    import commits or rolls it back). Raises ImportFileError for file-level problems
    (before touching the database) and ImportDatabaseError when the write fails; row
    problems are returned in the report (then nothing is written unless `skip_invalid`).
    `id_hash_key` is settings.id_hash_key (None: the key stored in app_meta, generated once).
    `visit_rules` is settings.rules.visits, used to compute the new pairings' next visit due
    (None: the rules the bot last applied, kept in app_meta; before any bot start the
    shipped defaults of bot/work/cadence.yaml).
    """
    spec = SPECS.get(kind)
    if spec is None:
        raise ValueError(f"unknown import kind {kind!r}: expected one of {', '.join(SPECS)}")
    name = Path(path).name
    report = ImportReport(kind=kind, file=name, dry_run=dry_run)
    errors = _Errors(report, max_errors)
    header, records, keys, fmt = _read_records(spec, path, report, errors, progress)
    _check_duplicates(header, keys, errors)

    importer_cls = _IMPORTERS[kind]
    async with _session_scope(target) as session:
        try:
            if visit_rules is None:
                visit_rules = await CadenceRepository(session).stored_rules() or _default_visit_rules()
            importer = importer_cls(session, errors, header, keys, id_hash_key=id_hash_key, progress=progress,
                                    visit_rules=visit_rules)
            await importer.validate(errors.valid(records))
            report.invalid_rows = len(errors.bad_rows)
            if report.error_count and not skip_invalid:
                await session.rollback()
                return report
            report.skipped = report.invalid_rows
            await importer.write(errors.valid(records), report)
            await AuditRepository(session).record(
                actor,
                f"import.{kind}",
                object_type="import",
                object_id=name[:64],
                details={"file": name, "format": fmt, **report.counts()},
            )
            if dry_run:
                await session.rollback()
            else:
                await session.commit()
                report.committed = True
        except IntegrityError:
            await session.rollback()
            raise ImportDatabaseError(
                "import failed: the database rejected a change (a concurrent edit?); "
                "nothing was imported: try again"
            ) from None
        except DBAPIError as exc:
            await session.rollback()
            raise ImportDatabaseError(
                f"import failed: database error ({type(exc.orig or exc).__name__}); nothing was imported"
            ) from None
        except BaseException:
            await session.rollback()
            raise
    return report


def _default_visit_rules() -> CadenceRules:
    from bot.work.rules import load_rules  # the shipped defaults (no bot start has stored rules yet)

    return load_rules().visits


def _read_records(
    spec: KindSpec, path: str | Path, report: ImportReport, errors: _Errors, progress: bool
) -> tuple[HeaderMap, list[Record], list[tuple[int, tuple[Any, ...]]], str]:
    """Parse every row: the valid records, plus (row, natural key) of every row whose key
    cells parsed (valid or not, for duplicate and reference checks)."""
    table = read_table(path)
    records: list[Record] = []
    keys: list[tuple[int, tuple[Any, ...]]] = []
    try:
        header = find_header(spec, table.rows, table.name)
        parser = RowParser(header)
        with _progress(table.row_estimate, f"reading {table.name}", progress) as bar:
            for number, cells in table.rows:
                report.rows += 1
                parsed = parser.parse(number, cells)
                if parsed.record is not None:
                    records.append(parsed.record)
                if all(parsed.values.get(k) for k in spec.natural_key):
                    keys.append((number, tuple(parsed.values[k] for k in spec.natural_key)))
                for column, reason in parsed.errors:
                    errors.add(number, column, reason)
                bar.update(1)
    finally:
        table.close()
    if report.rows == 0:
        raise ImportFileError(f"{table.name}: no data rows below the header")
    return header, records, keys, table.fmt


def _check_duplicates(header: HeaderMap, keys: list[tuple[int, tuple[Any, ...]]], errors: _Errors) -> None:
    """Every row of a natural key that occurs more than once in the file is an error."""
    natural_key = header.spec.natural_key
    rows_by_key: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for row, key in keys:
        rows_by_key[key].append(row)
    column = header.name(natural_key[0])
    for key, row_numbers in rows_by_key.items():
        if len(row_numbers) < 2:
            continue
        for row in row_numbers:
            others = ", ".join(str(o) for o in row_numbers if o != row)
            rows = f"row{'s' if len(row_numbers) > 2 else ''} {others}"
            if len(key) == 1:
                reason = f"duplicate {column} '{key[0]}' (also in {rows})"
            else:
                names = ", ".join(header.name(k) for k in natural_key)
                reason = f"duplicate row: the same {names} are also in {rows}"
            errors.add(row, column, reason)


# --------------------------------------------------------------------------- importers


class _Importer(ABC):
    """One kind's row checks against the database (validate) and its upserts (write)."""

    def __init__(
        self,
        session: AsyncSession,
        errors: _Errors,
        header: HeaderMap,
        keys: list[tuple[int, tuple[Any, ...]]],
        *,
        id_hash_key: str | None,
        progress: bool,
        visit_rules: CadenceRules,
    ) -> None:
        self.session = session
        self.visit_rules = visit_rules
        self.errors = errors
        self.header = header
        self.keys = keys  # (row, natural key) of every row whose key parsed
        self.col = header.name
        self.id_hash_key = id_hash_key
        self.progress = progress
        self.now = utcnow()

    @abstractmethod
    async def validate(self, records: list[Any]) -> None:
        """Record row errors that need the database (unknown references, loops)."""

    @abstractmethod
    async def write(self, records: list[Any], report: ImportReport) -> None:
        """Upsert the valid records, counting created / updated / unchanged."""

    def bar(self, total: int, desc: str) -> tqdm:
        return _progress(total, desc, self.progress)

    # ---- shared lookups

    async def _ids_by_code(self, column: Any, codes: Iterable[str]) -> dict[str, int]:
        """{natural key: id} for the keys that exist (batched IN queries)."""
        model = column.class_
        found: dict[str, int] = {}
        keys = sorted(set(codes))
        for chunk in _chunks(keys):
            rows = await self.session.execute(select(column, model.id).where(column.in_(chunk)))
            found.update({k: i for k, i in rows.all()})
        return found

    async def _insert(self, model: Any, rows: list[dict[str, Any]]) -> None:
        """A Core executemany INSERT: NULLs do not split the batch as ORM bulk inserts do."""
        if rows:
            await self.session.execute(insert(model.__table__), rows)

    async def _bulk_update(self, model: Any, rows: list[dict[str, Any]]) -> None:
        """Core executemany UPDATEs by primary key, one statement per set of changed columns."""
        table = model.__table__
        groups: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            groups[frozenset(row)].append(row)
        for keys, group in groups.items():
            columns = sorted(keys - {"id"})
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id", type_=table.c.id.type))
                .values({c: bindparam(f"b_{c}", type_=table.c[c].type) for c in columns})
            )
            for chunk in _chunks(group):
                await self.session.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in chunk])

    async def _check_cities(self, records: list[Any]) -> None:
        column_name = self.col("city")
        existing = set(
            (await self.session.scalars(select(Region.name).where(Region.level == RegionLevel.CITY))).all()
        )
        accepted = set(JILIN_CITIES) | existing
        for rec in records:
            city = CITY_ALIASES.get(rec.city, rec.city) if rec.city not in existing else rec.city
            if city in accepted:
                rec.city = city
            else:
                self.errors.add(
                    rec.row,
                    column_name,
                    f"unknown region '{rec.city}': 市州 must be a city or prefecture of Jilin "
                    f"({', '.join(JILIN_CITIES)}) or one already in the database",
                )

    async def _region_ids(self, chains: set[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
        """Region ids of the chains (names below the province), created when missing."""
        paths = {chain: SEPARATOR.join((PROVINCE_NAME, *chain)) for chain in chains}
        by_path: dict[str, int] = {}
        for chunk in _chunks(sorted(paths.values())):
            rows = await self.session.execute(select(Region.path, Region.id).where(Region.path.in_(chunk)))
            by_path.update({p: i for p, i in rows.all()})
        repo = RegionRepository(self.session)
        result: dict[tuple[str, ...], int] = {}
        for chain, path in sorted(paths.items()):
            if path not in by_path:
                region = await repo.ensure_chain(list(chain))
                by_path[path] = region.id
            result[chain] = by_path[path]
        return result


class _HouseholdImporter(_Importer):
    FIELDS = (
        "head_name", "phone", "members", "causes", "measure", "income_per_capita", "income_year",
        "status", "students", "disabled", "housing_grade", "dibao",
    )

    async def validate(self, records: list[HouseholdRecord]) -> None:
        await self._check_cities(records)

    async def write(self, records: list[HouseholdRecord], report: ImportReport) -> None:
        key = None
        if any(r.id_number for r in records):
            key = await get_id_hash_key(self.session, self.id_hash_key)
        regions = await self._region_ids({(r.city, r.county, r.township, r.village) for r in records})
        columns = [getattr(Household, f) for f in ("id", "reg_no", "village_id", "id_hash", "id_last4", *self.FIELDS)]
        with self.bar(len(records), "writing households") as bar:
            for chunk in _chunks(records):
                rows = await self.session.execute(
                    select(*columns).where(Household.reg_no.in_([r.reg_no for r in chunk]))
                )
                existing = {row.reg_no: row for row in rows.all()}
                inserts: list[dict[str, Any]] = []
                updates: list[dict[str, Any]] = []
                for rec in chunk:
                    values = self._values(rec, regions, key)
                    old = existing.get(rec.reg_no)
                    if old is None:
                        inserts.append(
                            {"id_hash": None, "id_last4": None, "phone": None, **values,
                             "reg_no": rec.reg_no, "created_at": self.now, "updated_at": self.now}
                        )
                        report.created += 1
                        continue
                    diff = {k: v for k, v in values.items() if getattr(old, k) != v}
                    if diff:
                        updates.append({"id": old.id, **diff, "updated_at": self.now})
                        report.updated += 1
                    else:
                        report.unchanged += 1
                await self._insert(Household, inserts)
                await self._bulk_update(Household, updates)
                bar.update(len(chunk))

    def _values(
        self, rec: HouseholdRecord, regions: dict[tuple[str, ...], int], key: bytes | None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            f: getattr(rec, f) for f in self.FIELDS if f in rec.present
        }
        values["village_id"] = regions[(rec.city, rec.county, rec.township, rec.village)]
        if "id_number" in rec.present:
            if rec.id_number:
                assert key is not None
                values["id_hash"] = hash_normalized_id_number(key, rec.id_number)  # parsed = normalized
                values["id_last4"] = rec.id_number[-4:]
            else:
                values["id_hash"] = values["id_last4"] = None
        return values


_NEW = object()  # a supervisor that is created by this import (id not known yet)


class _CadreImporter(_Importer):
    FIELDS = ("name", "unit", "post", "level", "phone")

    async def validate(self, records: list[CadreRecord]) -> None:
        await self._check_cities(records)
        await self._check_leader_villages(records)
        sup_col = self.col("supervisor_code")
        row_of_code = {key[0]: row for row, key in self.keys}
        in_db = await self._ids_by_code(Cadre.code, {r.supervisor_code for r in records if r.supervisor_code})
        self._check_references(records, row_of_code, in_db, sup_col)
        await self._check_cycles(self.errors.valid(records), sup_col)
        self._check_references(records, row_of_code, in_db, sup_col)  # rows pointing into a loop

    async def _check_leader_villages(self, records: list[CadreRecord]) -> None:
        """联系点 must name a 行政村 that exists (villages come with the households import)."""
        self.leader_villages: dict[tuple[str, ...], int] = {}
        wanted = {r.leader_village for r in records if r.leader_village}
        if not wanted:
            return
        cities = set(
            (await self.session.scalars(select(Region.name).where(Region.level == RegionLevel.CITY))).all()
        )

        def canonical(chain: tuple[str, ...]) -> tuple[str, ...]:
            city = chain[0] if chain[0] in cities else CITY_ALIASES.get(chain[0], chain[0])
            return (city, *chain[1:])

        paths = {chain: SEPARATOR.join((PROVINCE_NAME, *canonical(chain))) for chain in wanted}
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(set(paths.values()))):
            rows = await self.session.execute(
                select(Region.path, Region.id).where(Region.path.in_(chunk), Region.level == RegionLevel.VILLAGE)
            )
            found.update({p: i for p, i in rows.all()})
        column = self.col("leader_village")
        for rec in records:
            if not rec.leader_village:
                continue
            region_id = found.get(paths[rec.leader_village])
            if region_id is None:
                shown = SEPARATOR.join(rec.leader_village)
                self.errors.add(rec.row, column, f"unknown village '{shown}': no 行政村 with this path in the "
                                                 "database (import households first)")
            else:
                self.leader_villages[rec.leader_village] = region_id

    def _check_references(
        self, records: list[CadreRecord], row_of_code: dict[str, int], in_db: dict[str, int], sup_col: str
    ) -> None:
        """A supervisor must exist in the database or on a valid row of the file; a row that
        fails makes the rows pointing at it fail too (until nothing changes)."""
        changed = True
        while changed:
            changed = False
            for rec in records:
                sup = rec.supervisor_code
                if not sup or sup in in_db or rec.row in self.errors.bad_rows:
                    continue
                if sup not in row_of_code:
                    reason = f"unknown 上级编号 '{sup}': no cadre with this 干部编号 in the file or the database"
                elif row_of_code[sup] in self.errors.bad_rows:
                    reason = f"上级编号 '{sup}' refers to row {row_of_code[sup]}, which is invalid"
                else:
                    continue
                self.errors.add(rec.row, sup_col, reason)
                changed = True

    async def _check_cycles(self, records: list[CadreRecord], sup_col: str) -> None:
        """Reject supervisor chains that loop, following them into the database."""
        parent: dict[str, str | None] = {
            r.code: r.supervisor_code for r in records if "supervisor_code" in r.present
        }
        pending = {r.code for r in records if r.code not in parent}
        pending |= {p for p in parent.values() if p and p not in parent}
        sup = aliased(Cadre)
        while pending:
            batch = sorted(pending)
            pending = set()
            for chunk in _chunks(batch):
                rows = await self.session.execute(
                    select(Cadre.code, sup.code)
                    .outerjoin(sup, Cadre.supervisor_id == sup.id)
                    .where(Cadre.code.in_(chunk))
                )
                for code, sup_code in rows.all():
                    parent[code] = sup_code
            for code in batch:
                parent.setdefault(code, None)
                up = parent[code]
                if up and up not in parent:
                    pending.add(up)
        in_file = {r.code: r for r in records}
        done: set[str] = set()
        for rec in records:
            walk: list[str] = []
            on_walk: set[str] = set()
            node: str | None = rec.code
            while node is not None and node not in done and node not in on_walk:
                walk.append(node)
                on_walk.add(node)
                node = parent.get(node)
            if node is not None and node in on_walk:
                loop = walk[walk.index(node) :]
                for code in loop:
                    if code in in_file and "supervisor_code" in in_file[code].present:
                        self.errors.add(
                            in_file[code].row, sup_col,
                            "上级编号 makes a loop of supervisors: " + " → ".join([*loop, node]),
                        )
            done.update(walk)

    async def write(self, records: list[CadreRecord], report: ImportReport) -> None:
        regions = await self._region_ids({(r.city, r.county) for r in records})
        sup_ids = await self._ids_by_code(Cadre.code, {r.supervisor_code for r in records if r.supervisor_code})
        cols = [getattr(Cadre, f) for f in ("id", "code", "region_id", "supervisor_id", "leader_village_id",
                                            *self.FIELDS)]
        later: list[CadreRecord] = []  # supervisors created by this import: set them at the end
        with self.bar(len(records), "writing cadres") as bar:
            for chunk in _chunks(records):
                rows = await self.session.execute(select(*cols).where(Cadre.code.in_([r.code for r in chunk])))
                existing = {row.code: row for row in rows.all()}
                inserts: list[dict[str, Any]] = []
                updates: list[dict[str, Any]] = []
                for rec in chunk:
                    values: dict[str, Any] = {f: getattr(rec, f) for f in self.FIELDS}
                    values["region_id"] = regions[(rec.city, rec.county)]
                    if "leader_village" in rec.present:
                        village = rec.leader_village
                        values["leader_village_id"] = self.leader_villages[village] if village else None
                    wanted: Any = None
                    if rec.supervisor_code:
                        wanted = sup_ids.get(rec.supervisor_code, _NEW)
                    if wanted is _NEW:
                        later.append(rec)
                    old = existing.get(rec.code)
                    if old is None:
                        sup_id = None if wanted is _NEW else wanted
                        inserts.append({"leader_village_id": None, **values, "code": rec.code,
                                        "supervisor_id": sup_id, "created_at": self.now,
                                        "updated_at": self.now})
                        report.created += 1
                        continue
                    diff = {k: v for k, v in values.items() if getattr(old, k) != v}
                    if "supervisor_code" in rec.present and wanted is not _NEW and wanted != old.supervisor_id:
                        diff["supervisor_id"] = wanted
                    if diff:
                        updates.append({"id": old.id, **diff, "updated_at": self.now})
                    if diff or wanted is _NEW:
                        report.updated += 1
                    else:
                        report.unchanged += 1
                await self._insert(Cadre, inserts)
                await self._bulk_update(Cadre, updates)
                bar.update(len(chunk))
        if later:
            ids = await self._ids_by_code(Cadre.code, {r.code for r in later} | {r.supervisor_code for r in later})
            await self._bulk_update(
                Cadre,
                [{"id": ids[r.code], "supervisor_id": ids[r.supervisor_code], "updated_at": self.now}
                 for r in later if r.supervisor_code],
            )


@dataclass
class _PairingPlan:
    closings: dict[int, date] = field(default_factory=dict)  # existing pairing id → end_date
    inserts: list[dict[str, Any]] = field(default_factory=list)
    created: int = 0
    unchanged: int = 0


class _PairingImporter(_Importer):
    async def validate(self, records: list[PairingRecord]) -> None:
        self.plan = _PairingPlan()
        cadre_col, hh_col, date_col = self.col("cadre_code"), self.col("reg_no"), self.col("start_date")
        cadres = await self._ids_by_code(Cadre.code, {r.cadre_code for r in records})
        households = await self._ids_by_code(Household.reg_no, {r.reg_no for r in records})
        for rec in records:
            if rec.cadre_code not in cadres:
                self.errors.add(rec.row, cadre_col, f"unknown 干部编号 '{rec.cadre_code}': no such cadre in the database (import cadres first)")
            if rec.reg_no not in households:
                self.errors.add(rec.row, hh_col, f"unknown 户编号 '{rec.reg_no}': no such household in the database (import households first)")
        records = self.errors.valid(records)
        history: dict[int, list[Any]] = defaultdict(list)
        hh_ids = sorted({households[r.reg_no] for r in records})
        for chunk in _chunks(hh_ids):
            rows = await self.session.execute(
                select(Pairing.id, Pairing.cadre_id, Pairing.household_id, Pairing.start_date, Pairing.end_date)
                .where(Pairing.household_id.in_(chunk))
            )
            for row in rows.all():
                history[row.household_id].append(row)
        by_household: dict[int, list[PairingRecord]] = defaultdict(list)
        for rec in records:
            by_household[households[rec.reg_no]].append(rec)
        for hh_id, recs in by_household.items():
            self._plan_household(hh_id, sorted(recs, key=lambda r: (r.start_date, r.row)),
                                 history[hh_id], cadres, date_col)

    def _plan_household(
        self, hh_id: int, recs: list[PairingRecord], existing: list[Any],
        cadres: dict[str, int], date_col: str,
    ) -> None:
        keys = {(p.cadre_id, p.start_date) for p in existing}
        latest_start = max((p.start_date for p in existing), default=None)
        latest_end = max((p.end_date for p in existing if p.end_date), default=None)
        open_existing = next((p for p in existing if p.end_date is None), None)
        open_cadre = open_existing.cadre_id if open_existing else None
        open_new: dict[str, Any] | None = None
        for rec in recs:
            cadre_id = cadres[rec.cadre_code]
            if (cadre_id, rec.start_date) in keys:
                self.plan.unchanged += 1
                continue
            if open_cadre == cadre_id:  # already paired with this cadre: nothing to do
                self.plan.unchanged += 1
                continue
            if latest_start is not None and rec.start_date <= latest_start:
                self.errors.add(
                    rec.row, date_col,
                    f"must be after the start of the household's latest pairing ({latest_start.isoformat()}): "
                    "earlier pairings are history and cannot be inserted",
                )
                continue
            if latest_end is not None and rec.start_date < latest_end:
                self.errors.add(
                    rec.row, date_col,
                    f"overlaps the household's previous pairing, which ended {latest_end.isoformat()}",
                )
                continue
            if open_new is not None:
                open_new["end_date"] = rec.start_date
            elif open_existing is not None:
                self.plan.closings[open_existing.id] = rec.start_date
                open_existing = None
            open_new = {"cadre_id": cadre_id, "household_id": hh_id, "start_date": rec.start_date,
                        "end_date": None, "created_at": self.now}
            self.plan.inserts.append(open_new)
            self.plan.created += 1
            keys.add((cadre_id, rec.start_date))
            latest_start = rec.start_date
            open_cadre = cadre_id

    async def write(self, records: list[PairingRecord], report: ImportReport) -> None:
        plan = self.plan
        # A closed pairing keeps its last visit but no longer has a next visit due.
        closings = [{"id": pid, "end_date": end, "next_visit_due": None} for pid, end in plan.closings.items()]
        with self.bar(len(closings) + len(plan.inserts), "writing pairings") as bar:
            await self._bulk_update(Pairing, closings)  # close first: one open pairing per household
            bar.update(len(closings))
            for chunk in _chunks(plan.inserts):
                await self._insert(Pairing, list(chunk))
                bar.update(len(chunk))
        # The new open pairings' last visit and next visit due (bot/work/cadence.py rules).
        await CadenceRepository(self.session).refresh(
            self.visit_rules, household_ids={p["household_id"] for p in plan.inserts if p["end_date"] is None}
        )
        report.created += plan.created
        report.unchanged += plan.unchanged
        report.closed += len(closings)


class _MilestoneImporter(_Importer):
    async def validate(self, records: list[MilestoneRecord]) -> None:
        hh_col = self.col("reg_no")
        self.households = await self._ids_by_code(Household.reg_no, {r.reg_no for r in records})
        for rec in records:
            if rec.reg_no not in self.households:
                self.errors.add(rec.row, hh_col, f"unknown 户编号 '{rec.reg_no}': no such household in the database (import households first)")

    async def write(self, records: list[MilestoneRecord], report: ImportReport) -> None:
        cols = (Milestone.id, Milestone.household_id, Milestone.title, Milestone.category,
                Milestone.due_date, Milestone.completed_at)
        with self.bar(len(records), "writing milestones") as bar:
            for chunk in _chunks(records):
                hh_ids = sorted({self.households[r.reg_no] for r in chunk})
                titles = sorted({r.title for r in chunk})
                rows = await self.session.execute(
                    select(*cols).where(Milestone.household_id.in_(hh_ids), Milestone.title.in_(titles))
                )
                existing = {(row.household_id, row.title): row for row in rows.all()}
                inserts: list[dict[str, Any]] = []
                updates: list[dict[str, Any]] = []
                for rec in chunk:
                    hh_id = self.households[rec.reg_no]
                    old = existing.get((hh_id, rec.title))
                    if old is None:
                        inserts.append({
                            "household_id": hh_id, "title": rec.title, "category": rec.category,
                            "due_date": rec.due_date, "completed_at": self.now if rec.done else None,
                            "evidence_text": None, "evidence_photo_file_id": None,
                            "created_at": self.now, "updated_at": self.now,
                        })
                        report.created += 1
                        continue
                    diff: dict[str, Any] = {}
                    if old.category != rec.category:
                        diff["category"] = rec.category
                    if old.due_date != rec.due_date:
                        diff["due_date"] = rec.due_date
                    if rec.done and old.completed_at is None:
                        diff["completed_at"] = self.now
                    elif not rec.done and old.completed_at is not None:
                        diff["completed_at"] = None
                    if diff:
                        updates.append({"id": old.id, **diff, "updated_at": self.now})
                        report.updated += 1
                    else:
                        report.unchanged += 1
                await self._insert(Milestone, inserts)
                await self._bulk_update(Milestone, updates)
                bar.update(len(chunk))


_IMPORTERS: dict[str, type[_Importer]] = {
    "households": _HouseholdImporter,
    "cadres": _CadreImporter,
    "pairings": _PairingImporter,
    "milestones": _MilestoneImporter,
}

__all__ = ["ImportDatabaseError", "ImportFileError", "ImportReport", "RowError", "import_file"]
