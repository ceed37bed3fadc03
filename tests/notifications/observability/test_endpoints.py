"""/metrics and /healthz (bot/observability.py) on SQLite and PostgreSQL, and when the
database is unreachable or hangs."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot import observability
from bot.config import ConfigError
from bot.observability import (
    MetricsServer,
    add_routes,
    read_outbox_depth,
    serve_metrics,
    start_metrics_server,
)
from storage.db import create_engine, create_sessionmaker
from storage.enums import DeliveryState, NotificationKind
from storage.models import Account, OutboxMessage

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)

# state, not_before: what `_seed` inserts
ROWS = [
    (DeliveryState.QUEUED, NOW - timedelta(hours=2)),  # due, the oldest due one
    (DeliveryState.QUEUED, NOW - timedelta(minutes=5)),
    (DeliveryState.QUEUED, NOW + timedelta(hours=8)),  # held (quiet hours): not due
    (DeliveryState.RETRY, NOW - timedelta(minutes=30)),
    (DeliveryState.SENDING, NOW - timedelta(days=3)),  # not queued/retry: not counted as due
    (DeliveryState.SENT, NOW - timedelta(days=5)),
    (DeliveryState.SENT, NOW - timedelta(days=5)),
    (DeliveryState.FAILED, NOW - timedelta(days=5)),
]
EXPECTED = {"queued": 3, "sending": 1, "sent": 2, "retry": 1, "failed": 1, "cancelled": 0}


async def _seed(sessionmaker, rows=ROWS) -> None:
    async with sessionmaker() as s:
        account = Account(telegram_user_id=4242, chat_id=4242)
        s.add(account)
        await s.flush()
        for i, (state, not_before) in enumerate(rows):
            s.add(OutboxMessage(key=f"digest:{account.id}:{i}", kind=NotificationKind.DIGEST,
                                account_id=account.id, state=state, not_before=not_before))
        await s.commit()


@pytest.fixture
async def server(sessionmaker) -> AsyncIterator[MetricsServer]:
    running = await serve_metrics(sessionmaker, "127.0.0.1", 0)
    yield running
    await running.stop()


async def _get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def _outbox(samples) -> dict[str, float]:
    return {dict(labels)["state"]: v for (name, labels), v in samples.items() if name == "fupin_outbox_messages"}


async def test_read_outbox_depth_counts_every_state(session, sessionmaker) -> None:
    empty = await read_outbox_depth(session, now=NOW)
    assert set(empty.by_state.values()) == {0} and len(empty.by_state) == len(DeliveryState)
    assert empty.oldest_due_seconds == 0.0
    await _seed(sessionmaker)
    depth = await read_outbox_depth(session, now=NOW)
    assert {s.value: n for s, n in depth.by_state.items()} == EXPECTED
    assert depth.oldest_due_seconds == 2 * 3600  # the queued row due 2 h ago, not the sending one


async def test_oldest_due_ignores_rows_not_yet_due(session, sessionmaker) -> None:
    await _seed(sessionmaker, [(DeliveryState.QUEUED, NOW + timedelta(minutes=1)),
                               (DeliveryState.RETRY, NOW + timedelta(hours=1))])
    depth = await read_outbox_depth(session, now=NOW)
    assert depth.oldest_due_seconds == 0.0 and depth.by_state[DeliveryState.QUEUED] == 1


async def test_metrics_endpoint_reports_outbox_depth(server, sessionmaker) -> None:
    await _seed(sessionmaker, [*ROWS, (DeliveryState.QUEUED, LONG_AGO)])
    before = datetime.now(UTC)
    status, content_type, body = await _get(server.port, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    for name in ("fupin_outbox_messages", "fupin_outbox_oldest_due_seconds", "fupin_messages_sent_total",
                 "fupin_messages_failed_total", "fupin_telegram_429_total", "fupin_send_seconds",
                 "fupin_handler_seconds", "fupin_updates_total", "fupin_database_up"):
        assert name in body
    samples = _samples(body)
    assert _outbox(samples) == {**EXPECTED, "queued": 4}
    assert samples[("fupin_outbox_oldest_due_seconds", ())] >= (before - LONG_AGO).total_seconds()
    assert samples[("fupin_database_up", ())] == 1

    # the gauges follow the table on the next scrape (nothing cached)
    async with sessionmaker() as s:
        await s.execute(OutboxMessage.__table__.delete())
        await s.commit()
    samples = _samples((await _get(server.port, "/metrics"))[2])
    assert set(_outbox(samples).values()) == {0}
    assert samples[("fupin_outbox_oldest_due_seconds", ())] == 0


async def test_healthz_ok(server) -> None:
    status, content_type, body = await _get(server.port, "/healthz")
    assert status == 200 and content_type.startswith("application/json")
    assert body == '{"status": "ok", "database": "ok"}'


async def test_only_get_is_served(server) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{server.port}/metrics") as resp:
            assert resp.status == 405
        async with http.get(f"http://127.0.0.1:{server.port}/nothing") as resp:
            assert resp.status == 404


UNREACHABLE = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",  # a closed port
    "sqlite": "sqlite+aiosqlite:///{tmp}/no/such/dir/fupin.db",  # cannot be opened
}


@pytest.mark.parametrize("kind", sorted(UNREACHABLE))
async def test_unreachable_database(kind, tmp_path, caplog) -> None:
    engine = create_engine(UNREACHABLE[kind].format(tmp=tmp_path))
    running = await serve_metrics(create_sessionmaker(engine), "127.0.0.1", 0)
    try:
        status, _, body = await _get(running.port, "/healthz")
        assert status == 503 and body == '{"status": "error", "database": "unreachable"}'
        status, _, body = await _get(running.port, "/metrics")
        assert status == 200  # the process metrics are still served
        samples = _samples(body)
        assert samples[("fupin_database_up", ())] == 0
        assert _outbox(samples) == {}  # no stale depth
        assert math.isnan(samples[("fupin_outbox_oldest_due_seconds", ())])
        assert "fupin_handler_seconds" in body
    finally:
        await running.stop()
        await engine.dispose()
    assert "nowhere" not in caplog.text and "no/such" not in caplog.text  # no connection details logged


class _HangingSessionmaker:
    """A database that accepts the connection and never answers."""

    def __call__(self) -> _HangingSessionmaker:
        return self

    async def __aenter__(self) -> None:
        await asyncio.Event().wait()

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_hanging_database_cannot_hang_scrapes(monkeypatch) -> None:
    monkeypatch.setattr(observability, "HEALTH_TIMEOUT", 0.05)
    monkeypatch.setattr(observability, "SCRAPE_TIMEOUT", 0.05)
    running = await serve_metrics(_HangingSessionmaker(), "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        assert (await _get(running.port, "/healthz"))[0] == 503
        status, _, body = await _get(running.port, "/metrics")
        assert status == 200 and _samples(body)[("fupin_database_up", ())] == 0
    finally:
        await running.stop()


async def test_add_routes_on_the_webhook_app(sessionmaker) -> None:
    await _seed(sessionmaker)
    web_app = web.Application()
    add_routes(web_app, sessionmaker)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        assert (await _get(port, "/healthz"))[0] == 200
        assert _outbox(_samples((await _get(port, "/metrics"))[2])) == EXPECTED
    finally:
        await runner.cleanup()


async def test_start_metrics_server_from_settings(settings, sessionmaker) -> None:
    off = await start_metrics_server(settings.model_copy(update={"metrics_port": 0}), sessionmaker)
    await off()  # a no-op

    probe = await serve_metrics(sessionmaker, "127.0.0.1", 0)  # find a free port, then use it
    port = probe.port
    await probe.stop()
    stop = await start_metrics_server(
        settings.model_copy(update={"metrics_host": "127.0.0.1", "metrics_port": port}), sessionmaker
    )
    try:
        assert (await _get(port, "/healthz"))[0] == 200
        with pytest.raises(ConfigError, match=r"METRICS_PORT.*cannot listen"):  # the port is taken
            await serve_metrics(sessionmaker, "127.0.0.1", port)
    finally:
        await stop()
    await stop()  # twice is harmless
