"""Binding each role through invitation deep links, end to end through the emulator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.invitations import admin_target, cadre_target, create_invitation, household_target
from storage.enums import Role
from storage.models import Account
from tests.binding.conftest import seed
from tests.e2e.conftest import texts

pytestmark = pytest.mark.usefixtures("app")


async def _code(sessionmaker, make_target, key: str) -> str:
    async with sessionmaker() as s:
        issued = await create_invitation(s, await make_target(s, key), ttl_days=14)
        await s.commit()
        return issued.code


async def _account(sessionmaker, user_id: int) -> Account:
    async with sessionmaker() as s:
        return await s.scalar(select(Account).where(Account.telegram_user_id == user_id))


@pytest.fixture
async def seeded(sessionmaker):
    async with sessionmaker() as s:
        return await seed(s)


async def test_each_role_binds_and_gets_its_menu(tg, sessionmaker, seeded) -> None:
    household_code = await _code(sessionmaker, household_target, "H0001")
    cadre_code = await _code(sessionmaker, cadre_target, "C001")
    admin_code = await _code(sessionmaker, admin_target, "白山市/长白朝鲜族自治县")
    await tg.add_user(2001, first_name="张", language_code="zh-hans")
    await tg.add_user(2002, first_name="김", language_code="ko")
    await tg.add_user(2003, first_name="Ann", language_code="en")

    [zh] = await texts(tg, 2001, f"/start {household_code}")
    [ko] = await texts(tg, 2002, f"/start {cadre_code}")
    [en] = await texts(tg, 2003, f"/start {admin_code}")
    assert "H0001" in zh and "张三" in zh
    assert "刘干部" in ko and any("\uac00" <= ch <= "\ud7a3" for ch in ko)
    assert "长白朝鲜族自治县" in en and "admin" in en.lower()

    assert (await _account(sessionmaker, 2001)).role is Role.HOUSEHOLD
    assert (await _account(sessionmaker, 2002)).role is Role.CADRE
    admin = await _account(sessionmaker, 2003)
    assert admin.role is Role.ADMIN and admin.admin_region_id == seeded.county_id

    [whoami] = await texts(tg, 2001, "/whoami")
    assert "H0001" in whoami
    chat_scopes = {c["scope"].get("chat_id") for c in await tg.commands() if c["scope"]["type"] == "chat"}
    assert {2001, 2002, 2003} <= chat_scopes


async def test_code_is_single_use_and_wrong_codes_are_refused(tg, sessionmaker, seeded) -> None:
    code = await _code(sessionmaker, household_target, "H0002")
    await tg.add_user(2011, first_name="甲", language_code="zh-hans")
    await tg.add_user(2012, first_name="乙", language_code="zh-hans")
    [ok] = await texts(tg, 2011, f"/start {code}")
    assert "H0002" in ok
    [used] = await texts(tg, 2012, f"/start {code}")
    assert "H0002" not in used and "李" not in used  # never reveals whose code it was
    [forged] = await texts(tg, 2012, "/start AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert "邀请" in forged
    assert (await _account(sessionmaker, 2012)).role is None


async def test_repeated_wrong_codes_are_slowed_down(tg, sessionmaker, seeded) -> None:
    await tg.add_user(2021, first_name="丙", language_code="zh-hans")
    replies = [(await texts(tg, 2021, f"/start wrongcode{i}"))[0] for i in range(6)]
    assert "分钟" in replies[-1]
    good = await _code(sessionmaker, household_target, "H0001")
    [blocked] = await texts(tg, 2021, f"/start {good}")
    assert "分钟" in blocked and "H0001" not in blocked
    assert (await _account(sessionmaker, 2021)).role is None
