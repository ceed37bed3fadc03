"""Handler latency and update outcome (UpdateMetricsMiddleware): through the emulator, and
on a bare dispatcher for the error outcome."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import Chat, ErrorEvent, Message, Update, User
from prometheus_client import REGISTRY

from bot.observability import UpdateMetricsMiddleware, update_event_type

USER = 3901


def _count(event: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("fupin_updates_total", {"event": event, "outcome": outcome}) or 0.0


def _observed(event: str) -> float:
    return REGISTRY.get_sample_value("fupin_handler_seconds_count", {"event": event}) or 0.0


async def test_updates_through_the_bot_are_timed_and_counted(tg) -> None:
    messages, callbacks, timed = _count("message", "ok"), _count("callback_query", "ok"), _observed("message")
    await tg.add_user(USER, first_name="测试", language_code="zh-hans")
    [reply] = await tg.ask(USER, "/help")
    pressed = await tg.press(USER, reply["message_id"], "stale:1", forged=True)
    await tg.callback_answer(pressed["callback_query_id"])
    # One update at a time per chat: once this reply is out, the earlier updates of the
    # chat have left the middleware, so their metrics are recorded.
    await tg.ask(USER, "/help")
    assert _count("message", "ok") >= messages + 1
    assert _observed("message") >= timed + 1
    assert _count("callback_query", "ok") >= callbacks + 1


def _message(text: str, update_id: int) -> Update:
    chat = Chat(id=77, type="private")
    user = User(id=77, is_bot=False, first_name="x")
    return Update(update_id=update_id, message=Message(message_id=update_id, date=datetime(2026, 1, 1, tzinfo=UTC),
                                                       chat=chat, from_user=user, text=text))


@pytest.fixture
def dispatcher() -> Dispatcher:
    router = Router()

    @router.message(F.text == "boom")
    async def boom(_message: Message) -> None:
        raise RuntimeError("handler failed")

    @router.message()
    async def fine(_message: Message) -> None:
        return None

    dp = Dispatcher()
    dp.update.outer_middleware(UpdateMetricsMiddleware())
    dp.include_router(router)
    return dp


async def test_error_outcome_is_counted(dispatcher) -> None:
    bot = Bot("42:TEST-token-never-used-for-requests")
    ok, errors, timed = _count("message", "ok"), _count("message", "error"), _observed("message")
    await dispatcher.feed_update(bot, _message("hello", 1))
    with pytest.raises(RuntimeError):  # no error handler here: it propagates, after being counted
        await dispatcher.feed_update(bot, _message("boom", 2))
    assert _count("message", "ok") == ok + 1
    assert _count("message", "error") == errors + 1
    assert _observed("message") == timed + 2
    await bot.session.close()


async def test_error_handled_by_an_error_handler_still_counts_as_error(dispatcher) -> None:
    handled: list[str] = []

    @dispatcher.errors()
    async def on_error(event: ErrorEvent) -> bool:
        handled.append(type(event.exception).__name__)
        return True

    bot = Bot("42:TEST-token-never-used-for-requests")
    errors = _count("message", "error")
    await dispatcher.feed_update(bot, _message("boom", 3))
    assert handled == ["RuntimeError"] and _count("message", "error") == errors + 1
    await bot.session.close()


def test_event_type_labels() -> None:
    assert update_event_type(_message("x", 1)) == "message"
    assert update_event_type(Update(update_id=5)) == "unknown"  # no known payload
    assert update_event_type(User(id=1, is_bot=False, first_name="x")) == "unknown"
