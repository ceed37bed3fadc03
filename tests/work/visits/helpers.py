"""Helpers of the /visit end-to-end tests: pressing, waiting, reading alerts and rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from PIL import Image
from sqlalchemy import select

from bot.emulator.client import EmulatorClient
from storage.models import Visit

NOW = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def png(width: int = 64, height: int = 48) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def text_of(event: dict[str, Any]) -> str:
    return event.get("text") or event.get("caption") or ""


def labels(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def callback_datas(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def say(tg: EmulatorClient, user: int, text: str, count: int = 1) -> list[dict[str, Any]]:
    return await tg.ask(user, text, count=count)


async def say_one(tg: EmulatorClient, user: int, text: str) -> dict[str, Any]:
    [reply] = await tg.ask(user, text)
    return reply


async def press(tg: EmulatorClient, user: int, label: str | int, count: int = 1) -> list[dict[str, Any]]:
    """Press a button of the latest keyboard and wait for `count` replies in that chat."""
    pressed = await tg.press_button(user, label)
    return await tg.wait_replies(user, after_seq=pressed["seq"], count=count)


async def press_one(tg: EmulatorClient, user: int, label: str | int) -> dict[str, Any]:
    [reply] = await press(tg, user, label)
    return reply


async def alert(tg: EmulatorClient, pressed: dict[str, Any]) -> str:
    """The text of the alert the bot answered a press with (and that it was an alert)."""
    answer = (await tg.callback_answer(pressed["callback_query_id"]))["answer"]
    assert answer.get("show_alert"), answer
    return answer["text"]


async def forge(tg: EmulatorClient, user: int, data: str) -> str:
    """Press forged callback data on the user's latest bot message; returns the alert."""
    messages = [m for m in await tg.messages(user) if m["from_bot"]]
    pressed = await tg.press(user, messages[-1]["message_id"], data, forged=True)
    return await alert(tg, pressed)


async def last_bot(tg: EmulatorClient, user: int) -> dict[str, Any]:
    return [m for m in await tg.messages(user) if m["from_bot"]][-1]


async def visits(sessionmaker) -> list[Visit]:
    async with sessionmaker() as s:
        return list((await s.scalars(select(Visit).order_by(Visit.id))).all())


async def deliver_reminders(app, sessionmaker, now: datetime) -> int:
    """Run the reminder scan at `now` and send what it queued through the real sender and
    renderers, on the running bot's Bot API session; returns the rows handled."""
    import notifications.reminders  # noqa: F401  (registers the renderers)
    from notifications.scans import scan_reminders
    from notifications.sender import Sender

    async with sessionmaker() as s:
        await scan_reminders(s, app.settings, now)
        await s.commit()
    return await Sender(app.bot, sessionmaker, app.i18n, app.settings, clock=lambda: now).drain()


async def bot_messages(tg: EmulatorClient, user: int) -> list[dict[str, Any]]:
    return [m for m in await tg.messages(user) if m["from_bot"]]
