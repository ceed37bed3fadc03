"""Helpers for the /milestone and /plan end-to-end tests."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

import handlers.milestones
from bot.emulator.client import EmulatorClient

# 10:30 in Asia/Shanghai on 2026-11-29 (a Sunday); "one month later" is 2026-12-29
NOW = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(handlers.milestones, "clock", lambda: NOW)
    return NOW


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def text_of(event: dict[str, Any]) -> str:
    return event.get("text") or event.get("caption") or ""


def labels(event: dict[str, Any]) -> list[str]:
    markup = event.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def button_data(event: dict[str, Any], label: str) -> str:
    markup = event.get("reply_markup") or {}
    [data] = [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row if label in b["text"]]
    return data


async def say(tg: EmulatorClient, user: int, text: str) -> dict[str, Any]:
    [reply] = await tg.ask(user, text)
    return reply


async def photo(tg: EmulatorClient, user: int, caption: str | None = None) -> dict[str, Any]:
    sent = await tg.send_photo(user, png(), caption=caption)
    [reply] = await tg.wait_replies(user, after_seq=sent["seq"])
    return reply


async def press(tg: EmulatorClient, user: int, label: str) -> dict[str, Any]:
    """Press a button of the latest keyboard and return the one message the bot sends."""
    pressed = await tg.press_button(user, label)
    [reply] = await tg.wait_replies(user, after_seq=pressed["seq"])
    answer = await tg.callback_answer(pressed["callback_query_id"])
    assert not (answer["answer"] or {}).get("show_alert"), answer
    return reply


async def alert(tg: EmulatorClient, user: int, message_id: int, data: str, *, forged: bool = True) -> str:
    """Press (a possibly forged) button and return the alert text; the bot must alert."""
    pressed = await tg.press(user, message_id, data, forged=forged)
    answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
    assert answer.get("show_alert"), answer
    return answer["text"]


async def last_bot(tg: EmulatorClient, user: int) -> dict[str, Any]:
    return [m for m in await tg.messages(user) if m["from_bot"]][-1]
