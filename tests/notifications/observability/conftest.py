"""Fixtures for the observability tests: the bot on the emulator (for handler metrics)."""

from __future__ import annotations

from tests.e2e.conftest import app, emulator, policy, shipped_policy, tg  # noqa: F401
