"""The chat commands of each role: one table feeds /help and setMyCommands."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from storage.enums import Role

log = logging.getLogger(__name__)

# Telegram's setMyCommands takes two-letter ISO 639-1 codes.
TELEGRAM_LANGUAGE_CODES = {"zh_Hans": "zh", "ko": "ko", "en": "en"}

PUBLIC: list[tuple[str, LazyProxy]] = [
    ("start", __("开始使用，或用邀请码绑定身份")),
    ("help", __("查看可用命令")),
    ("language", __("切换语言")),
    ("whoami", __("查看我绑定的身份")),
    ("topics", __("按主题查看扶贫政策")),
]

ROLE_COMMANDS: dict[Role, list[tuple[str, LazyProxy]]] = {
    Role.HOUSEHOLD: [
        ("benefits", __("查看我家可能享受的政策")),
        ("plan", __("查看我家的帮扶计划")),
        ("hardship", __("报告新遇到的困难")),
        ("requests", __("查看困难报告的办理情况")),
        ("cancel", __("取消当前操作")),
    ],
    Role.CADRE: [
        ("today", __("今天和本周要做的事")),
        ("households", __("我帮扶的贫困户")),
        ("visit", __("登记一次走访")),
        ("milestone", __("给贫困户添加计划事项")),
        ("requests", __("贫困户报告的困难")),
        ("cancel", __("取消当前操作")),
    ],
    Role.ADMIN: [
        ("households", __("辖区内的贫困户")),
        ("flags", __("存疑的走访记录")),
        ("requests", __("辖区内的困难报告")),
        ("reload_policy", __("重新加载政策库")),
        ("broadcast", __("发布广播通知")),
        ("broadcasts", __("查看广播及发送进度")),
        ("audit", __("查看辖区内的操作记录")),
        ("report", __("辖区工作进度图表")),
        ("export", __("导出报表（Excel 或 CSV）")),
    ],
}


def commands_for(role: Role | None) -> list[tuple[str, LazyProxy]]:
    return PUBLIC + (ROLE_COMMANDS.get(role, []) if role else [])


def bot_commands(role: Role | None, i18n: I18n, locale: str) -> list[BotCommand]:
    with i18n.context(), i18n.use_locale(locale):
        return [BotCommand(command=name, description=str(text)) for name, text in commands_for(role)]


async def register_default_commands(bot: Bot, i18n: I18n) -> None:
    """The public menu for every language (and the default language without a code).

    Menus are a convenience: a Bot API server that refuses setMyCommands is logged, and the
    bot starts anyway (it must work against any server that speaks the Bot API).
    """
    try:
        for locale in i18n.available_locales:
            await bot.set_my_commands(
                bot_commands(None, i18n, locale),
                scope=BotCommandScopeDefault(),
                language_code=TELEGRAM_LANGUAGE_CODES.get(locale),
            )
        await bot.set_my_commands(
            bot_commands(None, i18n, i18n.default_locale), scope=BotCommandScopeDefault()
        )
    except TelegramAPIError as exc:
        log.warning("could not set the default command menus: %s", type(exc).__name__)


async def register_chat_commands(bot: Bot, i18n: I18n, chat_id: int, role: Role | None, locale: str) -> None:
    """The menu of one chat after it is bound to a role or changes language (never raises
    for a Bot API refusal: the reply the user waits for matters more than the menu)."""
    try:
        await bot.set_my_commands(
            bot_commands(role, i18n, locale), scope=BotCommandScopeChat(chat_id=chat_id)
        )
    except TelegramAPIError as exc:
        log.warning("could not set a chat's command menu: %s", type(exc).__name__)
