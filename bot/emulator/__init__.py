"""Local Telegram Bot API emulator.

A faithful-enough stand-in for ``api.telegram.org`` that the unmodified aiogram
``AiohttpSession(api=TelegramAPIServer.from_base(base_url))`` can talk to, plus a
control API (``/_emu/...``) and :class:`EmulatorClient` with which tests and the
interactive sandbox act as human users.

Typical use::

    running = await start_emulator(bots=[BotSeed("123456:TEST", "fupin_demo_bot")])
    async with EmulatorClient(running.base_url, "123456:TEST") as users:
        await users.add_user(1001, "Li")
        sent = await users.send_text(1001, "/start")
        replies = await users.wait_replies(1001, sent["message_id"])
    await running.stop()
"""

from .client import EmulatorClient, EmulatorError, EmulatorTimeout
from .methods import implemented_methods
from .server import BotSeed, Emulator, RunningEmulator, create_app, start_emulator
from .spec import ApiSpec, load_spec
from .state import EmulatorOptions, World

__all__ = [
    "ApiSpec",
    "BotSeed",
    "Emulator",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorOptions",
    "EmulatorTimeout",
    "RunningEmulator",
    "World",
    "create_app",
    "implemented_methods",
    "load_spec",
    "start_emulator",
]
