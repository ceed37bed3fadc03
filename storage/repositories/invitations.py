"""Invitations (one-time binding codes) and the account side of binding.

Only the SHA-256 of a code is ever stored. Marking an invitation used is a conditional
UPDATE (`... WHERE used_at IS NULL`) so that two concurrent redeems of one code bind once.
The throttling columns of an account are re-read under a row lock (PostgreSQL
`SELECT ... FOR UPDATE`; SQLite serialises writers anyway) before they are changed, so
parallel attempts from one user cannot lose failure counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import Role
from storage.models import Account, AuditLog, Cadre, Household, Invitation, Region, utcnow
from storage.repositories.regions import subtree_ids


class InvitationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- invitations -------------------------------------------------------------------

    async def add(
        self,
        *,
        code_hash: str,
        role: Role,
        expires_at: datetime,
        created_by: str,
        household_id: int | None = None,
        cadre_id: int | None = None,
        region_id: int | None = None,
        created_at: datetime | None = None,
    ) -> Invitation:
        invitation = Invitation(
            created_at=created_at or utcnow(),
            code_hash=code_hash,
            role=role,
            household_id=household_id,
            cadre_id=cadre_id,
            region_id=region_id,
            expires_at=expires_at,
            created_by=created_by,
        )
        self.session.add(invitation)
        await self.session.flush()
        return invitation

    async def add_many(self, invitations: Sequence[Invitation], audit: Sequence[dict[str, Any]]) -> None:
        """Insert many invitations, then one audit entry each (same order), in two batches.

        `audit[i]` holds AuditLog fields except `object_id`, which is set to the id of
        `invitations[i]` once it is known. The objects are detached afterwards.
        """
        self.session.add_all(invitations)
        await self.session.flush()
        entries = [
            AuditLog(object_id=str(inv.id), **fields) for inv, fields in zip(invitations, audit, strict=True)
        ]
        self.session.add_all(entries)
        await self.session.flush()
        # Bulk runs can cover a whole province: keep the identity map from growing.
        for obj in (*invitations, *entries):
            self.session.expunge(obj)

    async def by_code_hash(self, code_hash: str) -> Invitation | None:
        """The invitation with this hash, always re-read (never a copy cached in the session)."""
        return await self.session.scalar(
            select(Invitation)
            .where(Invitation.code_hash == code_hash)
            .execution_options(populate_existing=True)
        )

    async def mark_used(self, invitation_id: int, account_id: int, now: datetime) -> bool:
        """Claim the invitation for `account_id`; False when someone else claimed it first."""
        result = await self.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id, Invitation.used_at.is_(None))
            .values(used_at=now, used_by_account_id=account_id)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    # --- accounts ----------------------------------------------------------------------

    async def lock_account(self, account: Account) -> None:
        """Re-read the account's binding and throttling state, locking its row until commit."""
        await self.session.refresh(
            account,
            ["role", "household_id", "cadre_id", "admin_region_id", "bind_failures", "bind_blocked_until"],
            with_for_update=True,
        )

    # --- binding targets ---------------------------------------------------------------

    async def household_by_reg_no(self, reg_no: str) -> Household | None:
        return await self.session.scalar(select(Household).where(Household.reg_no == reg_no))

    async def cadre_by_code(self, code: str) -> Cadre | None:
        return await self.session.scalar(select(Cadre).where(Cadre.code == code))

    async def get_household(self, household_id: int) -> Household | None:
        return await self.session.get(Household, household_id)

    async def get_cadre(self, cadre_id: int) -> Cadre | None:
        return await self.session.get(Cadre, cadre_id)

    async def get_region(self, region_id: int) -> Region | None:
        return await self.session.get(Region, region_id)

    async def unbound_households(
        self, region_path: str, *, after_id: int = 0, limit: int = 1000
    ) -> list[tuple[int, str, str, int, str]]:
        """Households of the subtree with no bound household account, by id, one page.

        Rows are (id, reg_no, head_name, village_id, village_name); page with `after_id`.
        """
        bound = exists().where(Account.household_id == Household.id, Account.role == Role.HOUSEHOLD)
        stmt = (
            select(Household.id, Household.reg_no, Household.head_name, Region.id, Region.name)
            .join(Region, Region.id == Household.village_id)
            .where(Household.village_id.in_(subtree_ids(region_path)))
            .where(~bound)
            .where(Household.id > after_id)
            .order_by(Household.id)
            .limit(limit)
        )
        return [tuple(row) for row in (await self.session.execute(stmt)).all()]  # type: ignore[misc]
