"""The cadre-work registry and the bot on the emulator, for the broadcast tests."""

from __future__ import annotations

from tests.work.conftest import app, chat_people, emulator, people, policy, shipped_policy, tg  # noqa: F401
