"""Who is talking and what they may see: the one place roles and scopes are decided.

`AccessMiddleware` resolves the Telegram user to an `Account` and an `Access` for every
update; handlers never inspect roles themselves, they are guarded by `RoleFilter`, and
repositories receive `Access.region_path` to limit admins to their region subtree.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.filters import Filter
from aiogram.types import TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import Role
from storage.models import Account
from storage.repositories.accounts import AccountRepository
from storage.repositories.regions import PROVINCE_NAME


@dataclass(frozen=True, slots=True)
class Access:
    """The resolved role of the current user. `role is None` means the public menu only."""

    role: Role | None
    account_id: int | None = None
    household_id: int | None = None
    cadre_id: int | None = None
    # For admins: the full path of the region subtree they may see (the province for 'all').
    region_path: str | None = None

    @classmethod
    def of(cls, account: Account | None) -> Access:
        if account is None or account.role is None:
            return cls(role=None, account_id=account.id if account else None)
        region_path = None
        if account.role is Role.ADMIN:
            region_path = account.admin_region.path if account.admin_region else PROVINCE_NAME
        return cls(
            role=account.role,
            account_id=account.id,
            household_id=account.household_id,
            cadre_id=account.cadre_id,
            region_path=region_path,
        )

    @property
    def is_bound(self) -> bool:
        return self.role is not None


class AccessMiddleware(BaseMiddleware):
    """Outer update middleware: loads (or creates) the account, puts `account` and `access`."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        session: AsyncSession = data["session"]
        account = None
        if user is not None and not user.is_bot:
            chat = data.get("event_chat")
            chat_id = chat.id if chat is not None else user.id
            account = await AccountRepository(session).touch(user.id, chat_id, user.language_code, user.username)
            if account.admin_region_id is not None:
                await session.refresh(account, ["admin_region"])
        data["account"] = account
        data["access"] = Access.of(account)
        return await handler(event, data)


class RoleFilter(Filter):
    """Passes when the current user has one of `roles`; other events fall through."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, event: TelegramObject, access: Access) -> bool:
        return access.role in self.roles
