"""What nobody else handled: free text, unknown commands, media where text is expected,
and stale or forged buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

router = Router(name="fallback")


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message) -> None:
    await message.answer(_("没有这个命令，或者您没有使用它的权限。发送 /help 查看可用命令。"))


@router.message(F.text)
async def free_text(message: Message) -> None:
    # Issue #3 turns this into the cited policy question-answering engine.
    await message.answer(
        _("收到您的问题。政策问答功能正在建设中，请稍后再试；也可以发送 /help 查看可用命令。")
    )


@router.message()
async def not_text(message: Message) -> None:
    await message.answer(_("暂时只能处理文字消息，请用文字输入您的问题，或发送 /help 查看可用命令。"))


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("这个按钮已失效，请重新发送命令。"), show_alert=True)
