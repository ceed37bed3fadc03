"""``python -m bot.emulator`` runs a standalone emulator and prints its base URL."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.asyncio


async def test_standalone_entry_point() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.emulator",
        "--port",
        "0",
        "--token",
        "4242:cli-token",
        "--username",
        "cli_test_bot",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base_url = match.group(1)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base_url}/bot4242:cli-token/getMe") as response:
                body = await response.json()
            async with session.get(f"{base_url}/_emu/health") as response:
                health = await response.json()
        assert body["result"]["username"] == "cli_test_bot"
        assert health["ok"] and health["result"]["bots"] == 1
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)
