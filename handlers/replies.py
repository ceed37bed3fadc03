"""Reply helpers shared by the routers (not a router itself)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup

from storage.models import Account


async def show_in_place(
    query: CallbackQuery, bot: Bot, account: Account, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Replace the pressed message's text and buttons (a new message if it is gone or too old
    to edit; nothing when the content is unchanged)."""
    if query.message is None:
        await bot.send_message(account.chat_id, text, reply_markup=markup)
        return
    try:
        await bot.edit_message_text(
            text=text, chat_id=account.chat_id, message_id=query.message.message_id, reply_markup=markup
        )
    except TelegramBadRequest as exc:
        if "not modified" not in str(exc):  # e.g. too old to edit: send it anew
            await bot.send_message(account.chat_id, text, reply_markup=markup)
