"""/visit (cadre): the guided dialog that logs a visit; the household's confirmation
(yes / no, rating 1-5); /flags (admin): flagged visits in scope."""

from __future__ import annotations

from aiogram import Router

router = Router(name="visits")
