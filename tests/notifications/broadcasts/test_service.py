"""Broadcast service and SQL (notifications/broadcasts.py, storage/repositories/broadcasts.py)
on SQLite and PostgreSQL: audience counts, the one-statement start, idempotency, cancel,
the final report and the renderers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select

from bot.i18n import create_i18n
from notifications import broadcasts as bc
from notifications.templates import RenderContext, render
from storage.enums import (
    BroadcastState,
    DeliveryState,
    HouseholdStatus,
    NotificationKind,
    PovertyCause,
    Role,
)
from storage.models import Account, AuditLog, Broadcast, Cadre, Household, OutboxMessage, Region
from storage.repositories.broadcasts import Audience, AudienceError
from storage.repositories.regions import RegionRepository, subtree_clause
from tests.work.people import ADMIN_USER, COUNTY, OTHER_COUNTY, VILLAGE_1, VILLAGE_2

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
COUNTY_PATH = "/".join(COUNTY)
V1_PATH = "/".join(VILLAGE_1)
OTHER_PATH = "/".join(OTHER_COUNTY)
I18N = create_i18n()


async def admin_id(session) -> int:
    return await session.scalar(select(Account.id).where(Account.telegram_user_id == ADMIN_USER))


async def add_crowd(session, n: int = 40, seed: int = 5) -> None:
    """n more bound households with random causes, status and students, a few inactive."""
    rng = random.Random(seed)
    regions = RegionRepository(session)
    villages = [await regions.ensure_chain(VILLAGE_1), await regions.ensure_chain(VILLAGE_2),
                await regions.ensure_chain([*OTHER_COUNTY, "邻镇", "三村"])]
    for i in range(n):
        household = Household(
            reg_no=f"C{i:04d}", head_name=f"户{i}", village_id=rng.choice(villages).id,
            causes=PovertyCause(rng.randrange(0, 1 << 11)), students=rng.choice([0, 0, 1, 2]),
            status=rng.choice(list(HouseholdStatus)),
        )
        session.add(household)
        await session.flush()
        session.add(Account(telegram_user_id=900000 + i, chat_id=900000 + i, role=Role.HOUSEHOLD,
                            household_id=household.id, is_active=rng.random() > 0.15))
    await session.commit()


async def direct_count(session, audience: Audience) -> int:
    """The audience counted the plain way: load the (small) candidates and filter in Python."""
    paths = set((await session.scalars(select(Region.path).where(subtree_clause(Region.path, audience.path)))).all())
    total = 0
    if audience.role in ("household", "all"):
        rows = (await session.execute(
            select(Household, Region.path).join(Account, Account.household_id == Household.id)
            .join(Region, Region.id == Household.village_id)
            .where(Account.role == Role.HOUSEHOLD, Account.is_active.is_(True))
        )).all()
        for household, path in rows:
            if path not in paths:
                continue
            if audience.causes and not int(household.causes) & audience.causes:
                continue
            if audience.status and household.status.value != audience.status:
                continue
            if audience.students and household.students <= 0:
                continue
            total += 1
    if audience.role in ("cadre", "all"):
        rows = (await session.execute(
            select(Region.path).select_from(Account).join(Cadre, Cadre.id == Account.cadre_id)
            .join(Region, Region.id == Cadre.region_id)
            .where(Account.role == Role.CADRE, Account.is_active.is_(True))
        )).scalars().all()
        total += sum(1 for path in rows if path in paths)
    if audience.role in ("admin", "all"):
        rows = (await session.execute(
            select(Region.path).select_from(Account).outerjoin(Region, Region.id == Account.admin_region_id)
            .where(Account.role == Role.ADMIN, Account.is_active.is_(True))
        )).scalars().all()
        total += sum(1 for path in rows if (path or "吉林省") in paths)
    return total


AUDIENCES = [
    Audience(),
    Audience(role="all"),
    Audience(role="cadre", region_path=COUNTY_PATH),
    Audience(role="admin"),
    Audience(role="admin", region_path=OTHER_PATH),
    Audience(role="all", region_path=V1_PATH),
    Audience(role="household", region_path=COUNTY_PATH, students=True),
    Audience(role="household", causes=int(PovertyCause.ILLNESS | PovertyCause.LACK_FUNDS)),
    Audience(role="household", region_path=V1_PATH, status="returned"),
    Audience(role="household", causes=int(PovertyCause.SCHOOLING), status="not_lifted", students=True),
]


async def test_audience_counts_equal_direct_counts(people, session) -> None:
    await add_crowd(session)
    for audience in AUDIENCES:
        expected = await direct_count(session, audience)
        assert await bc.count_audience(session, audience) == expected, audience
    # the seeded people alone: H1 H2 H4 bound in village 1
    assert await bc.count_audience(session, Audience(region_path=V1_PATH, students=True)) >= 1


def test_audience_validation() -> None:
    for bad in (dict(role="guest"), dict(role="cadre", students=True), dict(causes=1 << 20),
                dict(status="rich"), dict(causes=-1)):
        with pytest.raises(AudienceError):
            Audience(**bad)
    assert Audience.from_json(Audience(role="admin").to_json()) == Audience(role="admin")
    parsed = bc.parse_audience("role=household,region=示范市/示范县,cause=因病+因学,status=未脱贫,students=yes")
    assert parsed == Audience("household", COUNTY_PATH, int(PovertyCause.ILLNESS | PovertyCause.SCHOOLING),
                              "not_lifted", True)
    assert bc.parse_audience("") == Audience()
    assert bc.parse_audience("region=all,role=all") == Audience(role="all")
    for bad in ("role", "role=x", "colour=red", "cause=因穷", "status=ok", "students=maybe", "role=cadre,students=1"):
        with pytest.raises(AudienceError):
            bc.parse_audience(bad)


def test_release_time() -> None:
    quiet = "21:00-08:00"
    at = lambda h, m=0, d=1: datetime(2026, 12, d, h, m, tzinfo=SHANGHAI)  # noqa: E731
    assert bc.release_time(at(10), quiet, SHANGHAI) == at(10)
    assert bc.release_time(at(22), quiet, SHANGHAI) == at(8, d=2)
    assert bc.release_time(at(3), quiet, SHANGHAI) == at(8)
    assert bc.release_time(at(21), quiet, SHANGHAI) == at(8, d=2)
    assert bc.release_time(at(8), quiet, SHANGHAI) == at(8)
    assert bc.release_time(at(22), "", SHANGHAI) == at(22)
    assert bc.release_time(at(13), "12:00-14:00", SHANGHAI) == at(14)


async def create(session, audience: Audience, **kw) -> bc.Created:
    kw.setdefault("texts", {"zh_Hans": "通知：<b>好消息</b>"})
    kw.setdefault("now", NOW)
    return await bc.create_broadcast(session, audience=audience, created_by="cli", **kw)


async def outbox_rows(session, broadcast_id: int) -> list[OutboxMessage]:
    stmt = select(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id).order_by(OutboxMessage.account_id)
    return list((await session.scalars(stmt)).all())


async def test_create_now_enqueues_with_keys_and_twice_inserts_once(people, session) -> None:
    created = await create(session, Audience(region_path=COUNTY_PATH))
    await session.commit()
    assert created.state is BroadcastState.SENDING and created.recipients == 4  # H1 H2 H4 H5
    rows = await outbox_rows(session, created.broadcast_id)
    assert [r.key for r in rows] == [f"broadcast:{r.account_id}:broadcast-{created.broadcast_id}" for r in rows]
    assert {r.kind for r in rows} == {NotificationKind.BROADCAST}
    assert {r.state for r in rows} == {DeliveryState.QUEUED}
    assert all(r.not_before == NOW and r.payload == {"broadcast_id": created.broadcast_id} for r in rows)
    broadcast = await session.get(Broadcast, created.broadcast_id)
    # starting again (a second instance, a repeated scan) inserts nothing
    broadcast.state = BroadcastState.SCHEDULED
    assert await bc.start_broadcast(session, broadcast, NOW) == 0
    await session.commit()
    assert len(await outbox_rows(session, created.broadcast_id)) == 4
    audit = (await session.scalars(select(AuditLog).where(AuditLog.action == "broadcast.create"))).all()
    assert len(audit) == 1 and audit[0].object_id == str(created.broadcast_id)


async def test_start_is_one_statement_for_1000_recipients(people, session, engine) -> None:
    county = await RegionRepository(session).ensure_chain(VILLAGE_2)
    session.add_all([Household(reg_no=f"K{i:05d}", head_name="x", village_id=county.id) for i in range(1000)])
    await session.flush()
    ids = (await session.scalars(select(Household.id).where(Household.reg_no.like("K%")))).all()
    session.add_all([Account(telegram_user_id=700000 + n, chat_id=700000 + n, role=Role.HOUSEHOLD, household_id=h)
                     for n, h in enumerate(ids)])
    await session.commit()
    audience = Audience(region_path="/".join(VILLAGE_2))
    assert await bc.count_audience(session, audience) == 1001  # + H5
    created = await create(session, audience, send_at=NOW + timedelta(hours=1))
    await session.commit()
    assert created.state is BroadcastState.SCHEDULED
    assert await outbox_rows(session, created.broadcast_id) == []
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await bc.start_due_broadcasts(session, NOW) == []  # not due yet
        assert await bc.start_due_broadcasts(session, NOW + timedelta(hours=1)) == [created.broadcast_id]
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "SELECT" in inserts[0].upper(), statements
    assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1001
    broadcast = await session.get(Broadcast, created.broadcast_id)
    await session.refresh(broadcast)
    assert broadcast.recipients == 1001 and broadcast.state is BroadcastState.SENDING
    assert await bc.start_due_broadcasts(session, NOW + timedelta(hours=2)) == []


async def test_empty_audience_and_scope_write_nothing(people, session) -> None:
    with pytest.raises(bc.BroadcastError) as empty:
        await create(session, Audience(region_path=V1_PATH, status="returned"))
    assert empty.value.code == "empty"
    with pytest.raises(bc.BroadcastError) as scope:
        await create(session, Audience(region_path=OTHER_PATH), scope=COUNTY_PATH)
    assert scope.value.code == "scope"
    with pytest.raises(bc.BroadcastError) as unknown:
        await create(session, Audience(region_path="吉林省/没有这个市"))
    assert unknown.value.code == "region"
    with pytest.raises(bc.BroadcastError):
        await create(session, Audience(), texts={"ko": "only korean"})
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(Broadcast)) == 0
    assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_quiet_hours_hold_and_test_broadcast(people, session) -> None:
    night = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    held = await create(session, Audience(), now=night, quiet_hours="21:00-08:00", tz=SHANGHAI)
    assert held.state is BroadcastState.SCHEDULED
    assert held.send_at == datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI)
    test = await create(session, Audience(), now=night, quiet_hours="21:00-08:00", tz=SHANGHAI,
                        test_only=True, admin_account_id=await admin_id(session))
    await session.commit()
    assert test.state is BroadcastState.SENDING and test.recipients == 1
    [row] = await outbox_rows(session, test.broadcast_id)
    assert row.account_id == await admin_id(session) and row.urgent and row.not_before == night


async def test_named_test_copies_respect_quiet_hours(people, session) -> None:
    """The admin asked for the test now: their copy is urgent and goes at once; the copies
    for named test accounts are not urgent and wait for the end of quiet hours."""
    admin = await admin_id(session)
    others = sorted((await session.scalars(
        select(Account.id).where(Account.id != admin, Account.is_active.is_(True)).limit(2))).all())
    assert len(others) == 2
    night = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    morning = datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI)
    test = await create(session, Audience(), now=night, quiet_hours="21:00-08:00", tz=SHANGHAI,
                        test_only=True, admin_account_id=admin, test_account_ids=[*others, admin])
    await session.commit()
    assert test.state is BroadcastState.SENDING and test.recipients == 3
    rows = {r.account_id: r for r in await outbox_rows(session, test.broadcast_id)}
    assert sorted(rows) == sorted([admin, *others])
    assert rows[admin].urgent and rows[admin].not_before == night
    assert all(not rows[a].urgent and rows[a].not_before == morning for a in others)
    # in the daytime the named copies go at once too, still not urgent
    day = await create(session, Audience(), now=NOW, quiet_hours="21:00-08:00", tz=SHANGHAI,
                       test_only=True, admin_account_id=admin, test_account_ids=others)
    await session.commit()
    rows = {r.account_id: r for r in await outbox_rows(session, day.broadcast_id)}
    assert [a for a, r in rows.items() if r.urgent] == [admin]
    assert all(r.not_before == NOW for r in rows.values())


async def test_cancel_and_renderer(people, session) -> None:
    created = await create(session, Audience(role="all", region_path=COUNTY_PATH),
                           texts={"zh_Hans": "中文通知", "ko": "한국어 공지"}, photo="PHOTO-ID")
    await session.commit()
    rows = await outbox_rows(session, created.broadcast_id)
    by_account = {r.account_id: r for r in rows}
    accounts = {a.id: a for a in (await session.scalars(select(Account))).all()}
    first = rows[0]
    first.state = DeliveryState.SENT
    rows[1].state = DeliveryState.FAILED
    rows[1].last_error = "Forbidden: bot was blocked by the user"
    rows[2].state = DeliveryState.FAILED
    rows[2].last_error = "retries exhausted"
    rows[3].state = DeliveryState.SENDING
    await session.commit()

    async def rendered(row, locale):
        with I18N.context(), I18N.use_locale(locale):
            return await render(RenderContext(session, row, accounts[row.account_id], locale, NOW))

    ko = await rendered(rows[4], "ko")
    assert ko.text == "한국어 공지" and ko.photo == "PHOTO-ID"
    assert (await rendered(rows[4], "en")).text == "中文通知"  # falls back to zh_Hans
    assert (await rendered(rows[4], "zh_Hans")).text == "中文通知"

    # another county's admin may not cancel it; the county admin may
    assert not await bc.cancel_broadcast(session, created.broadcast_id, "account:1", OTHER_PATH, NOW)
    assert await bc.cancel_broadcast(session, created.broadcast_id, "account:1", COUNTY_PATH, NOW)
    await session.commit()
    assert not await bc.cancel_broadcast(session, created.broadcast_id, "account:1", COUNTY_PATH, NOW)
    session.expire_all()
    states = {r.account_id: r.state for r in await outbox_rows(session, created.broadcast_id)}
    assert states[first.account_id] is DeliveryState.SENT
    assert states[rows[3].account_id] is DeliveryState.SENDING  # in flight: finishes
    assert sum(1 for s in states.values() if s is DeliveryState.CANCELLED) == len(rows) - 4
    assert await rendered(by_account[rows[4].account_id], "ko") is None  # cancelled: not sent
    progress = (await bc.progress(session, [created.broadcast_id]))[created.broadcast_id]
    assert (progress.sent, progress.blocked, progress.failed, progress.queued) == (1, 1, 1, 1)
    assert progress.cancelled == len(rows) - 4
    assert await session.scalar(select(func.count()).select_from(AuditLog)
                                .where(AuditLog.action == "broadcast.cancel")) == 1


async def test_finish_enqueues_one_report(people, session) -> None:
    admin = await admin_id(session)
    created = await create(session, Audience(region_path=V1_PATH), admin_account_id=admin)
    await session.commit()
    assert await bc.finish_broadcasts(session, NOW) == []  # still queued
    rows = await outbox_rows(session, created.broadcast_id)
    for row in rows:
        row.state = DeliveryState.SENT
    rows[0].state = DeliveryState.FAILED
    rows[0].last_error = "blocked"
    await session.commit()
    assert await bc.finish_broadcasts(session, NOW) == [created.broadcast_id]
    assert await bc.finish_broadcasts(session, NOW) == []
    reports = (await session.scalars(select(OutboxMessage).where(
        OutboxMessage.kind == NotificationKind.BROADCAST_REPORT))).all()
    assert len(reports) == 1 and reports[0].account_id == admin
    broadcast = await session.get(Broadcast, created.broadcast_id)
    assert broadcast.state is BroadcastState.DONE and broadcast.finished_at == NOW
    account = await session.get(Account, admin)
    for locale, word in (("zh_Hans", "接收人"), ("ko", None), ("en", None)):
        with I18N.context(), I18N.use_locale(locale):
            report = await render(RenderContext(session, reports[0], account, locale, NOW))
        assert f"#{created.broadcast_id}" in report.text
        if word:
            assert word in report.text
        assert "通知：好消息" in report.text  # the excerpt: tags dropped, text escaped
