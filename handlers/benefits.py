"""/benefits: the measures that apply to the bound household, derived from its registry profile."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.policy import render
from bot.policy.benefits import applicable_benefits
from bot.policy.service import PolicyService
from storage.enums import Role
from storage.models import Household

router = Router(name="benefits")


@router.message(Command("benefits"))
async def cmd_benefits(message: Message, session: AsyncSession, access: Access, policy: PolicyService) -> None:
    household = None
    if access.role is Role.HOUSEHOLD and access.household_id is not None:
        household = await session.get(Household, access.household_id)
    if household is None:
        await message.answer(render.benefits_unbound_text())
        return
    benefits = applicable_benefits(household)
    sections = dict(policy.corpus.sections)
    await message.answer(
        render.benefits_text(benefits, sections), reply_markup=render.benefits_keyboard(benefits, sections)
    )
