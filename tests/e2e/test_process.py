"""The real bot process (`python -m bot run`), configured only by environment variables,
answering through a Bot API server on loopback: what an outside harness will do."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys

import aiohttp

from bot.emulator.client import EmulatorClient
from tests.conftest import TEST_TOKEN


async def test_bot_process_answers_start_in_three_languages(emulator, db_url, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_", "METRICS_"))}
    metrics_port = _free_port()
    env.update(BOT_TOKEN=TEST_TOKEN, TELEGRAM_API_URL=emulator.base_url, DATABASE_URL=db_url,
               METRICS_PORT=str(metrics_port))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with EmulatorClient(emulator.base_url, TEST_TOKEN) as tg:
            replies = {}
            for uid, code in ((4001, "zh-hans"), (4002, "ko"), (4003, "en")):
                await tg.add_user(uid, first_name="u", language_code=code)
                [reply] = await tg.ask(uid, "/start", timeout=30)
                replies[code] = reply["text"]
            assert "扶贫" in replies["zh-hans"]
            assert any("\uac00" <= ch <= "\ud7a3" for ch in replies["ko"])
            assert replies["en"].isascii() or "Jilin" in replies["en"]
            assert all(c["spec_ok"] for c in await tg.calls())
        # the process serves /healthz and /metrics beside polling
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{metrics_port}/healthz") as resp:
                assert resp.status == 200 and json.loads(await resp.text())["database"] == "ok"
            async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as resp:
                assert resp.status == 200 and "fupin_updates_total" in await resp.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=15)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    _, stderr = await proc.communicate()
    assert b"Traceback" not in stderr, stderr.decode()[-2000:]
    assert proc.returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
