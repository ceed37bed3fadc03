"""The migrated schema accepts the registry's basic shapes on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.enums import CadreLevel, PovertyCause
from storage.models import Cadre, Household, Pairing, Region
from storage.repositories.regions import RegionRepository, subtree_clause


async def test_region_chain_and_subtree(session):
    repo = RegionRepository(session)
    village = await repo.ensure_chain(["白山市", "长白朝鲜族自治县", "新房子镇", "民主村"])
    again = await repo.ensure_chain(["吉林省", "白山市", "长白朝鲜族自治县", "新房子镇", "民主村"])
    assert village.id == again.id
    await repo.ensure_chain(["白山市", "江源区"])
    await repo.ensure_chain(["白山市_x"])  # LIKE wildcards in names must not leak into scopes
    rows = (await session.scalars(select(Region.path).where(
        subtree_clause(Region.path, "吉林省/白山市")))).all()
    assert "吉林省/白山市/江源区" in rows and "吉林省/白山市_x" not in rows
    assert (await repo.by_path("白山市/长白朝鲜族自治县")).level == "county"


async def test_one_open_pairing_per_household(session):
    village = await RegionRepository(session).ensure_chain(["通化市", "某县", "某镇", "某村"])
    hh = Household(reg_no="H1", head_name="张三", village_id=village.id,
                   causes=PovertyCause.ILLNESS | PovertyCause.LACK_FUNDS)
    c1 = Cadre(code="C1", name="李四", level=CadreLevel.COUNTY, region_id=village.id)
    c2 = Cadre(code="C2", name="王五", level=CadreLevel.COUNTY, region_id=village.id)
    session.add_all([hh, c1, c2])
    await session.flush()
    session.add(Pairing(cadre_id=c1.id, household_id=hh.id, start_date=date(2026, 1, 1),
                        end_date=date(2026, 6, 1)))
    session.add(Pairing(cadre_id=c2.id, household_id=hh.id, start_date=date(2026, 6, 1)))
    await session.commit()
    got = await session.get(Household, hh.id)
    assert PovertyCause.ILLNESS in got.causes
    session.add(Pairing(cadre_id=c1.id, household_id=hh.id, start_date=date(2026, 7, 1)))
    with pytest.raises(IntegrityError):
        await session.commit()
