"""The shared cadre-work registry seeds on both databases."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import Account, Pairing


async def test_seed(people, session) -> None:
    assert await session.scalar(select(func.count()).select_from(Pairing)) == 5
    assert await session.scalar(select(func.count()).select_from(Account)) == 9
    assert people.h1 != people.h5
