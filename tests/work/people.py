"""A small registry for the cadre-work tests (issue #4), shared by tests/work_*.

示范县 (county) holds 示范镇 with two villages. Cadre 刘 (bound, zh) is paired with H1
(bound, zh), H2 (bound, ko) and H3 (not bound); cadre 朴 (bound, ko) with H5 in the other
village; 李 supervises 刘 (bound); cadre 孙 has no Telegram account and is paired with H4
(bound). The county admin sees all of it; the other-county admin sees none of it.
Pairings start on 2026-11-01; no visits or milestones are seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from storage.enums import CadreLevel, HouseholdStatus, HousingGrade, PovertyCause, Role
from storage.models import Account, Cadre, Household, Pairing
from storage.repositories.regions import RegionRepository

COUNTY = ["吉林省", "示范市", "示范县"]
VILLAGE_1 = [*COUNTY, "示范镇", "一村"]
VILLAGE_2 = [*COUNTY, "示范镇", "二村"]
OTHER_COUNTY = ["吉林省", "示范市", "邻县"]
PAIRED_SINCE = date(2026, 11, 1)

H1_USER = 4001  # household H1, zh
H2_USER = 4002  # household H2, ko
H4_USER = 4004  # household H4 (its cadre has no Telegram account)
H5_USER = 4005  # household H5 (another cadre's)
CADRE_USER = 4101  # 刘, zh: H1 H2 H3
CADRE_KO_USER = 4102  # 朴, ko: H5
SUPERVISOR_USER = 4103  # 李, 刘's supervisor
ADMIN_USER = 4201  # county admin (示范县)
OTHER_ADMIN_USER = 4202  # admin of 邻县: sees none of this
PUBLIC_USER = 4301  # not bound


@dataclass
class WorkPeople:
    village_1: int
    village_2: int
    county: int
    h1: int
    h2: int
    h3: int
    h4: int
    h5: int
    cadre: int  # 刘
    cadre_ko: int  # 朴
    supervisor: int  # 李
    unbound_cadre: int  # 孙
    pairing_h1: int
    pairing_h2: int
    pairing_h3: int


async def seed_work(sessionmaker) -> WorkPeople:
    async with sessionmaker() as s:
        regions = RegionRepository(s)
        v1 = await regions.ensure_chain(VILLAGE_1)
        v2 = await regions.ensure_chain(VILLAGE_2)
        county = await regions.by_path("/".join(COUNTY))
        other = await regions.ensure_chain(OTHER_COUNTY)
        h1 = Household(reg_no="W0001", head_name="张大山", village_id=v1.id, members=4,
                       causes=PovertyCause.ILLNESS | PovertyCause.SCHOOLING, students=1,
                       housing_grade=HousingGrade.C, status=HouseholdStatus.NOT_LIFTED)
        h2 = Household(reg_no="W0002", head_name="김순자", village_id=v1.id, members=2)
        h3 = Household(reg_no="W0003", head_name="王<小>二", village_id=v1.id)  # markup in a name
        h4 = Household(reg_no="W0004", head_name="赵四", village_id=v1.id)
        h5 = Household(reg_no="W0005", head_name="박철수", village_id=v2.id)
        supervisor = Cadre(code="WS01", name="李主任", level=CadreLevel.COUNTY, region_id=county.id)
        s.add_all([h1, h2, h3, h4, h5, supervisor])
        await s.flush()
        cadre = Cadre(code="WC01", name="刘干部", level=CadreLevel.TOWNSHIP, region_id=v1.id,
                      supervisor_id=supervisor.id)
        cadre_ko = Cadre(code="WC02", name="박간부", level=CadreLevel.TOWNSHIP, region_id=v2.id,
                         supervisor_id=supervisor.id)
        unbound = Cadre(code="WC03", name="孙干部", level=CadreLevel.VILLAGE, region_id=v1.id)
        s.add_all([cadre, cadre_ko, unbound])
        await s.flush()
        p1 = Pairing(cadre_id=cadre.id, household_id=h1.id, start_date=PAIRED_SINCE)
        p2 = Pairing(cadre_id=cadre.id, household_id=h2.id, start_date=PAIRED_SINCE)
        p3 = Pairing(cadre_id=cadre.id, household_id=h3.id, start_date=PAIRED_SINCE)
        s.add_all([
            p1, p2, p3,
            Pairing(cadre_id=unbound.id, household_id=h4.id, start_date=PAIRED_SINCE),
            Pairing(cadre_id=cadre_ko.id, household_id=h5.id, start_date=PAIRED_SINCE),
        ])
        s.add_all([
            Account(telegram_user_id=H1_USER, chat_id=H1_USER, role=Role.HOUSEHOLD, household_id=h1.id),
            Account(telegram_user_id=H2_USER, chat_id=H2_USER, role=Role.HOUSEHOLD, household_id=h2.id,
                    language="ko"),
            Account(telegram_user_id=H4_USER, chat_id=H4_USER, role=Role.HOUSEHOLD, household_id=h4.id),
            Account(telegram_user_id=H5_USER, chat_id=H5_USER, role=Role.HOUSEHOLD, household_id=h5.id,
                    language="ko"),
            Account(telegram_user_id=CADRE_USER, chat_id=CADRE_USER, role=Role.CADRE, cadre_id=cadre.id),
            Account(telegram_user_id=CADRE_KO_USER, chat_id=CADRE_KO_USER, role=Role.CADRE,
                    cadre_id=cadre_ko.id, language="ko"),
            Account(telegram_user_id=SUPERVISOR_USER, chat_id=SUPERVISOR_USER, role=Role.CADRE,
                    cadre_id=supervisor.id),
            Account(telegram_user_id=ADMIN_USER, chat_id=ADMIN_USER, role=Role.ADMIN, admin_region_id=county.id),
            Account(telegram_user_id=OTHER_ADMIN_USER, chat_id=OTHER_ADMIN_USER, role=Role.ADMIN,
                    admin_region_id=other.id),
        ])
        await s.commit()
        return WorkPeople(v1.id, v2.id, county.id, h1.id, h2.id, h3.id, h4.id, h5.id, cadre.id,
                          cadre_ko.id, supervisor.id, unbound.id, p1.id, p2.id, p3.id)


USERS = {
    H1_USER: ("张", "zh-hans"),
    H2_USER: ("순자", "ko"),
    H4_USER: ("赵", "zh-hans"),
    H5_USER: ("철수", "ko"),
    CADRE_USER: ("刘", "zh-hans"),
    CADRE_KO_USER: ("박", "ko"),
    SUPERVISOR_USER: ("李", "zh-hans"),
    ADMIN_USER: ("管理员", "zh-hans"),
    OTHER_ADMIN_USER: ("邻县管理员", "zh-hans"),
    PUBLIC_USER: ("Pub", "zh-hans"),
}


async def open_chats(tg) -> None:
    """Register the Telegram users in the emulator and open a chat with the bot for each
    (the bot can only write to people who have written to it)."""
    for user_id, (name, language) in USERS.items():
        await tg.add_user(user_id, first_name=name, language_code=language)
    for user_id in USERS:
        await tg.ask(user_id, "/start")
