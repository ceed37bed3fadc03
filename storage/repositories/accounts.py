"""Telegram accounts: find-or-create on every update, language choice, role binding."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import Role
from storage.models import Account, utcnow

LAST_SEEN_RESOLUTION = timedelta(minutes=1)


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_user_id: int) -> Account | None:
        return await self.session.scalar(
            select(Account).where(Account.telegram_user_id == telegram_user_id)
        )

    async def touch(
        self, telegram_user_id: int, chat_id: int, language_code: str | None, username: str | None = None
    ) -> Account:
        """The account of this Telegram user, created on first contact; marks it active and
        keeps its current @username (lowercase; for named broadcast test accounts)."""
        account = await self.by_telegram_id(telegram_user_id)
        if account is None:
            account = Account(telegram_user_id=telegram_user_id, chat_id=chat_id)
            self.session.add(account)
        account.chat_id = chat_id
        account.telegram_language = language_code
        account.username = username.lower() if username else None
        account.is_active = True
        now = utcnow()
        # every update of a dialog would otherwise write the row; to the minute is enough
        # (it orders accounts that share a @username, newest first)
        if account.last_seen_at is None or now - account.last_seen_at >= LAST_SEEN_RESOLUTION:
            account.last_seen_at = now
        await self.session.flush()
        return account

    async def set_language(self, account: Account, locale: str) -> None:
        account.language = locale
        await self.session.flush()

    async def active_for_cadre(self, cadre_id: int) -> Sequence[Account]:
        """The active Telegram accounts bound to this cadre."""
        return await self._active(Role.CADRE, Account.cadre_id == cadre_id)

    async def active_for_household(self, household_id: int) -> Sequence[Account]:
        """The active Telegram accounts bound to this household."""
        return await self._active(Role.HOUSEHOLD, Account.household_id == household_id)

    async def _active(self, role: Role, bound_to: ColumnElement[bool]) -> Sequence[Account]:
        stmt = (
            select(Account)
            .where(Account.role == role, bound_to, Account.is_active.is_(True))
            .order_by(Account.id)
        )
        return (await self.session.scalars(stmt)).all()
