"""Benchmark: the visit-cadence SQL over many pairings (issue #4 part 5).

    python benchmarks/cadence.py [--pairings 200000] [--database-url URL] [--explain]

Loads synthetic, fictional data into a fresh migrated database (a temporary SQLite file by
default; a `--database-url` must point at a migrated database with no households, e.g. a
throwaway PostgreSQL database, and is left filled): 10 counties × 10 townships × 10
villages, one cadre per 25 households, one open pairing per household (plus a closed one
for every tenth), about two visits per household. Then times, with the default rules:

- `refresh_pairings` over every open pairing (one UPDATE), twice;
- `refresh_pairings` for one household (what saving a visit does), averaged;
- the start-up check with unchanged rules (`ensure_rules_applied`: only pairings without a
  due date);
- `count_overdue` and the first page of `due_pairings` for one cadre, a county, a township
  and everything.

`--explain` prints the query plans of the per-cadre and per-county queries.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.work.cadence import ensure_rules_applied, refresh_pairings
from bot.work.rules import VisitRules
from storage.db import create_engine, create_sessionmaker
from storage.enums import CadreLevel, VisitKind
from storage.migrate import upgrade_async
from storage.models import Cadre, Household, Pairing, Visit, utcnow
from storage.repositories.cadence import CadenceRepository
from storage.repositories.regions import RegionRepository

CHUNK = 10_000
PER_CADRE = 25
TODAY = date(2026, 11, 29)
RULES = VisitRules()


def async_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


async def load(sessionmaker: async_sessionmaker[AsyncSession], pairings: int, seed: int) -> None:
    rng = random.Random(seed)
    now = utcnow()
    async with sessionmaker() as s:
        if await s.scalar(select(func.count()).select_from(Household)):
            raise SystemExit("the database already has households: give an empty, migrated database")
        regions = RegionRepository(s)
        villages: list[int] = []
        counties: list[int] = []
        for c in range(10):
            county = await regions.ensure_chain(["基准市", f"基准县{c}"])
            counties.append(county.id)
            for t in range(10):
                for v in range(10):
                    villages.append((await regions.ensure_chain(["基准市", f"基准县{c}", f"基准镇{t}", f"基准村{v}"])).id)
        cadre_count = max(1, pairings // PER_CADRE)
        rows = [{"code": f"BC{i:07d}", "name": f"测试干部{i}", "unit": "", "post": "", "level": CadreLevel.VILLAGE,
                 "region_id": counties[min(i * PER_CADRE * len(villages) // pairings, len(villages) - 1) // 100],
                 "created_at": now, "updated_at": now} for i in range(cadre_count)]
        for start in range(0, len(rows), CHUNK):
            await s.execute(insert(Cadre), rows[start : start + CHUNK])
        first_cadre = await s.scalar(select(func.min(Cadre.id)))
        first_hh = None
        for start in range(0, pairings, CHUNK):
            end = min(start + CHUNK, pairings)
            await s.execute(insert(Household), [
                {"reg_no": f"BH{i:09d}", "head_name": f"测试户{i}",
                 "village_id": villages[(i * len(villages)) // pairings], "members": 1 + i % 5,
                 "created_at": now, "updated_at": now}
                for i in range(start, end)
            ])
            if first_hh is None:
                first_hh = await s.scalar(select(func.min(Household.id)))
            pairing_rows, visit_rows = [], []
            for i in range(start, end):
                hh, cadre = first_hh + i, first_cadre + min(i // PER_CADRE, cadre_count - 1)
                begin = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 680))
                if i % 10 == 0:
                    other = first_cadre + rng.randrange(cadre_count)
                    pairing_rows.append({"cadre_id": other, "household_id": hh, "start_date": begin - timedelta(days=300),
                                         "end_date": begin, "created_at": now})
                pairing_rows.append({"cadre_id": cadre, "household_id": hh, "start_date": begin, "end_date": None,
                                     "created_at": now})
                for _ in range(rng.choice((0, 1, 2, 2, 3, 4))):
                    day = begin + timedelta(days=rng.randrange(0, max(1, (TODAY - begin).days)))
                    visit_rows.append({"cadre_id": cadre, "household_id": hh, "visited_on": day,
                                       "kind": VisitKind.HOME, "notes": "", "created_at": now})
            await s.execute(insert(Pairing), pairing_rows)
            if visit_rows:
                await s.execute(insert(Visit), visit_rows)
            print(f"  loaded {end:,} households", end="\r", file=sys.stderr)
        await s.commit()
        await s.execute(text("ANALYZE"))
        await s.commit()
    print(file=sys.stderr)


async def timed(label: str, make, repeat: int = 1) -> object:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = await make()
        times.append(time.perf_counter() - start)
    figure = statistics.median(times) * 1000
    shown = f"{result:,}" if isinstance(result, int) else (f"{len(result)} rows" if isinstance(result, list) else "")
    print(f"{label:<58} {figure:>10.1f} ms  {shown}" + (f"  (median of {repeat})" if repeat > 1 else ""))
    return result


async def explain(sessionmaker, cadre_id: int, county: str, township: str) -> None:
    async with sessionmaker() as s:
        dialect = s.get_bind().dialect
        repo = CadenceRepository(s)
        for label, cadre, region in (("one cadre", cadre_id, None), ("a county", None, county),
                                     ("a township", None, township)):
            stmt = (
                repo._scoped(select(Pairing.id, Pairing.next_visit_due), cadre, region)
                .where(Pairing.next_visit_due <= TODAY)
                .order_by(Pairing.next_visit_due, Pairing.id)
                .limit(20)
            )
            sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
            plan = (await s.execute(text(prefix + sql))).all()
            print(f"\nplan of due_pairings ({label}):")
            for row in plan:
                print("   ", row[-1])


async def main(pairings: int, database_url: str | None, seed: int, show_plans: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = async_url(database_url) if database_url else f"sqlite+aiosqlite:///{Path(tmp) / 'cadence.db'}"
        await upgrade_async(url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        try:
            print(f"loading {pairings:,} open pairings into {engine.dialect.name} ...", file=sys.stderr)
            start = time.perf_counter()
            await load(sessionmaker, pairings, seed)
            print(f"load: {time.perf_counter() - start:.1f} s (not part of the figures)", file=sys.stderr)
            async with sessionmaker() as s:
                cadre_id = await s.scalar(select(func.min(Cadre.id)))
                some = list((await s.scalars(select(Household.id).order_by(Household.id).limit(100))).all())
            county, township = "吉林省/基准市/基准县3", "吉林省/基准市/基准县3/基准镇4"
            print(f"\n{engine.dialect.name}, {pairings:,} open pairings "
                  f"(+{(pairings + 9) // 10:,} closed), {PER_CADRE} per cadre; today = {TODAY}\n")

            async def refresh_all() -> int:
                async with sessionmaker() as s:
                    n = await refresh_pairings(s, RULES)
                    await s.commit()
                    return n

            await timed("refresh_pairings(all open pairings), first", refresh_all)
            await timed("refresh_pairings(all open pairings), again", refresh_all)
            ids = iter(some * 3)

            async def refresh_one() -> int:
                async with sessionmaker() as s:
                    n = await refresh_pairings(s, RULES, household_ids=[next(ids)])
                    await s.commit()
                    return n

            await timed("refresh_pairings(one household)", refresh_one, repeat=50)

            async with sessionmaker() as s:
                await ensure_rules_applied(s, RULES)  # stores the rules (as the first bot start)
                await s.execute(text("ANALYZE"))  # fresh statistics of the due dates, as autovacuum would
                await s.commit()

            async def start_check() -> int:
                async with sessionmaker() as s:
                    return await ensure_rules_applied(s, RULES)

            await timed("ensure_rules_applied, rules unchanged (each start)", start_check, repeat=5)

            async def query(kind: str, cadre: int | None, region: str | None):
                async with sessionmaker() as s:
                    repo = CadenceRepository(s)
                    if kind == "count":
                        return await repo.count_overdue(cadre, TODAY, region_path=region)
                    return await repo.due_pairings(cadre, TODAY + timedelta(days=7), region_path=region, limit=20)

            for label, cadre, region in (("one cadre", cadre_id, None), ("a county", None, county),
                                         ("a township", None, township), ("all", None, None)):
                await timed(f"count_overdue ({label})", lambda c=cadre, r=region: query("count", c, r), repeat=5)
                await timed(f"due_pairings first page of 20 ({label})",
                            lambda c=cadre, r=region: query("page", c, r), repeat=5)
            if show_plans:
                await explain(sessionmaker, cadre_id, county, township)
        finally:
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairings", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.pairings, args.database_url, args.seed, args.explain))
