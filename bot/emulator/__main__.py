"""Run the Bot API emulator standalone.

Example::

    python -m bot.emulator --port 8081 --token 123456:TEST --username fupin_demo_bot

Point the bot at it with ``TelegramAPIServer.from_base("<printed base URL>")``.
Several bots: repeat ``--token``/``--username`` (paired in order).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .server import BotSeed, start_emulator
from .spec import SPEC_ENV_VAR

DEFAULT_TOKEN = "123456789:EMULATOR-token"
DEFAULT_USERNAME = "fupin_demo_bot"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.emulator", description="Local Telegram Bot API emulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", action="append", help=f"bot token (repeatable; default {DEFAULT_TOKEN})")
    parser.add_argument("--username", action="append", help="bot username, paired with --token")
    parser.add_argument("--first-name", action="append", help="bot display name, paired with --token")
    parser.add_argument(
        "--spec", help=f"path to api.json (default: ${SPEC_ENV_VAR}, shared copy, vendored subset)"
    )
    parser.add_argument("--global-rate-limit", type=int, help="messages per second per bot")
    parser.add_argument("--per-chat-rate-limit", type=int, help="messages per second per chat")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    args.token = args.token or [DEFAULT_TOKEN]
    args.username = args.username or [DEFAULT_USERNAME]
    if len(args.username) != len(args.token):
        parser.error("give one --username per --token")
    return args


def bot_seeds(args: argparse.Namespace) -> list[BotSeed]:
    names = args.first_name or []
    return [
        BotSeed(token, username, names[index] if index < len(names) else None)
        for index, (token, username) in enumerate(zip(args.token, args.username, strict=True))
    ]


async def serve(args: argparse.Namespace) -> None:
    running = await start_emulator(
        args.host,
        args.port,
        bots=bot_seeds(args),
        spec_path=args.spec,
        global_rate_limit=args.global_rate_limit,
        per_chat_rate_limit=args.per_chat_rate_limit,
    )
    spec = running.emulator.spec
    print(f"Bot API emulator listening on {running.base_url}", flush=True)
    print(f"  spec: {spec.version} ({'vendored subset' if spec.is_subset else spec.source})", flush=True)
    for bot in running.state.bots.values():
        print(f"  bot @{bot.username}: {running.base_url}/bot<token>/getMe", flush=True)
    print(f"  control API: {running.base_url}/_emu/", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))


if __name__ == "__main__":
    main()
