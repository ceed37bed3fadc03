"""Small helpers shared by the policy chat tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.emulator.client import EmulatorClient

DOC = "关于全面推进脱贫攻坚的实施意见"
ERROR_REPLY = "抱歉，处理您的请求时出错了"


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for b in buttons(message)]


async def ask_one(tg: EmulatorClient, user_id: int, text: str) -> dict[str, Any]:
    [reply] = await tg.ask(user_id, text)
    return reply


async def last_bot_message(tg: EmulatorClient, user_id: int) -> dict[str, Any]:
    return [m for m in await tg.messages(user_id) if m["from_bot"]][-1]


async def count(sessionmaker, model, *where) -> int:
    async with sessionmaker() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def rows(sessionmaker, model, *where) -> list[Any]:
    async with sessionmaker() as s:
        return list((await s.scalars(select(model).where(*where).order_by(model.id))).all())


def citation(i18n, locale: str, label: str) -> str:
    return i18n.gettext("依据：{source}", locale=locale).format(source=f"《{DOC}》（{label}）")


def is_korean(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)
