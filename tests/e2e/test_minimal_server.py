"""The bot needs nothing but the Bot API: on a server that knows neither setMyCommands nor
deleteWebhook (an outside harness may be that small) it still starts and answers."""

from __future__ import annotations

import asyncio

from bot.app import build_application
from bot.emulator import start_emulator
from bot.emulator.client import EmulatorClient
from bot.emulator.spec import ApiSpec, load_spec
from bot.runner import on_startup
from tests.conftest import TEST_TOKEN


def _spec_without(*methods: str) -> ApiSpec:
    raw = dict(load_spec().raw)
    raw["methods"] = {k: v for k, v in raw["methods"].items() if k not in methods}
    raw["other_methods"] = [m for m in raw.get("other_methods", []) if m not in methods]
    return ApiSpec(raw)


async def test_bot_runs_without_command_menus_or_webhooks(settings, shipped_policy) -> None:
    running = await start_emulator(
        bots=[{"token": TEST_TOKEN, "username": "fupin_test_bot"}],
        spec=_spec_without("setMyCommands", "deleteWebhook"),
    )
    app = build_application(settings.model_copy(update={"telegram_api_url": running.base_url}),
                            policy=shipped_policy)
    try:
        await on_startup(app)  # setMyCommands answers 404 here: logged, not fatal
        polling = asyncio.create_task(app.dispatcher.start_polling(
            app.bot, handle_signals=False, close_bot_session=False, polling_timeout=1))
        async with EmulatorClient(running.base_url, TEST_TOKEN) as tg:
            await tg.add_user(5001, first_name="甲", language_code="zh-hans")
            [reply] = await tg.ask(5001, "/start")
            assert "扶贫" in reply["text"]
            await tg.ask(5001, "/language")
            pressed = await tg.press_button(5001, "English")
            [edited] = await tg.wait_replies(5001, after_seq=pressed["seq"])
            assert "English" in edited["text"]  # the chat menu update failed quietly
            refused = [c for c in await tg.calls() if c["method"].lower() == "setmycommands"]
            assert refused and all(c["status"] == 404 for c in refused)
        await app.dispatcher.stop_polling()
        await asyncio.wait_for(polling, timeout=10)
    finally:
        await app.close()
        await running.stop()
