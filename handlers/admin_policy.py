"""/reload_policy (admins): reload the policy corpus; on failure keep serving the last good one."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import RoleFilter
from bot.policy import render
from bot.policy.corpus import CorpusError
from bot.policy.service import PolicyService
from storage.enums import Role
from storage.models import Account
from storage.repositories.audit import AuditRepository

log = logging.getLogger(__name__)
router = Router(name="admin_policy")

ACTION_RELOAD = "policy.reload"


@router.message(Command("reload_policy"), RoleFilter(Role.ADMIN))
async def cmd_reload_policy(
    message: Message, session: AsyncSession, account: Account, policy: PolicyService
) -> None:
    audit = AuditRepository(session)
    actor = f"account:{account.id}"
    try:
        corpus = await asyncio.to_thread(policy.reload)
    except CorpusError as exc:
        count = len(policy.corpus.sections)
        log.warning("policy reload by %s failed: %s", actor, exc)
        await audit.record(
            actor, ACTION_RELOAD, region_id=account.admin_region_id, object_type="policy",
            details={"ok": False, "error": str(exc)[:500], "sections": count},
        )
        await session.commit()
        await message.answer(render.reload_failed_text(str(exc), count))
        return
    count = len(corpus.sections)
    log.info("policy reloaded by %s: %s sections", actor, count)
    await audit.record(
        actor, ACTION_RELOAD, region_id=account.admin_region_id, object_type="policy",
        details={"ok": True, "sections": count},
    )
    await session.commit()
    await message.answer(render.reload_ok_text(count))
