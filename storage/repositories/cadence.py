"""Visit cadence in SQL: recomputing `Pairing.last_visit_on` / `next_visit_due` with one
set-based UPDATE, and the "who is due / overdue" queries over the indexed due date.

The rule itself (documented in bot/work/cadence.py) is: last_visit_on = the latest visit by
the paired cadre to the household on or after the pairing's start_date; next_visit_due =
last_visit_on + every_days, or start_date + first_contact_days before the first visit.
Only open pairings (end_date IS NULL) carry a due date; the importer clears it when it
closes a pairing, so `ix_pairings_cadre_due` holds no stale dates of ended pairings.

Date arithmetic differs per dialect (PostgreSQL `date + integer`, SQLite
`date(col, '+N days')`): `add_days` compiles to each, with identical results.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar, Protocol

from sqlalchemy import Date, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from storage.models import AppMeta, Cadre, Household, Pairing, Visit
from storage.repositories.regions import PROVINCE_NAME, subtree_ids

CHUNK = 500  # household ids per UPDATE when a list is given
RULES_META_KEY = "cadence_rules"  # app_meta: the rules the stored columns were computed with
# Bump when the computation itself changes, so that the next start recomputes every pairing.
ALGORITHM_VERSION = 1


class CadenceRules(Protocol):
    """What the SQL needs of the visit rules (bot.work.rules.VisitRules fits)."""

    every_days: int
    first_contact_days: int


@dataclass(frozen=True, slots=True)
class StoredRules:
    every_days: int
    first_contact_days: int


def rules_record(rules: CadenceRules) -> str:
    """The canonical text kept in app_meta for the rules the columns depend on (the leader
    rule and backdating do not change them)."""
    return json.dumps(
        {"v": ALGORITHM_VERSION, "every_days": int(rules.every_days),
         "first_contact_days": int(rules.first_contact_days)},
        sort_keys=True,
    )


class add_days(FunctionElement[date]):  # lower case: reads like the SQL function it renders
    """`expr + days` as a date, on PostgreSQL and SQLite (days is a Python int, inlined)."""

    type = Date()
    inherit_cache = True
    name = "add_days"
    # the days are rendered into the SQL, so they are part of the statement cache key
    _traverse_internals: ClassVar[list[tuple[str, InternalTraversal]]] = [
        *FunctionElement._traverse_internals, ("days", InternalTraversal.dp_plain_obj)
    ]

    def __init__(self, expr: Any, days: int) -> None:
        self.days = int(days)
        super().__init__(expr)


@compiles(add_days)
def _add_days_default(element: add_days, compiler: Any, **kw: Any) -> str:
    # PostgreSQL (and the SQL standard family): date + integer is a date.
    return f"({compiler.process(element.clauses, **kw)} + {element.days:d})"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element: add_days, compiler: Any, **kw: Any) -> str:
    # SQLite keeps dates as 'YYYY-MM-DD' text; date() returns the same form.
    return f"date({compiler.process(element.clauses, **kw)}, '{element.days:+d} days')"


@dataclass(frozen=True, slots=True)
class DuePairing:
    """An open pairing whose next visit falls due, with what a list line needs."""

    pairing_id: int
    cadre_id: int
    household_id: int
    reg_no: str
    head_name: str
    village_id: int
    start_date: date
    last_visit_on: date | None
    next_visit_due: date


def last_visit_subquery() -> Any:
    """max(visited_on) of the paired cadre's visits to the household since the pairing's
    start (correlated to the outer `pairings` row; uses ix_visits_household_date)."""
    return (
        select(func.max(Visit.visited_on))
        .where(
            Visit.household_id == Pairing.household_id,
            Visit.cadre_id == Pairing.cadre_id,
            Visit.visited_on >= Pairing.start_date,
        )
        .correlate(Pairing)
        .scalar_subquery()
    )


class CadenceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def refresh(
        self,
        rules: CadenceRules,
        *,
        household_ids: Collection[int] | None = None,
        only_missing: bool = False,
    ) -> int:
        """Recompute both cadence columns of the open pairings (all, those of
        `household_ids`, or with `only_missing` those without a due date yet) in the
        caller's transaction; returns the number of rows updated. Pending ORM changes are
        flushed first (a visit just added counts), and Pairing objects already loaded in
        the session get the new values."""
        await self.session.flush()
        last = last_visit_subquery()
        stmt = (
            update(Pairing)
            .where(Pairing.end_date.is_(None))
            .values(
                last_visit_on=last,
                next_visit_due=func.coalesce(
                    add_days(last_visit_subquery(), rules.every_days),
                    add_days(Pairing.start_date, rules.first_contact_days),
                ),
            )
            .execution_options(synchronize_session=False)
        )
        if only_missing:
            stmt = stmt.where(Pairing.next_visit_due.is_(None))
        total = 0
        if household_ids is None:
            total = (await self.session.execute(stmt)).rowcount or 0
        else:
            ids = sorted({int(i) for i in household_ids})
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                total += (await self.session.execute(stmt.where(Pairing.household_id.in_(chunk)))).rowcount or 0
        await self._reload_loaded_pairings()
        return total

    async def _reload_loaded_pairings(self) -> None:
        """Give the Pairing objects already loaded in this session the new column values (a
        bulk UPDATE does not touch them; expiring them would make the next attribute access
        lazy-load, which an async session forbids)."""
        loaded = {obj.id: obj for obj in self.session.identity_map.values() if isinstance(obj, Pairing)}
        ids = sorted(loaded)
        for start in range(0, len(ids), CHUNK):
            rows = await self.session.execute(
                select(Pairing.id, Pairing.last_visit_on, Pairing.next_visit_due).where(
                    Pairing.id.in_(ids[start : start + CHUNK])
                )
            )
            for pairing_id, last_visit_on, due in rows.all():
                set_committed_value(loaded[pairing_id], "last_visit_on", last_visit_on)
                set_committed_value(loaded[pairing_id], "next_visit_due", due)

    async def stored_rules(self) -> StoredRules | None:
        """The rules the last bot start applied (app_meta), None before the first start."""
        row = await self.session.get(AppMeta, RULES_META_KEY)
        if row is None:
            return None
        try:
            data = json.loads(row.value)
            return StoredRules(int(data["every_days"]), int(data["first_contact_days"]))
        except (ValueError, KeyError, TypeError):
            return None

    def _scoped(self, stmt: Any, cadre_id: int | None, region_path: str | None) -> Any:
        """Restrict `stmt` (over pairings) to the open pairings of a cadre and/or of the
        households in a region subtree. The region goes through a join on households (not
        an IN over household ids): PostgreSQL then picks a good plan for a township as well
        as for the whole province (see benchmarks/cadence.py)."""
        stmt = stmt.where(Pairing.end_date.is_(None))
        if cadre_id is not None:
            stmt = stmt.where(Pairing.cadre_id == cadre_id)
        if region_path is not None and region_path != PROVINCE_NAME:  # the province: everything
            stmt = stmt.join(Household, Household.id == Pairing.household_id).where(
                Household.village_id.in_(subtree_ids(region_path))
            )
        return stmt

    async def due_pairings(
        self,
        cadre_id: int | None,
        until: date,
        *,
        region_path: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[DuePairing]:
        """Open pairings with next_visit_due <= until (overdue ones included), earliest
        first: of one cadre (ix_pairings_cadre_due), of a region subtree, or of all
        (ix_pairings_open_due); both filters may be combined."""
        stmt = select(
            Pairing.id, Pairing.cadre_id, Pairing.household_id, Household.reg_no,
            Household.head_name, Household.village_id, Pairing.start_date,
            Pairing.last_visit_on, Pairing.next_visit_due,
        ).select_from(Pairing)
        if region_path is None or region_path == PROVINCE_NAME:
            stmt = stmt.join(Household, Household.id == Pairing.household_id)
        stmt = (
            self._scoped(stmt, cadre_id, region_path)
            .where(Pairing.next_visit_due <= until)
            .order_by(Pairing.next_visit_due, Pairing.id)
            .limit(limit)
            .offset(offset)
        )
        rows = (await self.session.execute(stmt)).all()
        return [DuePairing(*row) for row in rows]

    async def count_due(self, cadre_id: int | None, until: date, *, region_path: str | None = None) -> int:
        """How many open pairings are due on or before `until`."""
        stmt = self._scoped(select(func.count()).select_from(Pairing), cadre_id, region_path).where(
            Pairing.next_visit_due <= until
        )
        return int(await self.session.scalar(stmt) or 0)

    async def count_overdue(self, cadre_id: int | None, today: date, *, region_path: str | None = None) -> int:
        """Open pairings whose next visit was due before `today` (a visit on the due day
        itself is in time), of a cadre, a region subtree, or all."""
        stmt = self._scoped(select(func.count()).select_from(Pairing), cadre_id, region_path).where(
            Pairing.next_visit_due < today
        )
        return int(await self.session.scalar(stmt) or 0)

    async def leader_visit_days(self, cadre_id: int, village_id: int, first: date, last: date) -> list[date]:
        """The distinct days in [first, last] on which the cadre logged a visit to a
        household of the village (at most one row per day)."""
        stmt = (
            select(Visit.visited_on)
            .join(Household, Household.id == Visit.household_id)
            .where(
                Visit.cadre_id == cadre_id,
                Household.village_id == village_id,
                Visit.visited_on >= first,
                Visit.visited_on <= last,
            )
            .distinct()
            .order_by(Visit.visited_on)
        )
        return list((await self.session.scalars(stmt)).all())

    async def leaders_visit_days(self, first: date, last: date) -> dict[int, tuple[int, list[date]]]:
        """Every cadre with an assigned village (联系点): {cadre_id: (village_id, the distinct
        days in [first, last] on which they logged a visit there)}. One query; unit leaders
        are a few per county, so this reads a small set whatever the registry's size."""
        leaders = await self.session.execute(
            select(Cadre.id, Cadre.leader_village_id).where(Cadre.leader_village_id.is_not(None))
        )
        found: dict[int, tuple[int, list[date]]] = {cadre_id: (village_id, []) for cadre_id, village_id in leaders}
        if not found:
            return found
        days = (
            select(Visit.cadre_id, Visit.visited_on)
            .join(Cadre, Cadre.id == Visit.cadre_id)
            .join(Household, Household.id == Visit.household_id)
            .where(
                Cadre.leader_village_id.is_not(None),
                Household.village_id == Cadre.leader_village_id,
                Visit.visited_on >= first,
                Visit.visited_on <= last,
            )
            .distinct()
            .order_by(Visit.cadre_id, Visit.visited_on)
        )
        for cadre_id, day in (await self.session.execute(days)).all():
            found[cadre_id][1].append(day)
        return found

