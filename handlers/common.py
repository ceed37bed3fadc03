"""Commands every user has: /start (welcome by role), /help, /language, /whoami."""

from __future__ import annotations

from html import escape

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.commands import commands_for, register_chat_commands
from bot.i18n import LANGUAGE_NAMES, SUPPORTED
from handlers.keyboards import LanguageCB, language_keyboard
from handlers.render import describe_binding
from storage.enums import Role
from storage.models import Account
from storage.repositories.accounts import AccountRepository

router = Router(name="common")


def welcome_text(access: Access) -> str:
    if access.role is Role.HOUSEHOLD:
        return _("您好！您已绑定为建档立卡户。可以直接输入问题咨询扶贫政策，发送 /help 查看全部功能。")
    if access.role is Role.CADRE:
        return _("您好！您已绑定为帮扶干部。发送 /help 查看您可用的功能。")
    if access.role is Role.ADMIN:
        return _("您好！您已绑定为扶贫办管理员。发送 /help 查看您可用的功能。")
    return _(
        "您好！我是吉林省精准扶贫服务助手。\n"
        "您可以直接输入问题咨询扶贫政策。\n"
        "如果您是建档立卡户、帮扶干部或管理员，请使用工作人员发给您的邀请链接绑定身份。"
    )


@router.message(CommandStart(deep_link=False))
async def cmd_start(message: Message, access: Access) -> None:
    await message.answer(welcome_text(access))


@router.message(Command("help"))
async def cmd_help(message: Message, access: Access) -> None:
    lines = [_("可用命令：")]
    lines += [f"/{name} — {escape(str(text))}" for name, text in commands_for(access.role)]
    if not access.is_bound:
        lines.append("")
        lines.append(_("直接输入文字即可咨询扶贫政策。"))
    await message.answer("\n".join(lines))


@router.message(Command("whoami"))
async def cmd_whoami(message: Message, session: AsyncSession, account: Account, access: Access) -> None:
    await message.answer(await describe_binding(session, account, access))


@router.message(Command("language"))
async def cmd_language(message: Message, i18n: I18n) -> None:
    await message.answer(_("请选择语言："), reply_markup=language_keyboard(i18n.current_locale))


@router.callback_query(LanguageCB.filter(F.locale.in_(SUPPORTED)))
async def on_language(
    query: CallbackQuery,
    callback_data: LanguageCB,
    session: AsyncSession,
    account: Account,
    access: Access,
    i18n: I18n,
    bot: Bot,
) -> None:
    locale = callback_data.locale
    await AccountRepository(session).set_language(account, locale)
    with i18n.use_locale(locale):
        text = _("语言已切换为：{language}").format(language=LANGUAGE_NAMES[locale])
        await query.answer()
        if query.message is not None:
            await bot.edit_message_text(
                text=text, chat_id=account.chat_id, message_id=query.message.message_id
            )
    await register_chat_commands(bot, i18n, account.chat_id, access.role, locale)


@router.callback_query(LanguageCB.filter())
async def on_language_unknown(query: CallbackQuery) -> None:
    await query.answer(_("不支持该语言。"), show_alert=True)
