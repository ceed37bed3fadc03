"""CallbackData factories and keyboards shared by the common handlers."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import LANGUAGE_NAMES


class LanguageCB(CallbackData, prefix="lang"):
    locale: str


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for locale, name in LANGUAGE_NAMES.items():
        mark = "✓ " if locale == current else ""
        kb.button(text=f"{mark}{name}", callback_data=LanguageCB(locale=locale))
    kb.adjust(3)
    return kb.as_markup()
