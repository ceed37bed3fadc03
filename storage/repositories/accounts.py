"""Telegram accounts: find-or-create on every update, language choice, role binding."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Account, utcnow


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_user_id: int) -> Account | None:
        return await self.session.scalar(
            select(Account).where(Account.telegram_user_id == telegram_user_id)
        )

    async def touch(self, telegram_user_id: int, chat_id: int, language_code: str | None) -> Account:
        """The account of this Telegram user, created on first contact; marks it active."""
        account = await self.by_telegram_id(telegram_user_id)
        if account is None:
            account = Account(telegram_user_id=telegram_user_id, chat_id=chat_id)
            self.session.add(account)
        account.chat_id = chat_id
        account.telegram_language = language_code
        account.is_active = True
        account.last_seen_at = utcnow()
        await self.session.flush()
        return account

    async def set_language(self, account: Account, locale: str) -> None:
        account.language = locale
        await self.session.flush()
