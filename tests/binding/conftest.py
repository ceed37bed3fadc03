"""Seed data for the binding tests: a small region tree, households, a cadre, accounts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from storage.enums import CadreLevel, Role
from storage.models import Account, Cadre, Household
from storage.repositories.regions import RegionRepository

COUNTY = "白山市/长白朝鲜族自治县"


@dataclass
class Seed:
    county_id: int
    city_id: int
    village_a_id: int  # 白山市/长白朝鲜族自治县/新房子镇/民主村
    village_b_id: int  # 白山市/长白朝鲜族自治县/十四道沟镇/望天鹅村
    village_other_id: int  # 通化市/集安市/清河镇/野猪沟村 (outside the county)
    households: dict[str, int]  # reg_no -> id
    cadre_id: int
    bound_account_id: int  # bound to household H0004


async def seed(session: AsyncSession) -> Seed:
    regions = RegionRepository(session)
    village_a = await regions.ensure_chain(["白山市", "长白朝鲜族自治县", "新房子镇", "民主村"])
    village_b = await regions.ensure_chain(["白山市", "长白朝鲜族自治县", "十四道沟镇", "望天鹅村"])
    village_other = await regions.ensure_chain(["通化市", "集安市", "清河镇", "野猪沟村"])
    county = await regions.by_path(COUNTY)
    city = await regions.by_path("白山市")
    assert county is not None and city is not None
    rows = [
        ("H0001", "张三", village_a.id),
        ("H0002", "李<四>", village_b.id),
        ("H0003", "王五", village_other.id),
        ("H0004", "赵六", village_a.id),
        ("=H0005", "=SUM(A1)", village_a.id),
    ]
    households = [Household(reg_no=r, head_name=n, village_id=v) for r, n, v in rows]
    cadre = Cadre(code="C001", name="刘干部", level=CadreLevel.COUNTY, region_id=county.id, unit="县扶贫办")
    session.add_all([*households, cadre])
    await session.flush()
    bound = Account(telegram_user_id=9001, chat_id=9001, role=Role.HOUSEHOLD, household_id=households[3].id)
    session.add(bound)
    await session.commit()
    return Seed(
        county_id=county.id,
        city_id=city.id,
        village_a_id=village_a.id,
        village_b_id=village_b.id,
        village_other_id=village_other.id,
        households={h.reg_no: h.id for h in households},
        cadre_id=cadre.id,
        bound_account_id=bound.id,
    )


async def new_account(session: AsyncSession, telegram_user_id: int) -> Account:
    account = Account(telegram_user_id=telegram_user_id, chat_id=telegram_user_id)
    session.add(account)
    await session.commit()
    return account


@pytest.fixture
async def seeded(session: AsyncSession) -> Seed:
    return await seed(session)
