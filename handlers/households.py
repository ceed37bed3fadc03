"""/households (cadre: paired households; admin: households in scope), a household's card,
and /today (cadre: what is due today and this week). Thin: parse, call bot/work, reply."""

from __future__ import annotations

from aiogram import Router

router = Router(name="households")
