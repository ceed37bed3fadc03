"""/metrics and /healthz: what Prometheus and a load balancer see of the bot process.

- `UpdateMetricsMiddleware`: an outer update middleware timing every Telegram update
  (`fupin_handler_seconds{event}`) and counting it by outcome (`fupin_updates_total`).
- `GET /metrics`: the prometheus_client text format. Outbox depth is not kept in memory:
  each scrape runs one `SELECT state, count(*) FROM outbox GROUP BY state` and one
  `min(not_before)` of the due queued/retry rows (both served by the (state, not_before)
  index), sets the gauges, then renders. A slow or unreachable database cannot hang the
  scrape: after `SCRAPE_TIMEOUT` seconds the outbox series are dropped,
  `fupin_outbox_oldest_due_seconds` is NaN and `fupin_database_up` is 0.
- `GET /healthz`: 200 `{"status": "ok", "database": "ok"}` when `SELECT 1` answers within
  `HEALTH_TIMEOUT` seconds, else 503 `{"status": "error", "database": "unreachable"}` (no
  error details).

Polling mode serves both on their own small server (`start_metrics_server`, METRICS_HOST /
METRICS_PORT, port 0 = off); webhook mode can add them to the webhook server (`add_routes`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings
from bot.metrics import DATABASE_UP, HANDLER_LATENCY, OUTBOX_MESSAGES, OUTBOX_OLDEST_DUE, UPDATES
from storage.enums import DeliveryState
from storage.models import utcnow
from storage.repositories.outbox import OutboxRepository

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 2.0  # seconds for `SELECT 1` before /healthz answers 503
SCRAPE_TIMEOUT = 2.0  # seconds for the outbox queries of one /metrics scrape

DUE_STATES = (DeliveryState.QUEUED, DeliveryState.RETRY)

Sessionmaker = async_sessionmaker[AsyncSession]


# ------------------------------------------------------------------ handler latency


def update_event_type(event: TelegramObject) -> str:
    """'message', 'callback_query', ... for an Update; 'unknown' otherwise (bounded labels)."""
    if isinstance(event, Update):
        try:
            return event.event_type
        except Exception:  # aiogram's UpdateTypeLookupError: a type this aiogram does not know
            return "unknown"
    return "unknown"


class UpdateMetricsMiddleware(BaseMiddleware):
    """Outer update middleware: handler latency by update type, updates by outcome.

    Register it on `dp.update` before the database-session middleware so the time includes
    the commit. An exception leaving the handler chain counts as outcome="error" (aiogram's
    error handlers run outside, after this middleware has recorded it)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        kind = update_event_type(event)
        outcome = "error"
        start = time.perf_counter()
        try:
            result = await handler(event, data)
            outcome = "ok"
            return result
        finally:
            HANDLER_LATENCY.labels(event=kind).observe(time.perf_counter() - start)
            UPDATES.labels(event=kind, outcome=outcome).inc()


# ------------------------------------------------------------------ outbox depth


@dataclass(frozen=True)
class OutboxDepth:
    by_state: dict[DeliveryState, int]
    oldest_due_seconds: float  # age of the oldest due queued/retry row; 0 when none is due


async def read_outbox_depth(session: AsyncSession, now: datetime | None = None) -> OutboxDepth:
    """Rows per delivery state (every state present, 0 when empty) and how long the oldest
    due queued/retry row has been waiting. Two indexed queries, nothing loaded row by row."""
    now = now or utcnow()
    repo = OutboxRepository(session)
    counts = await repo.count_by_state()
    oldest = await repo.oldest_due(DUE_STATES, now)
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    return OutboxDepth(counts, age)


async def refresh_outbox_gauges(sessionmaker: Sessionmaker) -> bool:
    """Read the outbox depth (within SCRAPE_TIMEOUT seconds) into the gauges. False, with
    the outbox series dropped, when the database did not answer in time."""
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT), sessionmaker() as session:
            depth = await read_outbox_depth(session)
    except Exception as exc:  # unreachable, timed out, not migrated: the scrape still answers
        log.warning("metrics: outbox depth unavailable: %s", type(exc).__name__)
        OUTBOX_MESSAGES.clear()
        OUTBOX_OLDEST_DUE.set(math.nan)
        DATABASE_UP.set(0)
        return False
    # No await below: a concurrent scrape never sees half-set gauges.
    for state, count in depth.by_state.items():
        OUTBOX_MESSAGES.labels(state=state.value).set(count)
    OUTBOX_OLDEST_DUE.set(depth.oldest_due_seconds)
    DATABASE_UP.set(1)
    return True


# ------------------------------------------------------------------ health


async def database_ok(sessionmaker: Sessionmaker) -> bool:
    """True when `SELECT 1` answers within HEALTH_TIMEOUT seconds."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("healthz: database unreachable: %s", type(exc).__name__)
        return False
    return True


# ------------------------------------------------------------------ HTTP


def add_routes(app: web.Application, sessionmaker: Sessionmaker) -> None:
    """Serve GET /metrics and GET /healthz on `app` (the webhook server or our own)."""

    async def metrics(_request: web.Request) -> web.Response:
        await refresh_outbox_gauges(sessionmaker)
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        if await database_ok(sessionmaker):
            return web.json_response({"status": "ok", "database": "ok"})
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)

    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)


@dataclass
class MetricsServer:
    """A running /metrics + /healthz server; `port` is the bound port (useful with port 0).
    Awaiting the object's call (or `stop()`) shuts it down; safe to call twice."""

    runner: web.AppRunner
    host: str
    port: int

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def __call__(self) -> None:
        await self.stop()


async def serve_metrics(sessionmaker: Sessionmaker, host: str, port: int) -> MetricsServer:
    """Start the server on host:port (port 0 = an ephemeral port, for tests). A port that
    cannot be bound raises ConfigError with one console line."""
    web_app = web.Application()
    add_routes(web_app, sessionmaker)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"configuration error: METRICS_HOST/METRICS_PORT: cannot listen on {host}:{port}: {reason}"
        ) from None
    bound = runner.addresses[0][1] if runner.addresses else port
    return MetricsServer(runner, host, bound)


async def _no_server() -> None:
    return None


async def start_metrics_server(settings: Settings, sessionmaker: Sessionmaker) -> Callable[[], Awaitable[None]]:
    """Start /metrics and /healthz on METRICS_HOST:METRICS_PORT; returns the stop function.
    METRICS_PORT=0 turns the server off (a no-op stop function is returned)."""
    if settings.metrics_port == 0:
        return _no_server
    server = await serve_metrics(sessionmaker, settings.metrics_host, settings.metrics_port)
    log.info("metrics server listening on %s:%s", server.host, server.port)
    return server
