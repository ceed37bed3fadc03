"""Pairings and who may act for a household: the authorization every cadre-work handler
re-checks on each message and button press (callback data can be forged)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Cadre, Household, Pairing, Region
from storage.repositories.regions import subtree_clause


class PairingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open_for_household(self, household_id: int) -> Pairing | None:
        """The household's current pairing (at most one is open), with its cadre."""
        return await self.session.scalar(
            select(Pairing)
            .options(joinedload(Pairing.cadre))
            .where(Pairing.household_id == household_id, Pairing.end_date.is_(None))
        )

    async def open_for_cadre(self, cadre_id: int) -> Sequence[Pairing]:
        """The cadre's open pairings with their households (and villages), by household name."""
        stmt = (
            select(Pairing)
            .join(Household, Household.id == Pairing.household_id)
            .options(joinedload(Pairing.household).joinedload(Household.village))
            .where(Pairing.cadre_id == cadre_id, Pairing.end_date.is_(None))
            .order_by(Household.head_name, Household.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def is_paired(self, cadre_id: int, household_id: int) -> bool:
        return bool(
            await self.session.scalar(
                select(
                    exists().where(
                        Pairing.cadre_id == cadre_id,
                        Pairing.household_id == household_id,
                        Pairing.end_date.is_(None),
                    )
                )
            )
        )

    async def cadre_may_act(self, cadre_id: int, household_id: int) -> bool:
        """A cadre acts for a household (visits, milestones) when paired with it now, or
        when it lies in the village the cadre leads (联系点, Cadre.leader_village_id)."""
        if await self.is_paired(cadre_id, household_id):
            return True
        return bool(
            await self.session.scalar(
                select(
                    exists()
                    .where(Cadre.id == cadre_id, Cadre.leader_village_id.is_not(None))
                    .where(Household.id == household_id, Household.village_id == Cadre.leader_village_id)
                )
            )
        )

    async def household_in_scope(self, region_path: str, household_id: int) -> bool:
        """An admin whose scope is the subtree `region_path` sees this household."""
        return bool(
            await self.session.scalar(
                select(
                    exists()
                    .where(Household.id == household_id, Household.village_id == Region.id)
                    .where(subtree_clause(Region.path, region_path))
                )
            )
        )
