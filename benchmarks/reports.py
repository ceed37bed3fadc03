"""Benchmark: the admin report's figures over a million households (issue #6 part 4).

    python benchmarks/reports.py [--households 1000000] [--database-url URL] [--keep] [--explain]

Creates a throwaway PostgreSQL database (`--database-url`, default
postgresql+asyncpg://postgres@127.0.0.1:5432/bench_reports; it must not exist, and is
dropped at the end unless `--keep`), migrates it and fills it with synthetic, fictional
data with set-based `INSERT ... SELECT generate_series` statements:

- the tree: 9 市州, 60 县, 900 乡镇 (15 per county), 9,000 villages (10 per township);
- 36,000 cadres (4 per village; every 10th attached to its township, every 50th to its
  county), 80% of them bound;
- households spread evenly over the villages, in every status; one open pairing each
  (about a quarter overdue); 3 visits this year (5% flagged, a third rated) and one last
  year for every other household; 1.5 milestones per household (a third done, due dates
  from January 2026 to May 2027); 30% of the households bound (2% of those inactive).

It loads N/10 households first and measures, then the rest and measures again: for the
province, one 市州 and one county, the first `build_report` and the best of 3 (each in a
new session), and the peak of Python memory (tracemalloc) during one `build_report` of the
province. Prints a markdown table and the ratios (province / county time; peak memory at N
/ at N/10). `--explain` prints EXPLAIN ANALYZE of each report query for the province at N.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.reports.figures import Report, build_report, period_start_of
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade_async
from storage.repositories.regions import normalize_path
from storage.repositories.reports import ReportRepository

TODAY = date(2026, 11, 29)
CITIES, COUNTIES, TOWNSHIPS, VILLAGES = 9, 60, 900, 9_000
CADRES = 4 * VILLAGES  # household g is paired with cadre 1 + g % CADRES, in village g % VILLAGES
# explicit ids: province 1, cities 2.., counties, townships, villages follow
CITY0, COUNTY0, TOWNSHIP0, VILLAGE0 = 1, 1 + CITIES, 1 + CITIES + COUNTIES, 1 + CITIES + COUNTIES + TOWNSHIPS
CITY_PATH = "吉林省/基准市1"
COUNTY_PATH = "吉林省/基准市1/基准县1"


def async_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


def swap_db(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"


async def admin_exec(url: str, *statements: str) -> None:
    engine = create_async_engine(swap_db(url, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for sql in statements:
                await conn.execute(text(sql))
    finally:
        await engine.dispose()


TREE_SQL = [
    "INSERT INTO regions (id, parent_id, level, name, path) VALUES (1, NULL, 'province', '吉林省', '吉林省')",
    f"""INSERT INTO regions (id, parent_id, level, name, path)
        SELECT {CITY0} + i, 1, 'city', '基准市' || i, '吉林省/基准市' || i FROM generate_series(1, {CITIES}) i""",
    f"""INSERT INTO regions (id, parent_id, level, name, path)
        SELECT {COUNTY0} + j, p.id, 'county', '基准县' || j, p.path || '/基准县' || j
        FROM generate_series(1, {COUNTIES}) j JOIN regions p ON p.id = {CITY0} + 1 + (j - 1) % {CITIES}""",
    f"""INSERT INTO regions (id, parent_id, level, name, path)
        SELECT {TOWNSHIP0} + t, p.id, 'township', '基准镇' || t, p.path || '/基准镇' || t
        FROM generate_series(1, {TOWNSHIPS}) t
        JOIN regions p ON p.id = {COUNTY0} + 1 + (t - 1) / {TOWNSHIPS // COUNTIES}""",
    f"""INSERT INTO regions (id, parent_id, level, name, path)
        SELECT {VILLAGE0} + v, p.id, 'village', '基准村' || v, p.path || '/基准村' || v
        FROM generate_series(1, {VILLAGES}) v
        JOIN regions p ON p.id = {TOWNSHIP0} + 1 + (v - 1) / {VILLAGES // TOWNSHIPS}""",
    # cadre c (1-based) lives in village index (c - 1) % VILLAGES, like its households
    f"""INSERT INTO cadres (id, code, name, unit, post, level, region_id, created_at, updated_at)
        SELECT c, 'BC' || lpad(c::text, 7, '0'), '干部' || c, '', '',
               CASE WHEN c % 50 = 0 THEN 'county' WHEN c % 10 = 0 THEN 'township' ELSE 'village' END,
               CASE WHEN c % 50 = 0 THEN {COUNTY0} + 1 + ((c - 1) % {VILLAGES}) / {VILLAGES // COUNTIES}
                    WHEN c % 10 = 0 THEN {TOWNSHIP0} + 1 + ((c - 1) % {VILLAGES}) / {VILLAGES // TOWNSHIPS}
                    ELSE {VILLAGE0} + 1 + (c - 1) % {VILLAGES} END,
               now(), now()
        FROM generate_series(1, {CADRES}) c""",
    f"""INSERT INTO accounts (telegram_user_id, chat_id, role, cadre_id, is_active, bind_failures,
                              created_at, last_seen_at)
        SELECT 2000000000 + c, 2000000000 + c, 'cadre', c, true, 0, now(), now()
        FROM generate_series(1, {CADRES}) c WHERE c % 5 <> 0""",
]


def households_sql(lo: int, hi: int) -> list[str]:
    """Households lo..hi (ids = g) and everything hanging off them."""
    series = f"generate_series({lo}, {hi}) g"
    return [
        f"""INSERT INTO households (id, reg_no, head_name, village_id, members, causes, status, students,
                                   disabled, dibao, created_at, updated_at)
            SELECT g, 'B' || lpad(g::text, 9, '0'), '户主' || g, {VILLAGE0} + 1 + g % {VILLAGES},
                   1 + g % 5, 1 << (g % 11),
                   CASE WHEN g / {VILLAGES} % 10 < 6 THEN 'not_lifted' WHEN g / {VILLAGES} % 10 < 9 THEN 'lifted'
                        ELSE 'returned' END,
                   g % 3, CASE WHEN g % 17 = 0 THEN 1 ELSE 0 END, g % 7 = 0, now(), now()
            FROM {series}""",
        f"""INSERT INTO pairings (id, cadre_id, household_id, start_date, end_date, created_at,
                                 last_visit_on, next_visit_due)
            SELECT g, 1 + g % {CADRES}, g, DATE '2026-01-15', NULL, now(),
                   DATE '{TODAY}' - 30 - g % 60, DATE '{TODAY}' + ((g / {VILLAGES} * 7 + g) % 100) - 25
            FROM {series}""",
        f"""INSERT INTO visits (cadre_id, household_id, visited_on, kind, notes, confirmation, rating,
                               flagged, created_at)
            SELECT 1 + g % {CADRES}, g,
                   CASE WHEN k = 3 THEN DATE '2025-01-01' + (g * 31) % 365
                        ELSE DATE '2026-01-01' + (g * 13 + k * 101) % 332 END,
                   'home', '', CASE WHEN (g / {VILLAGES} + k) % 20 = 0 THEN 'denied' ELSE 'confirmed' END,
                   CASE WHEN (g / {VILLAGES} + k) % 3 = 0 THEN 1 + (g * 7 + k) % 5 END,
                   (g / {VILLAGES} + k) % 20 = 0, now()
            FROM {series} CROSS JOIN generate_series(0, 3) k
            WHERE k < 3 OR g / {VILLAGES} % 2 = 0""",
        f"""INSERT INTO milestones (household_id, category, title, due_date, completed_at, created_by,
                                   created_at, updated_at)
            SELECT g, 'housing', '事项' || k, DATE '2026-01-01' + (g * 17 + k * 53) % 500,
                   CASE WHEN (g / {VILLAGES} + k) % 3 = 0 THEN now() END, 'import', now(), now()
            FROM {series} CROSS JOIN generate_series(0, 1) k
            WHERE k = 0 OR g / {VILLAGES} % 2 = 0""",
        f"""INSERT INTO accounts (telegram_user_id, chat_id, role, household_id, is_active, bind_failures,
                                 created_at, last_seen_at)
            SELECT 1000000000 + g, 1000000000 + g, 'household', g, g / {VILLAGES} % 50 <> 1, 0, now(), now()
            FROM {series} WHERE (g / {VILLAGES} + g) % 10 < 3""",
    ]


def fix_sequences_sql() -> list[str]:
    return [
        f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"
        for t in ("regions", "cadres", "households", "pairings")
    ]


async def run_sql(engine: AsyncEngine, statements: list[str]) -> None:
    async with engine.begin() as conn:
        for sql in statements:
            await conn.execute(text(sql))


async def vacuum_analyze(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


async def timed_report(sm: async_sessionmaker[AsyncSession], path: str) -> tuple[float, Report]:
    async with sm() as s:
        t0 = time.perf_counter()
        report = await build_report(s, path, TODAY)
        return time.perf_counter() - t0, report


async def measure(sm: async_sessionmaker[AsyncSession], path: str) -> tuple[float, float, Report]:
    """(first run, best of the next 3, the report)."""
    first, report = await timed_report(sm, path)
    best = min([(await timed_report(sm, path))[0] for _ in range(3)])
    return first, best, report


async def peak_memory(sm: async_sessionmaker[AsyncSession], path: str) -> int:
    async with sm() as s:
        await s.connection()  # the connection is not what we measure
        gc.collect()
        tracemalloc.start()
        try:
            await build_report(s, path, TODAY)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


async def explain(sm: async_sessionmaker[AsyncSession], path: str) -> None:
    path = normalize_path(path)
    async with sm() as s:
        repo = ReportRepository(s)
        statements = {
            "households": repo._households_stmt(path),
            "pairings": repo._pairings_stmt(path, TODAY),
            "milestones": repo._milestones_stmt(path, TODAY),
            "visits": repo._visits_stmt(path, TODAY, period_start_of(TODAY)),
            "bound households": repo._bound_households_stmt(path),
        }
        conn = await s.connection()
        raw = (await conn.get_raw_connection()).driver_connection  # asyncpg: $n parameters
        for name, stmt in statements.items():
            compiled = stmt.compile(dialect=conn.dialect)
            params = [compiled.params[key] for key in compiled.positiontup or []]
            rows = [r[0] for r in await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), *params)]
            print(f"\n### {name} ({path})\n")
            print("\n".join("    " + r for r in rows))


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.0f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/bench_reports")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    url = async_url(args.database_url)
    name = url.rpartition("/")[2]
    n = args.households
    await admin_exec(url, f'CREATE DATABASE "{name}"')
    engine = create_engine(url)
    results: list[tuple[int, dict[str, tuple[float, float]], int, Report]] = []
    try:
        await upgrade_async(url)
        sm = create_sessionmaker(engine)
        t0 = time.perf_counter()
        await run_sql(engine, TREE_SQL)
        loaded = 0
        for target in (n // 10, n):
            t1 = time.perf_counter()
            await run_sql(engine, [*households_sql(loaded + 1, target), *fix_sequences_sql()])
            await vacuum_analyze(engine)
            loaded = target
            print(f"loaded {loaded:,} households in {time.perf_counter() - t1:.0f} s "
                  f"(total {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            timings = {}
            for label, path in (("province", "吉林省"), ("市州", CITY_PATH), ("county", COUNTY_PATH)):
                first, best, report = await measure(sm, path)
                timings[label] = (first, best)
                if label == "province":
                    province = report
            peak = await peak_memory(sm, "吉林省")
            results.append((loaded, timings, peak, province))
        if args.explain:
            await explain(sm, "吉林省")
            await explain(sm, COUNTY_PATH)
        async with engine.connect() as conn:
            counts = {
                t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar()
                for t in ("households", "pairings", "visits", "milestones", "accounts", "cadres", "regions")
            }
    finally:
        await engine.dispose()
        if not args.keep:
            await admin_exec(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print("\nRows at N: " + ", ".join(f"{t} {c:,}" for t, c in counts.items()) + "\n")
    print("| households | province first / best of 3 | 市州 first / best | county first / best "
          "| peak Python memory (province) |")
    print("|---|---|---|---|---|")
    for loaded, timings, peak, _ in results:
        cells = " | ".join(f"{fmt_s(f)} / {fmt_s(b)}" for f, b in timings.values())
        print(f"| {loaded:,} | {cells} | {peak / 1e6:.2f} MB |")
    (_, small, small_peak, _), (_, big, big_peak, report) = results
    print(f"\nprovince / county time at N (best): ×{big['province'][1] / big['county'][1]:.1f}; "
          f"province time N / N/10 (best): ×{big['province'][1] / small['province'][1]:.1f}; "
          f"peak memory N / N/10: ×{big_peak / small_peak:.2f}")
    t = report.total
    print(f"province total at N: households {t.households:,}, pairings {t.pairings:,} "
          f"(overdue {t.overdue_visits:,}), overdue milestones {t.overdue_milestones:,}, "
          f"flagged {t.flagged_visits:,}, ratings {t.ratings:,} (avg {t.avg_satisfaction:.2f}), "
          f"bound households {t.bound_households:,}, bound cadres {t.bound_cadres:,}; rows {len(report.rows)}")


if __name__ == "__main__":
    asyncio.run(main())
