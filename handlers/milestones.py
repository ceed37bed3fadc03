"""Plan milestones: /milestone (cadre adds one), marking one done with evidence, /plan
(a household's own plan)."""

from __future__ import annotations

from aiogram import Router

router = Router(name="milestones")
