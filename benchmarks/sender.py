"""Benchmark: the outbox sender against the Bot API emulator (issue #5 part 2).

    python benchmarks/sender.py [--recipients 3000] [--database-url URL]

Starts the emulator as its own process (so it does not share our event loop), registers N
fictional users who have written to the bot, and for each run fills a fresh outbox with one
row per user, then times `Sender.drain()`:

(a) emulator limit 30 messages/s (and 1/s per chat), SEND_RATE=30: the measured rate and
    the number of 429 answers (goal: within 10% of 30/s, no 429);
(b) limit lifted, SEND_RATE=1000: the sender's throughput at its highest setting;
(c) limit lifted, pacing off: what the sender itself can do (DB + rendering + HTTP);
(n) as (c), without the pipeline (`send_due()` batch after batch): the baseline for (c);
(r) the ceiling: bare `bot.send_message` calls, 64 at a time, no database, no rendering.

Ratios (c)/(n) and (c)/(r) are printed: both runs share the machine at the same moment, so
the ratios hold better than the absolute figures on a shared, noisy machine. `--runs` picks
runs (default abcnr; (a) takes about 100 s).

The database is a temporary SQLite file unless --database-url names a migrated, empty,
throwaway database (it is left with the rows).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert

from bot import metrics
from bot.app import create_bot
from bot.config import load_settings
from bot.emulator.client import EmulatorClient
from bot.i18n import create_i18n
from notifications.outbox import insert_ignoring_duplicates
from notifications.sender import Sender
from notifications.templates import RenderContext, Rendered, renderer, unregister
from storage.db import create_engine, create_sessionmaker
from storage.enums import DeliveryState, NotificationKind
from storage.migrate import upgrade_async
from storage.models import Account, OutboxMessage

TOKEN = "123456789:BENCH-token-for-the-sender-benchmark"
FIRST_USER = 1_000_000
KIND = NotificationKind.BROADCAST


async def _bench_render(ctx: RenderContext) -> Rendered:
    return Rendered(f"测试通知 {ctx.message.id}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_up(client: EmulatorClient) -> None:
    for _ in range(200):
        try:
            await client._request("GET", "/health")
            return
        except Exception:  # not listening yet
            await asyncio.sleep(0.05)
    raise SystemExit("the emulator did not start")


async def _fill(sessionmaker, account_ids: list[int], run: str) -> None:
    async with sessionmaker() as session:
        await session.execute(delete(OutboxMessage))
        now = datetime.now(UTC)
        rows = [{"key": f"bench:{run}:{a}", "kind": KIND, "account_id": a, "payload": {}, "urgent": False,
                 "state": DeliveryState.QUEUED, "attempts": 0, "not_before": now} for a in account_ids]
        for start in range(0, len(rows), 1000):
            await session.execute(insert_ignoring_duplicates(session).values(rows[start : start + 1000]))
        await session.commit()


async def _run(label, settings, sessionmaker, account_ids, client, *, rate=None, limit=None,
               pipeline: bool = True) -> float:
    await client.set_rate_limits(global_per_second=limit, per_chat_per_second=1 if limit else None)
    await _fill(sessionmaker, account_ids, label)
    bot = create_bot(settings)
    sender = Sender(bot, sessionmaker, create_i18n(settings.default_locale), settings, rate=rate)
    floods = metrics.FLOOD_WAITS._value.get()
    started = time.perf_counter()
    if pipeline:
        handled = await sender.drain()
    else:
        handled = 0
        while batch := await sender.send_due():
            handled += batch
    elapsed = time.perf_counter() - started
    await bot.session.close()
    print(f"({label}) send_rate={settings.send_rate:g} emulator limit={limit or 'none'}: "
          f"{handled} messages in {elapsed:.1f} s = {handled / elapsed:.1f} messages/s, "
          f"429s: {metrics.FLOOD_WAITS._value.get() - floods:g}", flush=True)
    return handled / elapsed


async def _raw(settings, client, users: list[int]) -> float:
    """The ceiling: bot.send_message to every user, 64 in flight, nothing else."""
    await client.set_rate_limits(global_per_second=None, per_chat_per_second=None)
    bot = create_bot(settings)
    gate = asyncio.Semaphore(64)

    async def one(user: int) -> None:
        async with gate:
            await bot.send_message(user, "测试通知")

    started = time.perf_counter()
    await asyncio.gather(*(one(u) for u in users))
    elapsed = time.perf_counter() - started
    await bot.session.close()
    print(f"(r) bare send_message, 64 in flight: {len(users)} messages in {elapsed:.1f} s = "
          f"{len(users) / elapsed:.1f} messages/s", flush=True)
    return len(users) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=3000)
    parser.add_argument("--database-url")
    parser.add_argument("--runs", default="abcnr", help="which runs, in order (default abcnr)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    db_url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    if not args.database_url:
        await upgrade_async(db_url)
    port = _free_port()
    emulator = subprocess.Popen(  # noqa: ASYNC220 - started once, before any work
        [sys.executable, "-m", "bot.emulator", "--port", str(port), "--token", TOKEN, "--username", "bench_bot"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    engine = create_engine(load_settings(database_url=db_url).database_url)
    previous = unregister(KIND)
    renderer(KIND)(_bench_render)
    try:
        async with EmulatorClient(base_url, TOKEN) as client:
            await _wait_up(client)
            users = range(FIRST_USER, FIRST_USER + args.recipients)
            for start in range(0, len(users), 100):
                chunk = users[start : start + 100]
                await asyncio.gather(*(client.add_user(u, first_name="测试") for u in chunk))
                await asyncio.gather(*(client.send_text(u, "/start") for u in chunk))
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker() as session:
                await session.execute(insert(Account), [{"telegram_user_id": u, "chat_id": u} for u in users])
                await session.commit()
                ids = list((await session.scalars(
                    Account.__table__.select().with_only_columns(Account.id)
                    .where(Account.telegram_user_id >= FIRST_USER))).all())
            print(f"{len(ids)} recipients; database {db_url.split(':', 1)[0]}", flush=True)
            base = dict(database_url=db_url, bot_token=TOKEN, telegram_api_url=base_url, send_max_attempts=3)
            fast = load_settings(**base, send_rate=1000)
            rates: dict[str, float] = {}
            for run in args.runs:
                if run == "a":
                    rates[run] = await _run("a", load_settings(**base, send_rate=30), sessionmaker, ids, client,
                                            limit=30)
                elif run == "b":
                    rates[run] = await _run("b", fast, sessionmaker, ids, client)
                elif run == "c":
                    rates[run] = await _run("c", fast, sessionmaker, ids, client, rate=1e9)
                elif run == "n":
                    rates[run] = await _run("n", fast, sessionmaker, ids, client, rate=1e9, pipeline=False)
                elif run == "r":
                    rates[run] = await _raw(fast, client, list(users))
            if "c" in rates and "n" in rates:
                print(f"pipeline gain (c)/(n): {rates['c'] / rates['n']:.2f}x", flush=True)
            if "c" in rates and "r" in rates:
                print(f"sender vs bare sends (c)/(r): {rates['c'] / rates['r']:.2f}", flush=True)
    finally:
        unregister(KIND)
        if previous is not None:
            renderer(KIND)(previous)
        await engine.dispose()
        emulator.terminate()
        emulator.wait(timeout=10)
        tmp.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
