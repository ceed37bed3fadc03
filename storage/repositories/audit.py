"""Audit log writes and reads (admin actions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditLog


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        actor: str,
        action: str,
        *,
        region_id: int | None = None,
        object_type: str | None = None,
        object_id: str | int | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditLog:
        """Append an entry in the caller's transaction (so it commits or rolls back with it)."""
        entry = AuditLog(
            actor=actor,
            action=action,
            region_id=region_id,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            details=details or {},
        )
        self.session.add(entry)
        await self.session.flush()
        return entry
