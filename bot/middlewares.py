"""Update middlewares, in order: DB session per update → account and role → locale."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import normalize_locale
from storage.models import Account


class DbSessionMiddleware(BaseMiddleware):
    """One session (one transaction) per update: committed on success, rolled back on error."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self.sessionmaker() as session:
            data["session"] = session
            try:
                result = await handler(event, data)
            except BaseException:
                # Detach first: a rollback would expire the loaded objects, and the error
                # handler (run after this session is gone) still reads the account's language.
                session.expunge_all()
                await session.rollback()
                raise
            await session.commit()
            return result


class LocaleMiddleware(I18nMiddleware):
    """Picks the catalog: the language chosen with /language, else Telegram's language_code.

    Unlike aiogram's SimpleI18nMiddleware, codes such as `zh-hans` or `ko-KR` are mapped to
    our catalogs by `normalize_locale` instead of falling back to the default.
    """

    def __init__(self, i18n: I18n) -> None:
        super().__init__(i18n=i18n)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        account: Account | None = data.get("account")
        if account is not None and account.language in self.i18n.available_locales:
            return account.language
        user = data.get("event_from_user")
        locale = normalize_locale(getattr(user, "language_code", None))
        if locale in self.i18n.available_locales:
            return locale
        return self.i18n.default_locale
