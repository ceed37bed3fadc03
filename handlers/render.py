"""Renderers for texts shared by several routers (one place per message kind)."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from storage.enums import Role
from storage.models import Account, Cadre, Household, Region
from storage.repositories.regions import display_path


async def describe_binding(session: AsyncSession, account: Account, access: Access) -> str:
    """What this Telegram account is bound to, showing only the user's own data."""
    if access.role is Role.HOUSEHOLD and access.household_id is not None:
        household = await session.get(Household, access.household_id)
        if household is not None:
            village = await session.get(Region, household.village_id)
            return _("身份：建档立卡户\n户编号：{reg_no}\n户主：{name}\n所在村：{village}").format(
                reg_no=escape(household.reg_no),
                name=escape(household.head_name),
                village=escape(display_path(village.path)) if village else "—",
            )
    if access.role is Role.CADRE and access.cadre_id is not None:
        cadre = await session.get(Cadre, access.cadre_id)
        if cadre is not None:
            return _("身份：帮扶干部\n姓名：{name}\n单位：{unit}").format(
                name=escape(cadre.name), unit=escape(cadre.unit or "—")
            )
    if access.role is Role.ADMIN:
        scope = display_path(access.region_path or "") if access.region_path else ""
        if not scope or "/" not in (access.region_path or ""):
            scope = _("全省")
        return _("身份：管理员\n管理范围：{scope}").format(scope=escape(scope))
    return _("您尚未绑定身份。请使用工作人员发给您的邀请链接绑定。")
