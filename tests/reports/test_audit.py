"""The audit trail (issue #6 part 3) on SQLite and PostgreSQL: the repository's scope and
keyset paging, the display rows (no personal data), /audit through the emulator (paging,
forged cursors, non-admins, the empty state) and `fupin-bot audit` (CSV, --since, --region,
one-line errors with exit status 2).

The registry is tests/work/people.py (示范县 with two villages, 邻县 beside it) plus a
province-wide admin; the audit entries are written here with fixed times.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main_group
from bot.commands import commands_for
from bot.i18n import create_i18n
from bot.invitations import cadre_target, create_invitation
from bot.reports import audit as service
from bot.reports.audit import AuditPageCB
from storage.db import create_engine, create_sessionmaker
from storage.enums import CadreLevel, Role
from storage.models import Account, AuditLog, Cadre, Household
from storage.repositories.audit import ActorInfo, AuditRepository
from storage.repositories.regions import PROVINCE_NAME, RegionRepository
from tests.e2e.conftest import app, emulator, policy, shipped_policy, tg  # noqa: F401
from tests.work.conftest import chat_people, people  # noqa: F401
from tests.work.people import (
    ADMIN_USER,
    CADRE_USER,
    COUNTY,
    H1_USER,
    OTHER_ADMIN_USER,
    OTHER_COUNTY,
    PUBLIC_USER,
    VILLAGE_1,
    VILLAGE_2,
    seed_work,
)

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
COUNTY_PATH = "/".join(COUNTY)
OTHER_PATH = "/".join(OTHER_COUNTY)
VILLAGE_1_PATH = "/".join(VILLAGE_1)
PROVINCE_ADMIN_USER = 4299
MILESTONES = 12  # milestone.add entries in 一村, one a minute from T0 + 1 min
REFUSAL = "没有这个命令，或者您没有使用它的权限"


@dataclass
class Seeded:
    ids: dict[str, list[int]]  # kind -> AuditLog ids
    accounts: dict[int, int]  # telegram user id -> account id

    def all_ids(self) -> list[int]:
        return sorted(i for ids in self.ids.values() for i in ids)

    def county_ids(self) -> list[int]:
        return sorted(self.ids["milestone"] + self.ids["invitation"] + self.ids["custom"] + self.ids["bulk"])


async def seed_audit(sessionmaker) -> Seeded:
    """Entries in and out of 示范县, province-wide ones, three with the same time, and an
    unknown action whose details hold a name (never to be shown)."""
    async with sessionmaker() as s:
        province_admin = Account(telegram_user_id=PROVINCE_ADMIN_USER, chat_id=PROVINCE_ADMIN_USER,
                                 role=Role.ADMIN, username="prov_admin")
        s.add(province_admin)
        await s.flush()
        accounts = {
            a.telegram_user_id: a.id for a in (await s.scalars(select(Account))).all()
        }
        regions = RegionRepository(s)
        county = (await regions.by_path(COUNTY_PATH)).id
        other = (await regions.by_path(OTHER_PATH)).id
        village_1 = (await regions.by_path(VILLAGE_1_PATH)).id
        village_2 = (await regions.by_path("/".join(VILLAGE_2))).id

        def entry(minutes: int, actor: str, action: str, region_id: int | None, **details) -> AuditLog:
            return AuditLog(at=T0 + timedelta(minutes=minutes), actor=actor, action=action, region_id=region_id,
                            object_type="test", object_id=str(minutes), details=details)

        kinds: dict[str, list[AuditLog]] = {
            "import": [entry(0, "cli", "import.households", None, file="张大山.csv", format="csv", rows=5,
                             created=5, updated=0, unchanged=0, skipped=0)],
            "milestone": [
                entry(m, f"account:{accounts[CADRE_USER]}", "milestone.add", village_1, household_id=1,
                      category="housing", due_date="2026-12-31")
                for m in range(1, MILESTONES + 1)
            ],
            "invitation": [entry(20, f"account:{accounts[ADMIN_USER]}", "invitation.create", county,
                                 role="cadre", expires_at="2026-11-15T02:00:00+00:00", cadre_id=1)],
            "custom": [entry(30, f"account:{accounts[H1_USER]}", "x.custom", village_2, count=3,
                             household_id=7, name="张大山")],
            "bulk": [entry(40, "cli", "invitation.create", village_1, role="household", bulk=True,
                           expires_at="2026-11-15T02:00:00+00:00") for _ in range(3)],  # same time
            "other": [entry(50, f"account:{accounts[OTHER_ADMIN_USER]}", "broadcast.create", other,
                            recipients=1, test_only=False, send_at="2026-11-01T02:50:00+00:00")],
            "province": [entry(60, f"account:{province_admin.id}", "policy.reload", None, ok=True, sections=42),
                         entry(70, "account:999999", "broadcast.cancel", None)],
        }
        for rows in kinds.values():
            s.add_all(rows)
        await s.flush()
        ids = {kind: [row.id for row in rows] for kind, rows in kinds.items()}
        await s.commit()
        return Seeded(ids, accounts)


@pytest.fixture
async def audit(people, sessionmaker) -> Seeded:  # noqa: F811
    return await seed_audit(sessionmaker)


# ------------------------------------------------------------------------ repository


async def test_scope_county_admin_sees_only_the_subtree(audit: Seeded, session) -> None:
    repo = AuditRepository(session)
    county = await repo.entries(COUNTY_PATH, limit=100)
    assert sorted(e.id for e in county) == audit.county_ids()
    assert all(e.region_path and e.region_path.startswith(COUNTY_PATH) for e in county)
    assert await repo.count(COUNTY_PATH) == len(audit.county_ids())
    # never the province-wide (NULL region) entries, never the other county's
    seen = {e.id for e in county}
    assert not seen & set(audit.ids["import"] + audit.ids["province"] + audit.ids["other"])
    other = await repo.entries(OTHER_PATH, limit=100)
    assert [e.id for e in other] == audit.ids["other"]
    village = await repo.entries(VILLAGE_1_PATH, limit=100)
    assert sorted(e.id for e in village) == sorted(audit.ids["milestone"] + audit.ids["bulk"])
    assert await repo.entries("吉林省/没有这个市", limit=100) == []


async def test_scope_province_admin_sees_everything(audit: Seeded, session) -> None:
    repo = AuditRepository(session)
    for scope in (PROVINCE_NAME, None):
        everything = await repo.entries(scope, limit=100)
        assert sorted(e.id for e in everything) == audit.all_ids()
        assert await repo.count(scope) == len(audit.all_ids())
    newest = (await repo.entries(PROVINCE_NAME, limit=1))[0]
    assert newest.action == "broadcast.cancel" and newest.region_path is None


async def test_keyset_paging_walks_every_entry_once(audit: Seeded, session) -> None:
    repo = AuditRepository(session)
    full = await repo.entries(PROVINCE_NAME, limit=100)
    assert [e.cursor for e in full] == sorted((e.cursor for e in full), reverse=True)  # newest first
    walked, before = [], None
    while True:
        page = await repo.entries(PROVINCE_NAME, limit=4, before=before)
        if not page:
            break
        walked.extend(page)
        before = page[-1].cursor
    assert [e.id for e in walked] == [e.id for e in full]
    # ◀ from the third page gives back the second
    second, third = full[4:8], full[8:12]
    assert [e.id for e in await repo.newer_page(PROVINCE_NAME, third[0].cursor, limit=4)] == [e.id for e in second]
    assert await repo.count(PROVINCE_NAME, newer_than=third[0].cursor) == 8
    # the three bulk entries share one time: ordered by id, none lost at a page boundary
    bulk = [e for e in full if e.id in audit.ids["bulk"]]
    assert len({e.at for e in bulk}) == 1 and [e.id for e in bulk] == sorted(audit.ids["bulk"], reverse=True)
    # oldest first in batches, with `since`
    batches = [b async for b in repo.iter_entries(PROVINCE_NAME, batch_size=4)]
    assert [e.id for b in batches for e in b] == [e.id for e in reversed(full)]
    since = T0 + timedelta(minutes=20)
    later = [e async for b in repo.iter_entries(COUNTY_PATH, since=since, batch_size=2) for e in b]
    assert [e.id for e in later] == sorted(audit.ids["invitation"] + audit.ids["custom"] + audit.ids["bulk"])
    assert await repo.count(COUNTY_PATH, since=since) == 5


async def test_real_invitation_is_filed_under_its_region(people, session) -> None:  # noqa: F811
    issued = await create_invitation(session, await cadre_target(session, "WC01"), ttl_days=14)
    await session.commit()
    [entry] = await AuditRepository(session).entries(COUNTY_PATH, limit=10)
    assert entry.action == "invitation.create" and entry.object_id == str(issued.invitation_id)
    assert entry.region_path == VILLAGE_1_PATH
    assert await AuditRepository(session).entries(OTHER_PATH, limit=10) == []


# ---------------------------------------------------------------------- display rows


async def test_display_rows_show_roles_not_personal_data(audit: Seeded, session) -> None:
    i18n = create_i18n()
    entries = await AuditRepository(session).entries(PROVINCE_NAME, limit=100)
    with i18n.context(), i18n.use_locale("zh_Hans"):
        rows = {e.action + str(e.id): row for e, row in zip(
            entries, await service.display_rows(session, entries, "zh_Hans", TZ, scope_path=PROVINCE_NAME),
            strict=True)}
        by_action = {key.rstrip("0123456789"): row for key, row in rows.items()}
    assert by_action["import.households"].actor == "命令行"
    assert by_action["import.households"].region == "全省"
    assert by_action["import.households"].action == "导入贫困户名册"
    assert by_action["import.households"].summary.startswith("共 5 行：新增 5")
    assert "张大山" not in by_action["import.households"].summary  # the file name is not shown
    assert by_action["milestone.add"].actor == "帮扶干部 刘干部"
    assert by_action["milestone.add"].region == "示范市/示范县/示范镇/一村"
    assert by_action["milestone.add"].summary == "类别：住房安全，截止 2026年12月31日"
    assert by_action["x.custom"].actor == "贫困户 W0001"  # reg_no only
    assert by_action["x.custom"].action == "x.custom"  # unknown actions raw
    assert by_action["x.custom"].summary == "count=3"  # counts only: no ids, no names
    assert by_action["policy.reload"].actor == "管理员（全省） @prov_admin"
    assert by_action["broadcast.create"].actor == "管理员（示范市/邻县）"
    assert by_action["broadcast.cancel"].actor == "账户 #999999"
    assert by_action["milestone.add"].at == "2026/11/1 10:01"  # the oldest; local time, Babel short
    every = " ".join(str(v) for row in rows.values() for v in (row.actor, row.summary, row.region))
    assert "张大山" not in every


async def test_display_rows_in_english_and_korean(audit: Seeded, session) -> None:
    i18n = create_i18n()
    [entry] = await AuditRepository(session).entries(OTHER_PATH, limit=1)
    for locale in ("en", "ko"):
        with i18n.context(), i18n.use_locale(locale):
            [row] = await service.display_rows(session, [entry], locale, TZ, scope_path=OTHER_PATH)
            assert row.at != "2026/11/1 10:50" and "10:50" in row.at
            assert "，" not in row.summary


NEIGHBOUR_VILLAGE = [*OTHER_COUNTY, "邻镇", "邻村"]
CITY_PATH = "/".join(COUNTY[:2])  # 示范市, above both counties


async def seed_rebound(sessionmaker) -> dict[str, int]:
    """Accounts that acted in 示范县 (one entry each in 一村, after the others) but whose
    current binding lies elsewhere: a household and a cadre of 邻县, an admin of 邻县, an
    admin of 示范市 (above the county) and a province-wide admin. Returns account ids by kind."""
    async with sessionmaker() as s:
        regions = RegionRepository(s)
        neighbour = await regions.ensure_chain(NEIGHBOUR_VILLAGE)
        other = await regions.by_path(OTHER_PATH)
        city = await regions.by_path(CITY_PATH)
        village_1 = await regions.by_path(VILLAGE_1_PATH)
        household = Household(reg_no="N0001", head_name="外县户", village_id=neighbour.id)
        cadre = Cadre(code="NC01", name="邻县干部", level=CadreLevel.TOWNSHIP, region_id=neighbour.id)
        s.add_all([household, cadre])
        await s.flush()
        accounts = {
            "household": Account(telegram_user_id=4401, chat_id=4401, role=Role.HOUSEHOLD, household_id=household.id),
            "cadre": Account(telegram_user_id=4402, chat_id=4402, role=Role.CADRE, cadre_id=cadre.id),
            "admin": Account(telegram_user_id=4403, chat_id=4403, role=Role.ADMIN, admin_region_id=other.id,
                             username="neighbour_admin"),
            "city_admin": Account(telegram_user_id=4404, chat_id=4404, role=Role.ADMIN, admin_region_id=city.id,
                                  username="city_admin"),
            "province_admin": Account(telegram_user_id=4405, chat_id=4405, role=Role.ADMIN,
                                      username="whole_province"),
        }
        s.add_all(accounts.values())
        await s.flush()
        for minutes, account in enumerate(accounts.values(), start=80):
            s.add(AuditLog(at=T0 + timedelta(minutes=minutes), actor=f"account:{account.id}",
                           action="milestone.done", region_id=village_1.id, details={"has_text": True}))
        ids = {kind: account.id for kind, account in accounts.items()}
        await s.commit()
        return ids


async def test_actors_are_described_only_within_the_viewers_scope(audit: Seeded, sessionmaker, session) -> None:
    rebound = await seed_rebound(sessionmaker)
    repo = AuditRepository(session)
    ids = [*rebound.values(), audit.accounts[CADRE_USER], audit.accounts[H1_USER], audit.accounts[ADMIN_USER]]
    county = await repo.actors(ids, scope_path=COUNTY_PATH)
    assert all(county[rebound[kind]].role is None for kind in rebound)  # bound outside 示范县
    assert all(county[i].cadre_name is None and county[i].household_reg_no is None
               and county[i].admin_region_path is None and county[i].username is None
               for i in rebound.values())
    assert county[audit.accounts[CADRE_USER]].cadre_name == "刘干部"
    assert county[audit.accounts[H1_USER]].household_reg_no == "W0001"
    assert county[audit.accounts[ADMIN_USER]].admin_region_path == COUNTY_PATH
    city = await repo.actors(ids, scope_path=CITY_PATH)
    assert city[rebound["household"]].household_reg_no == "N0001"
    assert city[rebound["cadre"]].cadre_name == "邻县干部"
    assert city[rebound["admin"]].username == "neighbour_admin"
    assert city[rebound["city_admin"]].admin_region_path == CITY_PATH
    assert city[rebound["province_admin"]].role is None  # a province-wide admin: only for the province
    for scope in (PROVINCE_NAME, None):
        province = await repo.actors(ids, scope_path=scope)
        assert all(info.role is not None for info in province.values())
        assert province[rebound["province_admin"]].username == "whole_province"

    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        page = await service.load_page(session, COUNTY_PATH, locale="zh_Hans", tz=TZ)
        actors = [row.actor for row in page.rows]
        assert actors[:5] == [f"账户 #{rebound[kind]}" for kind in reversed(list(rebound))]  # newest first
        shown = " ".join(f"{row.actor} {row.summary}" for row in page.rows)
        for secret in ("N0001", "邻县", "neighbour_admin", "city_admin", "whole_province", "示范市）", "全省"):
            assert secret not in shown, secret
        entries = await AuditRepository(session).entries(CITY_PATH, limit=5)
        city_rows = await service.display_rows(session, entries, "zh_Hans", TZ, scope_path=CITY_PATH)
        assert [row.actor for row in city_rows] == [
            f"账户 #{rebound['province_admin']}", "管理员（示范市） @city_admin",
            "管理员（示范市/邻县） @neighbour_admin", "帮扶干部 邻县干部", "贫困户 N0001",
        ]


def test_actor_label_without_a_name_is_the_bare_account() -> None:
    i18n = create_i18n()
    infos = {
        1: ActorInfo(account_id=1, role=Role.CADRE),
        2: ActorInfo(account_id=2, role=Role.HOUSEHOLD),
        3: ActorInfo(account_id=3, role=None),
    }
    with i18n.context(), i18n.use_locale("zh_Hans"):
        assert [service.actor_label(f"account:{i}", infos) for i in (1, 2, 3, 4)] == [
            "账户 #1", "账户 #2", "账户 #3", "账户 #4"]


@pytest.mark.parametrize(
    ("action", "details", "expected"),
    [
        ("import.pairings", {"file": "王五.xlsx", "rows": 1, "created": 1, "updated": 0, "unchanged": 0,
                             "skipped": 0, "closed": 2}, "共 1 行：新增 1，更新 0，未变 0，跳过 0，结束 2 个结对"),
        ("account.bind", {"role": "admin", "previous_role": "cadre", "admin_region_id": 3}, "身份：管理员，原身份：帮扶干部"),
        ("broadcast.create", {"recipients": 2, "test_only": True, "send_at": "2026-12-01T01:00:00+00:00"},
         "2 位接收人，测试，发送时间 2026/12/1 09:00"),
        ("broadcast.cancel", {}, ""),
        ("milestone.done", {"household_id": 1, "has_text": True, "has_photo": True}, "附文字说明，附照片"),
        ("policy.reload", {"ok": False, "error": "x.yaml:3: title: missing", "sections": 40},
         "失败，继续使用原来的 40 条政策"),
        ("hardship.file", {"category": "illness", "household_id": 1}, "类别：疾病"),
        ("hardship.file", {"category": "no-such"}, ""),
        ("invitation.create", {"role": "nobody", "expires_at": "garbage"}, ""),
        ("x.other", {"name": "张三", "phone": "13800000000", "ok": True, "n": 4, "cadre_id": 9}, "n=4"),
        ("x.other", "not a dict", ""),
    ],
)
def test_summaries_are_short_and_not_personal(action: str, details, expected: str) -> None:
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        assert service.details_summary(action, details, "zh_Hans", TZ) == expected


# ---------------------------------------------------------------------- /audit chat


def _buttons(event) -> dict[str, str]:
    markup = event.get("reply_markup") or {"inline_keyboard": []}
    return {b["text"]: b.get("callback_data", "") for row in markup["inline_keyboard"] for b in row}


def _entries_shown(text: str) -> int:
    return text.count(" · ") // 2  # two " · " lines per entry


async def _press(tg, user_id: int, message_id: int, data: str):  # noqa: F811
    """A (forged) press; returns the answer. The handler answers after editing the page,
    so the message is up to date once the answer is there."""
    pressed = await tg.press(user_id, message_id, data, forged=True)
    return (await tg.callback_answer(pressed["callback_query_id"]))["answer"]


async def _text_of(tg, user_id: int, message_id: int) -> str:  # noqa: F811
    [message] = [m for m in await tg.messages(user_id) if m["message_id"] == message_id]
    return message["text"]


async def test_audit_pages_forward_and_back(tg, chat_people, sessionmaker) -> None:  # noqa: F811
    seeded = await seed_audit(sessionmaker)
    [first] = await tg.ask(ADMIN_USER, "/audit")
    text = first["text"]
    total = len(seeded.county_ids())
    assert "操作记录（示范市/示范县）" in text and f"第 1/2 页，共 {total} 条" in text
    assert _entries_shown(text) == 10
    assert "命令行 · 全省" not in text and "邻县" not in text and "重新加载政策库" not in text
    assert "张大山" not in text and "帮扶干部 刘干部 · 示范市/示范县/示范镇/一村" in text
    assert set(_buttons(first)) == {"▶"}

    pressed = await tg.press_button(ADMIN_USER, "▶")
    [edited] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"])
    assert edited["event"] == "edit" and edited["message_id"] == first["message_id"]
    assert f"第 2/2 页，共 {total} 条" in edited["text"]
    assert _entries_shown(edited["text"]) == total - 10
    assert set(_buttons(edited)) == {"◀"}

    pressed = await tg.press_button(ADMIN_USER, "◀")
    [back] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"])
    assert back["text"] == text and set(_buttons(back)) == {"▶"}


async def test_forged_cursors_restart_at_the_newest_page(tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await seed_audit(sessionmaker)
    [first] = await tg.ask(ADMIN_USER, "/audit")
    message_id = first["message_id"]
    forged = [
        AuditPageCB(dir="o", at=10**20, id=1).pack(),  # no such moment: restart
        AuditPageCB(dir="o", at=0, id=0).pack(),  # older than everything: restart
        AuditPageCB(dir="n", at=-(10**18), id=-5).pack(),  # negative id: restart
        AuditPageCB(dir="x", at=5, id=5).pack(),  # unknown direction: restart
        AuditPageCB(dir="n", at=10**17, id=10**9).pack(),  # newer than everything: restart
        # ids beyond a 32-bit integer (PostgreSQL would refuse them): restart
        AuditPageCB(dir="o", at=service.encode_cursor((T0 + timedelta(minutes=5), 1))[0], id=2**31).pack(),
        AuditPageCB(dir="n", at=0, id=10**10).pack(),
    ]
    for data in forged:
        pressed = await tg.press_button(ADMIN_USER, "▶")  # to page 2, so a restart shows
        [page_2] = await tg.wait_replies(ADMIN_USER, after_seq=pressed["seq"])
        assert "第 2/2 页" in page_2["text"]
        answer = await _press(tg, ADMIN_USER, message_id, data)
        assert not answer.get("show_alert"), data
        assert await _text_of(tg, ADMIN_USER, message_id) == first["text"], data

    # garbage that is not even a cursor: the stale-button answer, the page unchanged
    answer = await _press(tg, ADMIN_USER, message_id, "au:o:abc:1")
    assert answer["show_alert"] and "失效" in answer["text"]
    assert await _text_of(tg, ADMIN_USER, message_id) == first["text"]


async def test_a_cursor_from_another_scope_shows_only_ones_own(tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await seed_audit(sessionmaker)
    [own] = await tg.ask(OTHER_ADMIN_USER, "/audit")
    assert "第 1/1 页，共 1 条" in own["text"] and "发布广播" in own["text"] and not _buttons(own)
    async with sessionmaker() as s:
        county = await AuditRepository(s).entries(COUNTY_PATH, limit=100)
    for entry in (county[0], county[5], county[-1]):
        at, entry_id = service.encode_cursor(entry.cursor)
        for direction in ("o", "n"):
            answer = await _press(tg, OTHER_ADMIN_USER, own["message_id"],
                                  AuditPageCB(dir=direction, at=at, id=entry_id).pack())
            assert not answer.get("show_alert")
            assert await _text_of(tg, OTHER_ADMIN_USER, own["message_id"]) == own["text"]
    edits = [c for c in await tg.calls("editMessageText") if c["params"].get("chat_id") == OTHER_ADMIN_USER]
    assert all("示范县" not in c["params"]["text"] for c in edits)


async def test_load_page_never_leaves_the_scope(audit: Seeded, session) -> None:
    i18n = create_i18n()
    county = await AuditRepository(session).entries(COUNTY_PATH, limit=100)
    with i18n.context(), i18n.use_locale("zh_Hans"):
        for entry in county:
            for direction in ("o", "n"):
                page = await service.load_page(session, OTHER_PATH, locale="zh_Hans", tz=TZ,
                                               direction=direction, cursor=entry.cursor)
                assert page.total == 1 and [r.action for r in page.rows] == ["发布广播"]
        middle = await service.load_page(session, COUNTY_PATH, locale="zh_Hans", tz=TZ,
                                         direction="o", cursor=county[2].cursor)
    assert middle.page == 1 and middle.has_newer and middle.has_older and len(middle.rows) == 10
    assert service.decode_cursor(*service.encode_cursor(county[2].cursor)) == county[2].cursor
    assert service.decode_cursor(10**20, 1) is None and service.decode_cursor(0, -1) is None
    # ids a 32-bit integer column cannot hold (PostgreSQL would raise) are forged, as is 0
    assert service.decode_cursor(0, 2**31) is None and service.decode_cursor(0, 10**10) is None
    assert service.decode_cursor(0, 0) is None and service.decode_cursor(0, 2**31 - 1) is not None


async def test_audit_chat_hides_bindings_outside_the_scope(tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await seed_audit(sessionmaker)
    rebound = await seed_rebound(sessionmaker)
    [page] = await tg.ask(ADMIN_USER, "/audit")
    assert f"账户 #{rebound['household']} · 示范市/示范县/示范镇/一村" in page["text"]
    for secret in ("N0001", "邻县干部", "neighbour_admin", "city_admin", "whole_province"):
        assert secret not in page["text"], secret


async def test_province_admin_sees_province_wide_entries(tg, chat_people, sessionmaker) -> None:  # noqa: F811
    seeded = await seed_audit(sessionmaker)
    await tg.add_user(PROVINCE_ADMIN_USER, first_name="省管理员", language_code="zh-hans")
    await tg.ask(PROVINCE_ADMIN_USER, "/start")
    [first] = await tg.ask(PROVINCE_ADMIN_USER, "/audit")
    total = len(seeded.all_ids())
    assert "操作记录（全省）" in first["text"]
    assert f"共 {total} 条" in first["text"]
    assert "账户 #999999 · 全省" in first["text"] and "重新加载政策库" in first["text"]
    pressed = await tg.press_button(PROVINCE_ADMIN_USER, "▶")
    [second] = await tg.wait_replies(PROVINCE_ADMIN_USER, after_seq=pressed["seq"])
    pressed = await tg.press_button(PROVINCE_ADMIN_USER, "▶")
    [third] = await tg.wait_replies(PROVINCE_ADMIN_USER, after_seq=pressed["seq"])
    assert "命令行 · 全省" in third["text"] and "导入贫困户名册" in third["text"]  # the oldest entry
    assert "第 3/3 页" in third["text"] and set(_buttons(third)) == {"◀"}
    assert "第 2/3 页" in second["text"] and set(_buttons(second)) == {"◀", "▶"}


async def test_non_admins_are_refused(tg, chat_people, sessionmaker) -> None:  # noqa: F811
    await seed_audit(sessionmaker)
    for user_id in (CADRE_USER, H1_USER, PUBLIC_USER):
        [reply] = await tg.ask(user_id, "/audit")
        assert REFUSAL in reply["text"] and "操作记录" not in reply["text"]
    # a forged page press by a cadre: refused in an alert, nothing sent or edited
    [menu] = await tg.ask(CADRE_USER, "/help")
    before = await tg.messages(CADRE_USER)
    answer = await _press(tg, CADRE_USER, menu["message_id"], AuditPageCB(dir="o", at=0, id=0).pack())
    assert answer["show_alert"] and REFUSAL in answer["text"]
    assert await tg.messages(CADRE_USER) == before


async def test_empty_trail(tg, chat_people) -> None:  # noqa: F811
    [reply] = await tg.ask(ADMIN_USER, "/audit")
    assert "暂无操作记录" in reply["text"] and not reply.get("reply_markup")


def test_audit_in_the_admin_menu_only() -> None:
    assert "audit" in [name for name, _text in commands_for(Role.ADMIN)]
    for role in (None, Role.CADRE, Role.HOUSEHOLD):
        assert "audit" not in [name for name, _text in commands_for(role)]


# ------------------------------------------------------------------------------ CLI


async def _seed_all(db_url: str) -> Seeded:
    engine = create_engine(db_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        await seed_work(sessionmaker)
        return await seed_audit(sessionmaker)
    finally:
        await engine.dispose()


@pytest.fixture
def cli_seeded(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Seeded:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TIMEZONE", "Asia/Shanghai")
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return asyncio.run(_seed_all(db_url))


def invoke(*args: str):
    return CliRunner().invoke(main_group, ["audit", *args])


def _rows(output: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(output)))


def test_cli_prints_csv_oldest_first(cli_seeded: Seeded) -> None:
    result = invoke("--since", "2026-11-01")
    assert result.exit_code == 0, result.output
    header, *rows = _rows(result.stdout)
    assert header == ["at", "actor", "action", "region", "object_type", "object_id", "details"]
    assert len(rows) == len(cli_seeded.all_ids())
    moments = [datetime.fromisoformat(r[0]) for r in rows]
    assert moments == sorted(moments) and all(m.utcoffset() == timedelta(hours=8) for m in moments)
    first = rows[0]
    assert first[:6] == ["2026-11-01T10:00:00+08:00", "cli", "import.households", "", "test", "0"]
    assert json.loads(first[6])["created"] == 5
    milestone = next(r for r in rows if r[2] == "milestone.add")
    assert milestone[3] == VILLAGE_1_PATH and milestone[1].startswith("account:")
    assert json.loads(milestone[6]) == {"category": "housing", "due_date": "2026-12-31", "household_id": 1}
    assert ": " not in milestone[6]  # compact JSON


def test_cli_since_and_region_filter(cli_seeded: Seeded) -> None:
    later = invoke("--since", "2026-11-01T10:40")  # local time: the bulk invitations and later
    assert later.exit_code == 0, later.output
    assert len(_rows(later.stdout)) - 1 == 3 + 1 + 2
    with_offset = invoke("--since", "2026-11-01T02:40:00+00:00")
    assert with_offset.stdout == later.stdout
    nothing = invoke("--since", "2026-11-02")  # local midnight after every entry
    assert _rows(nothing.stdout) == [list(service.CSV_HEADER)]
    county = invoke("--since", "2026-10-01", "--region", "示范市/示范县")
    assert county.exit_code == 0, county.output
    rows = _rows(county.stdout)[1:]
    assert len(rows) == len(cli_seeded.county_ids())
    assert all(r[3].startswith(COUNTY_PATH) for r in rows)  # never province-wide (empty) regions
    province = invoke("--since", "2026-10-01", "--region", "吉林省")
    assert len(_rows(province.stdout)) - 1 == len(cli_seeded.all_ids())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--since", "yesterday"], "--since"),
        (["--since", "2026-13-01"], "--since"),
        (["--since", "0001-01-01"], "--since"),
        (["--since", ""], "--since"),
        (["--since", "2026-11-01", "--region", "没有这个市/没有这个县"], "unknown region"),
        (["--since", "2026-11-01", "--region", "  "], "--region"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(cli_seeded: Seeded, args: list[str], needle: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("fupin-bot: audit")
    assert result.stdout == ""


def test_cli_help() -> None:
    result = CliRunner().invoke(main_group, ["audit", "--help"])
    assert result.exit_code == 0 and "--since" in result.output and "--region" in result.output
