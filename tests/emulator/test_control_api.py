"""Control API and EmulatorClient: acting as users against a real aiogram Dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.emulator import EmulatorClient, EmulatorError, EmulatorTimeout, RunningEmulator

from .conftest import BOT_USERNAME, TOKEN, USER_ID

pytestmark = pytest.mark.asyncio

MENU = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="📋 Apply", callback_data="apply"),
            InlineKeyboardButton(text="❓ Help", callback_data="help"),
        ],
        [InlineKeyboardButton(text="Website", url="https://example.org")],
    ]
)


def demo_dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(
            f"Welcome, <b>{message.from_user.first_name if message.from_user else ''}</b>!", parse_mode="HTML"
        )
        await message.answer("Menu:", reply_markup=MENU)

    @dp.callback_query(F.data == "apply")
    async def apply(query: CallbackQuery) -> None:
        await query.answer("Started")
        if isinstance(query.message, Message):
            await query.message.edit_text("Application started")

    return dp


@pytest_asyncio.fixture
async def polling_bot(bot: Bot) -> AsyncIterator[Bot]:
    dp = demo_dispatcher()
    task = asyncio.create_task(
        dp.start_polling(bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
    )
    yield bot
    await dp.stop_polling()
    await asyncio.wait_for(task, 5)


async def test_dispatcher_conversation(polling_bot: Bot, client: EmulatorClient) -> None:
    await client.add_user(USER_ID, "Li")
    replies = await client.ask(USER_ID, "/start", count=2)
    assert [r["text"] for r in replies] == ["Welcome, Li!", "Menu:"]
    assert replies[0]["entities"] == [{"type": "bold", "offset": 9, "length": 2}]
    pressed = await client.press_button(USER_ID, "Apply")
    answer = await client.callback_answer(pressed["callback_query_id"])
    assert answer["answer"]["text"] == "Started"
    [edit] = await client.wait_replies(USER_ID, after_seq=pressed["seq"])
    assert edit["event"] == "edit" and edit["text"] == "Application started"
    assert "reply_markup" not in edit  # edit_text without markup drops the keyboard, like Telegram
    methods = {call["method"] for call in await client.calls()}
    assert {"getMe", "getUpdates", "sendMessage", "answerCallbackQuery", "editMessageText"} <= methods
    assert all(call["spec_ok"] for call in await client.calls())


async def test_wait_replies_times_out_with_partial_events(polling_bot: Bot, client: EmulatorClient) -> None:
    await client.add_user(USER_ID, "Li")
    sent = await client.send_text(USER_ID, "/start")
    with pytest.raises(EmulatorTimeout) as caught:
        await client.wait_replies(USER_ID, sent["message_id"], count=3, timeout=0.5)
    assert len(caught.value.events) == 2


async def test_press_button_selection(bot: Bot, client: EmulatorClient, user: int) -> None:
    await bot.send_message(user, "Menu:", reply_markup=MENU)
    assert (await client.press_button(user, 1))["callback_data"] == "help"
    assert (await client.press_button(user, "Apply"))["callback_data"] == "apply"
    with pytest.raises(EmulatorError, match="no callback_data"):
        await client.press_button(user, "Website")
    with pytest.raises(EmulatorError, match="no unique button"):
        await client.press_button(user, "Missing")
    with pytest.raises(EmulatorError, match="no index"):
        await client.press_button(user, 7)


async def test_user_management_errors(client: EmulatorClient) -> None:
    with pytest.raises(EmulatorError) as caught:
        await client.send_text(31337, "hello")
    assert caught.value.status == 404
    await client.add_user(31337, "Zhao")
    await client.send_text(31337, "hello")
    await client.block(31337)
    with pytest.raises(EmulatorError) as caught:
        await client.send_text(31337, "hello again")
    assert caught.value.status == 409
    with pytest.raises(EmulatorError):
        await client.send_text(31337, "")
    with pytest.raises(EmulatorError, match="decodable image"):
        await client.send_photo(31337, b"nope")


async def test_allowed_updates_filter_new_updates(bot: Bot, client: EmulatorClient, user: int) -> None:
    await bot.get_updates(allowed_updates=["callback_query"])
    sent = await client.send_text(user, "ignored")
    assert sent["update_id"] is None
    await bot.get_updates(allowed_updates=[])  # back to the default set
    assert (await client.send_text(user, "seen"))["update_id"] is not None


async def test_history_chat_info_and_reset(
    emulator: RunningEmulator, bot: Bot, client: EmulatorClient, user: int
) -> None:
    await bot.send_message(user, "hello")
    history = await client.messages(user)
    assert [(m["from_bot"], m["text"]) for m in history] == [(False, "/start"), (True, "hello")]
    assert history[0]["from"]["username"] == "liwei" and history[1]["from"]["username"] == BOT_USERNAME
    info = await client.chat(user)
    assert info["last_message_id"] == 2 and info["blocked"] is False
    assert len(await client.pending_updates()) == 1
    await client.reset()
    assert TOKEN in emulator.state.bots and emulator.state.users == {}
    with pytest.raises(EmulatorError):
        await client.messages(user)
    assert (await bot.get_me()).username == BOT_USERNAME


async def test_forged_press_skips_the_button_check_but_keeps_the_size_limit() -> None:
    from bot.emulator import start_emulator
    from bot.emulator.client import EmulatorClient, EmulatorError

    token = "42:forged-press-token-abcdefghijkl"
    running = await start_emulator(bots=[{"token": token, "username": "forge_bot"}])
    try:
        async with EmulatorClient(running.base_url, token) as client:
            await client.add_user(7, first_name="x")
            from aiogram import Bot
            from aiogram.client.session.aiohttp import AiohttpSession
            from aiogram.client.telegram import TelegramAPIServer
            from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

            await client.send_text(7, "hi")
            bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(running.base_url)))
            markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="a")]])
            sent = await bot.send_message(7, "pick", reply_markup=markup)
            await bot.session.close()
            with pytest.raises(EmulatorError):
                await client.press(7, sent.message_id, "b")
            pressed = await client.press(7, sent.message_id, "b", forged=True)
            assert pressed["callback_query_id"]
            with pytest.raises(EmulatorError):
                await client.press(7, sent.message_id, "x" * 65, forged=True)
    finally:
        await running.stop()
