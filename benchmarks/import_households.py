"""Benchmark: importing a large households file (first import, then a no-op re-import).

    python benchmarks/import_households.py --rows 100000 [--database-url URL]

Generates a synthetic CSV (fictional data over 10 counties × 10 townships × 20 villages),
imports it into a fresh migrated database (SQLite file by default; a PostgreSQL URL is
used as given and must point at an empty, migrated database), then imports the same file
again. Prints wall time, rows/s and peak RSS, and the ratios of the second run and of a
10× smaller file in the same run (the baseline), so the figures compare on a shared box.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import resource
import tempfile
import time
from pathlib import Path

from storage.db import create_engine, create_sessionmaker
from storage.importer import import_file
from storage.migrate import upgrade_async

HEADER = ["户编号", "户主姓名", "市州", "县市区", "乡镇", "行政村", "家庭人口", "致贫原因", "帮扶措施",
          "人均纯收入", "收入年度", "脱贫状态", "在校学生数", "残疾人数", "危房等级", "享受低保"]
CAUSES = ["因病", "因残", "因学", "缺资金", "缺技术、缺劳力"]
MEASURES = ["发展生产", "易地搬迁", "发展教育", "医疗救助", "社会保障兜底"]


def write_file(path: Path, rows: int, prefix: str) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(rows):
            out.writerow([
                f"{prefix}{i:08d}", f"测试户{i}", "白山市", f"基准县{i % 10}", f"基准镇{(i // 10) % 10}",
                f"基准村{(i // 100) % 20}", 1 + i % 6, CAUSES[i % 5], MEASURES[i % 5],
                f"{2000 + i % 3000}.50", 2025, "未脱贫", i % 3, i % 2, "ABCD"[i % 4], "是" if i % 7 == 0 else "否",
            ])
    return path


async def timed_import(url: str, path: Path) -> tuple[float, object]:
    engine = create_engine(url)
    try:
        start = time.perf_counter()
        report = await import_file(create_sessionmaker(engine), "households", path, id_hash_key="b" * 32)
        return time.perf_counter() - start, report
    finally:
        await engine.dispose()


async def main(rows: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        url = database_url or f"sqlite+aiosqlite:///{tmpdir / 'bench.db'}"
        await upgrade_async(url)
        small = write_file(tmpdir / "small.csv", rows // 10, "S")
        large = write_file(tmpdir / "large.csv", rows, "L")
        t_small, _ = await timed_import(url, small)
        t_first, first = await timed_import(url, large)
        t_again, again = await timed_import(url, large)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"database: {db}; rows: {rows}")
    print(f"baseline {rows // 10} rows: {t_small:.1f} s ({rows / 10 / t_small:,.0f} rows/s)")
    print(f"first import:  {t_first:.1f} s ({rows / t_first:,.0f} rows/s), created {first.created}")
    print(f"re-import:     {t_again:.1f} s ({rows / t_again:,.0f} rows/s), unchanged {again.unchanged}")
    print(f"ratios: first/baseline per row {t_first / rows / (t_small / (rows / 10)):.2f}, "
          f"re-import/first {t_again / t_first:.2f}")
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.database_url))
