"""`/start <code>`: bind the account with a one-time invitation (logic in bot/invitations.py)."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import register_chat_commands
from bot.invitations import private_chat_only_reply, redeem, redeem_reply
from storage.models import Account

log = logging.getLogger(__name__)
router = Router(name="binding")


@router.message(CommandStart(deep_link=True))
async def cmd_start_code(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    account: Account | None,
    i18n: I18n,
    bot: Bot,
) -> None:
    if account is None:
        return
    if message.chat.type != ChatType.PRIVATE:
        await message.answer(private_chat_only_reply())
        return
    result = await redeem(session, account, command.args)
    # Keep the binding (or the failure count) even if replying fails below.
    await session.commit()
    await message.answer(redeem_reply(result))
    if result.ok:
        await register_chat_commands(bot, i18n, account.chat_id, result.role, i18n.current_locale)
