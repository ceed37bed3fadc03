"""What nobody else handled: free text, unknown commands, media where text is expected,
and stale or forged buttons."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

router = Router(name="fallback")


@router.message(Command("cancel"))
async def cancel(message: Message, state: FSMContext) -> None:
    """/cancel outside any dialog that handles it itself: end whatever state is left."""
    if await state.get_state() is None:
        await message.answer(_("当前没有进行中的操作。"))
        return
    await state.clear()
    await message.answer(_("已取消。"))


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message) -> None:
    await message.answer(_("没有这个命令，或者您没有使用它的权限。发送 /help 查看可用命令。"))


@router.message(F.text)
async def free_text(message: Message, state: FSMContext) -> None:
    # Free text without a dialog state is a policy question (handlers/policy.py). Text only
    # gets here under a state no dialog handles any more (stale): end it.
    await state.clear()
    await message.answer(_("刚才的操作已结束。如果要咨询政策，请重新发送您的问题。"))


@router.message()
async def not_text(message: Message) -> None:
    await message.answer(_("暂时只能处理文字消息，请用文字输入您的问题，或发送 /help 查看可用命令。"))


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("这个按钮已失效，请重新发送命令。"), show_alert=True)
