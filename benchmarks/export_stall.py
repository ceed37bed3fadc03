"""Benchmark: how long `/export` stalls the bot's event loop (issue #6, fixexport).

    python benchmarks/export_stall.py [--households 40000] [--repeat 3]

Fills a throwaway SQLite database (in a temporary directory, migrated with the project's
revisions) with a synthetic, fictional county: 10 townships, 100 villages, 400 cadres,
N households, each with one open pairing whose visit is overdue, one overdue milestone
for every 4th household and one flagged visit for every 20th: with N = 40,000 the lists
hold about 52,400 rows (40,000 overdue visits, 10,000 overdue milestones, 2,000 flagged
visits, 400 cadre loads).

Then it exports the county as XLSX and as a zip of CSVs with `build_export` (the chat's
path) while a probe task sleeps 10 ms in a loop and records how late each wake-up is: the
longest delay is the longest time the event loop could not serve another update. Each
export is run `--repeat` times in two modes: `thread` (the code as it is: the rows are
written in the export's worker thread) and `loop` (`_Writer.run` patched to call the step
directly on the loop, which is what the code did before). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.reports import export
from bot.reports.export import build_export
from storage.db import create_engine, create_sessionmaker
from storage.enums import (
    CadreLevel,
    HouseholdStatus,
    MilestoneCategory,
    RegionLevel,
    VisitConfirmation,
    VisitKind,
)
from storage.migrate import upgrade_async
from storage.models import Cadre, Household, Milestone, Pairing, Region, Visit

TODAY = date(2026, 11, 29)
COUNTY = "吉林省/基准市/基准县"
TOWNSHIPS, VILLAGES, CADRES = 10, 100, 400
TICK = 0.01


async def seed(sessionmaker: Any, households: int) -> None:
    async with sessionmaker() as s:
        regions = [
            {"id": 1, "parent_id": None, "level": RegionLevel.PROVINCE, "name": "吉林省", "path": "吉林省"},
            {"id": 2, "parent_id": 1, "level": RegionLevel.CITY, "name": "基准市", "path": "吉林省/基准市"},
            {"id": 3, "parent_id": 2, "level": RegionLevel.COUNTY, "name": "基准县", "path": COUNTY},
        ]
        for t in range(TOWNSHIPS):
            regions.append({"id": 10 + t, "parent_id": 3, "level": RegionLevel.TOWNSHIP, "name": f"基准镇{t}",
                            "path": f"{COUNTY}/基准镇{t}"})
        for v in range(VILLAGES):
            t = v % TOWNSHIPS
            regions.append({"id": 100 + v, "parent_id": 10 + t, "level": RegionLevel.VILLAGE, "name": f"基准村{v}",
                            "path": f"{COUNTY}/基准镇{t}/基准村{v}"})
        await s.execute(insert(Region), regions)
        await s.execute(insert(Cadre), [
            {"id": 1 + c, "code": f"BC{c:06d}", "name": f"干部{c}", "level": CadreLevel.VILLAGE,
             "region_id": 100 + c % VILLAGES}
            for c in range(CADRES)
        ])
        statuses = [HouseholdStatus.NOT_LIFTED, HouseholdStatus.LIFTED, HouseholdStatus.RETURNED]
        for lo in range(0, households, 5_000):
            ids = range(lo + 1, min(households, lo + 5_000) + 1)
            await s.execute(insert(Household), [
                {"id": g, "reg_no": f"B{g:09d}", "head_name": f"户主{g}", "village_id": 100 + g % VILLAGES,
                 "status": statuses[g % 3]}
                for g in ids
            ])
            await s.execute(insert(Pairing), [
                {"id": g, "cadre_id": 1 + g % CADRES, "household_id": g, "start_date": date(2026, 1, 15),
                 "last_visit_on": TODAY - timedelta(days=40 + g % 60),
                 "next_visit_due": TODAY - timedelta(days=1 + g % 30)}
                for g in ids
            ])
            await s.execute(insert(Milestone), [
                {"household_id": g, "category": MilestoneCategory.HOUSING, "title": f"事项{g}",
                 "due_date": TODAY - timedelta(days=1 + g % 90)}
                for g in ids if g % 4 == 0
            ])
            await s.execute(insert(Visit), [
                {"cadre_id": 1 + g % CADRES, "household_id": g, "visited_on": TODAY - timedelta(days=1 + g % 200),
                 "kind": VisitKind.HOME, "confirmation": VisitConfirmation.DENIED, "flagged": True}
                for g in ids if g % 20 == 0
            ])
        await s.commit()


async def probe(stop: asyncio.Event, delays: list[float]) -> None:
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(TICK)
        delays.append(time.perf_counter() - start - TICK)


@contextmanager
def writing_on_the_loop():
    """`_Writer.run` calling each step directly on the event loop (the code before)."""
    async def inline(self: Any, fn: Any, *args: Any) -> Any:
        return fn(*args)

    real = export._Writer.run
    export._Writer.run = inline  # type: ignore[method-assign]
    try:
        yield
    finally:
        export._Writer.run = real  # type: ignore[method-assign]


async def one_export(sessionmaker: Any, fmt: str, out: Path) -> tuple[float, float, float, float]:
    """(seconds, longest loop stall, median and 99th percentile stall) of one export."""
    stop = asyncio.Event()
    delays: list[float] = []
    ticker = asyncio.create_task(probe(stop, delays))
    await asyncio.sleep(0)
    start = time.perf_counter()
    async with sessionmaker() as s:
        await build_export(s, COUNTY, TODAY, "zh_Hans", fmt, out=out)
    elapsed = time.perf_counter() - start
    stop.set()
    await ticker
    if len(delays) < 2:
        delays = [*delays, 0.0, 0.0]
    p99 = statistics.quantiles(delays, n=100, method="inclusive")[98]
    return elapsed, max(delays), statistics.median(delays), p99


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", default="loop,thread", help="which modes to run (loop, thread)")
    args = parser.parse_args()
    modes = [m for m in ("loop", "thread") if m in args.writers.split(",")]
    with tempfile.TemporaryDirectory(prefix="export-stall-") as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await upgrade_async(url)
        engine = create_engine(url)
        try:
            sessionmaker = create_sessionmaker(engine)
            t0 = time.perf_counter()
            await seed(sessionmaker, args.households)
            print(f"seeded {args.households:,} households in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            rows = None
            print("| format | writer | export time (best) | longest loop stall (worst / best run) "
                  "| median / p99 wake-up delay (worst run) |")
            print("|---|---|---|---|---|")
            for fmt in ("xlsx", "csv"):
                for mode in modes:
                    runs = []
                    for i in range(args.repeat):
                        out = Path(tmp) / f"out-{mode}-{i}.{'xlsx' if fmt == 'xlsx' else 'zip'}"
                        if mode == "loop":
                            with writing_on_the_loop():
                                runs.append(await one_export(sessionmaker, fmt, out))
                        else:
                            runs.append(await one_export(sessionmaker, fmt, out))
                        if rows is None and fmt == "xlsx":
                            from openpyxl import load_workbook

                            wb = load_workbook(out, read_only=True)
                            rows = {ws.title: sum(1 for _ in ws.iter_rows(min_row=2)) for ws in wb.worksheets}
                            wb.close()
                        out.unlink()
                    best = min(r[0] for r in runs)
                    stalls = sorted(r[1] for r in runs)
                    median, p99 = max(r[2] for r in runs), max(r[3] for r in runs)
                    print(f"| {fmt} | {mode} | {best:.2f} s | {stalls[-1] * 1000:.0f} ms / {stalls[0] * 1000:.0f} ms "
                          f"| {median * 1000:.1f} ms / {p99 * 1000:.0f} ms |")
            if rows:
                print("\nrows per sheet: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
        finally:
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
