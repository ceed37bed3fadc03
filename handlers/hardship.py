"""/hardship (household reports a sudden difficulty), the cadre's acknowledgement and
outcome, /requests (household, cadre and admin views with states)."""

from __future__ import annotations

from aiogram import Router

router = Router(name="hardship")
