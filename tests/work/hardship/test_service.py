"""Hardship requests without Telegram (bot/work/hardship.py, storage/repositories/hardship.py):
filing and deadlines, who may acknowledge and resolve, derived states, the /requests
lists of each role, and the overdue scan. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot.access import Access
from bot.work import hardship as hs
from bot.work.hardship import ActionStatus
from bot.work.rules import HardshipRules
from storage.enums import HardshipCategory, HardshipState, Role
from storage.models import AuditLog, HardshipRequest, Household, Pairing

TZ_NAME = "Asia/Shanghai"
RULES = HardshipRules()
# Thursday 2026-11-05 10:00 in Shanghai
NOW = datetime(2026, 11, 5, 2, 0, tzinfo=UTC)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 15, 59, 59, 999000, tzinfo=UTC)


async def _file(session, settings, household_id: int, now: datetime = NOW, text: str = "孩子生病住院") -> HardshipRequest:
    row = await hs.file_request(
        session, household_id=household_id, category=HardshipCategory.ILLNESS, text=text,
        photo_file_id=None, now=now, rules=RULES, tz=settings.tz, actor="account:1",
    )
    await session.commit()
    return row


async def test_filing_sets_the_cadre_and_the_deadlines(people, session, settings) -> None:
    row = await _file(session, settings, people.h1)
    assert row.cadre_id == people.cadre
    assert row.created_at == NOW
    assert row.ack_due_at == end_of(date(2026, 11, 9))  # Thu → Fri, Mon
    assert row.outcome_due_at == end_of(date(2026, 12, 7))  # 22 working days after Thu 11-05
    assert hs.state_of(row, NOW) is HardshipState.NEW
    h4 = await _file(session, settings, people.h4)
    assert h4.cadre_id == people.unbound_cadre
    # a household without an open pairing: no cadre, saved anyway
    lonely = Household(reg_no="W0099", head_name="无人", village_id=people.village_1)
    session.add(lonely)
    await session.commit()
    alone = await _file(session, settings, lonely.id)
    assert alone.cadre_id is None
    actions = (await session.scalars(select(AuditLog.action).where(AuditLog.object_type == "hardship_request"))).all()
    assert actions == ["hardship.file"] * 3


async def test_acknowledge_and_resolve_rules(people, session, settings) -> None:
    row = await _file(session, settings, people.h1)
    later = NOW + timedelta(hours=30)  # Friday 16:00 local
    # outcome before acknowledgement, another cadre, the supervisor, nobody: refused
    assert (await hs.resolve_request(session, row.id, people.cadre, "x", now=later)).status is (
        ActionStatus.NOT_ACKNOWLEDGED)
    for other in (people.cadre_ko, people.supervisor, people.unbound_cadre, None):
        result = await hs.acknowledge_request(session, row.id, other, now=later, rules=RULES, tz=settings.tz)
        assert result.status is ActionStatus.FORBIDDEN
    assert (await hs.acknowledge_request(session, 99999, people.cadre, now=later, rules=RULES,
                                         tz=settings.tz)).status is ActionStatus.FORBIDDEN
    await session.commit()
    fresh = await session.get(HardshipRequest, row.id)
    await session.refresh(fresh)
    assert fresh.acknowledged_at is None and fresh.resolved_at is None

    done = await hs.acknowledge_request(session, row.id, people.cadre, now=later, rules=RULES, tz=settings.tz)
    await session.commit()
    assert done.status is ActionStatus.DONE
    assert done.request.acknowledged_at == later
    assert done.request.outcome_due_at == end_of(date(2026, 12, 4))  # 20 working days from Fri 11-06
    assert hs.state_of(done.request, later) is HardshipState.ACKNOWLEDGED
    again = await hs.acknowledge_request(session, row.id, people.cadre, now=later, rules=RULES, tz=settings.tz)
    assert again.status is ActionStatus.ALREADY_ACKNOWLEDGED

    assert (await hs.resolve_request(session, row.id, people.cadre_ko, "x", now=later)).status is (
        ActionStatus.FORBIDDEN)
    resolved = await hs.resolve_request(session, row.id, people.cadre, "已申请临时救助", now=later)
    await session.commit()
    assert resolved.status is ActionStatus.DONE
    assert (resolved.request.outcome, resolved.request.resolved_at) == ("已申请临时救助", later)
    assert hs.state_of(resolved.request, later + timedelta(days=400)) is HardshipState.RESOLVED
    for action in ("ack", "out"):
        assert (await hs.check_action(session, row.id, people.cadre, action)).status is (
            ActionStatus.ALREADY_RESOLVED)
    assert (await hs.resolve_request(session, row.id, people.cadre, "y", now=later)).status is (
        ActionStatus.ALREADY_RESOLVED)


async def test_the_conditional_update_acknowledges_once(people, session, settings) -> None:
    from storage.repositories.hardship import HardshipRepository

    row = await _file(session, settings, people.h1)
    repo = HardshipRepository(session)
    assert await repo.acknowledge(row.id, NOW, NOW) is True
    assert await repo.acknowledge(row.id, NOW + timedelta(minutes=1), NOW) is False
    assert await repo.resolve(row.id, NOW, "ok") is True
    assert await repo.resolve(row.id, NOW, "again") is False
    await session.commit()
    stored = await repo.get(row.id)
    assert (stored.acknowledged_at, stored.outcome) == (NOW, "ok")


async def test_a_cadre_of_the_village_may_act_too(people, session, settings) -> None:
    row = await _file(session, settings, people.h5)  # 朴's household in village 2
    from storage.models import Cadre

    supervisor = await session.get(Cadre, people.supervisor)
    supervisor.leader_village_id = people.village_2
    await session.commit()
    result = await hs.acknowledge_request(session, row.id, people.supervisor, now=NOW, rules=RULES, tz=settings.tz)
    assert result.status is ActionStatus.DONE


def test_state_of_at_the_deadlines() -> None:
    row = HardshipRequest(
        created_at=NOW, ack_due_at=end_of(date(2026, 11, 9)), outcome_due_at=end_of(date(2026, 12, 7))
    )
    assert hs.state_of(row, row.ack_due_at) is HardshipState.NEW  # at the deadline: still in time
    assert hs.state_of(row, row.ack_due_at + timedelta(milliseconds=1)) is HardshipState.OVERDUE
    row.acknowledged_at = row.ack_due_at + timedelta(hours=1)  # late, but now acknowledged
    assert hs.state_of(row, row.acknowledged_at) is HardshipState.ACKNOWLEDGED
    assert hs.state_of(row, row.outcome_due_at + timedelta(seconds=1)) is HardshipState.OVERDUE
    row.resolved_at = row.outcome_due_at + timedelta(days=3)
    assert hs.state_of(row, row.resolved_at) is HardshipState.RESOLVED


def _access(role: Role, **kw) -> Access:
    return Access(role=role, account_id=1, **kw)


async def test_requests_views_by_role_and_scope(people, session, settings) -> None:
    old = await _file(session, settings, people.h1, now=NOW - timedelta(days=10), text="旧的")  # overdue by NOW
    new = await _file(session, settings, people.h2)
    acked = await _file(session, settings, people.h1, text="已受理的")
    await hs.acknowledge_request(session, acked.id, people.cadre, now=NOW, rules=RULES, tz=settings.tz)
    done = await _file(session, settings, people.h1, text="已办结的")
    await hs.acknowledge_request(session, done.id, people.cadre, now=NOW, rules=RULES, tz=settings.tz)
    await hs.resolve_request(session, done.id, people.cadre, "好了", now=NOW)
    ko = await _file(session, settings, people.h5)  # 朴's
    h4 = await _file(session, settings, people.h4)  # 孙's (no Telegram, nobody supervises)
    await session.commit()

    household = await hs.requests_view(session, _access(Role.HOUSEHOLD, household_id=people.h1), NOW)
    assert household.kind == "household" and household.total == 3
    assert [(r.id, s) for r, s in household.items] == [
        (old.id, HardshipState.OVERDUE), (acked.id, HardshipState.ACKNOWLEDGED), (done.id, HardshipState.RESOLVED)]
    assert household.actions == []

    cadre = await hs.requests_view(session, _access(Role.CADRE, cadre_id=people.cadre), NOW)
    assert [r.id for r, _s in cadre.items] == [old.id, new.id, acked.id, done.id]
    assert cadre.own_ids == {old.id, new.id, acked.id, done.id}
    assert cadre.actions == [("ack", old.id), ("ack", new.id), ("out", acked.id)]

    # the supervisor sees 刘's and 朴's households' requests, none of them as their own, no buttons
    supervisor = await hs.requests_view(session, _access(Role.CADRE, cadre_id=people.supervisor), NOW)
    assert {r.id for r, _s in supervisor.items} == {old.id, new.id, acked.id, done.id, ko.id}
    assert supervisor.own_ids == set() and supervisor.actions == []

    county = await hs.requests_view(session, _access(Role.ADMIN, region_path="吉林省/示范市/示范县"), NOW)
    assert county.total == 6 and county.items[0][0].id == old.id
    assert {r.id for r, _s in county.items} == {old.id, new.id, acked.id, done.id, ko.id, h4.id}
    other = await hs.requests_view(session, _access(Role.ADMIN, region_path="吉林省/示范市/邻县"), NOW)
    assert other.total == 0 and other.items == []
    village = await hs.requests_view(session, _access(Role.ADMIN, region_path="吉林省/示范市/示范县/示范镇/二村"), NOW)
    assert [r.id for r, _s in village.items] == [ko.id]

    assert await hs.requests_view(session, Access(role=None), NOW) is None
    # a request filed before a new pairing shows up for the household's new cadre as their own
    pairing = await session.get(Pairing, people.pairing_h1)
    pairing.end_date = date(2026, 11, 20)
    session.add(Pairing(cadre_id=people.cadre_ko, household_id=people.h1, start_date=date(2026, 11, 20)))
    await session.commit()
    ko_view = await hs.requests_view(session, _access(Role.CADRE, cadre_id=people.cadre_ko), NOW)
    assert {old.id, acked.id, done.id, ko.id} == ko_view.own_ids


async def test_paging(people, session, settings) -> None:
    rows = [await _file(session, settings, people.h1, now=NOW + timedelta(minutes=i)) for i in range(11)]
    access = _access(Role.ADMIN, region_path="吉林省")
    first = await hs.requests_view(session, access, NOW, 0, page_size=4)
    last = await hs.requests_view(session, access, NOW, 2, page_size=4)
    beyond = await hs.requests_view(session, access, NOW, 7, page_size=4)
    assert (first.total, first.pages, len(first.items), len(last.items), beyond.items) == (11, 3, 4, 3, [])
    assert [r.id for r, _s in first.items] == [r.id for r in reversed(rows)][:4]  # newest first


async def test_overdue_requests_for_the_escalation_scan(people, session, settings) -> None:
    late_ack = await _file(session, settings, people.h1, now=NOW - timedelta(days=10))
    late_outcome = await _file(session, settings, people.h2, now=NOW - timedelta(days=60))
    await hs.acknowledge_request(session, late_outcome.id, people.cadre, now=NOW - timedelta(days=59),
                                 rules=RULES, tz=settings.tz)
    in_time = await _file(session, settings, people.h1)
    resolved = await _file(session, settings, people.h2, now=NOW - timedelta(days=90))
    await hs.acknowledge_request(session, resolved.id, people.cadre, now=NOW - timedelta(days=80),
                                 rules=RULES, tz=settings.tz)
    await hs.resolve_request(session, resolved.id, people.cadre, "ok", now=NOW - timedelta(days=1))
    await session.commit()
    found = await hs.overdue_requests(session, NOW, limit=10)
    assert [r.id for r in found] == sorted([late_ack.id, late_outcome.id])
    assert in_time.id not in {r.id for r in found}
    assert [r.id for r in await hs.overdue_requests(session, NOW, limit=1)] == [min(late_ack.id, late_outcome.id)]
    assert [r.id for r in await hs.overdue_requests(session, NOW, limit=10, after_id=min(late_ack.id,
                                                                                         late_outcome.id))] == [
        max(late_ack.id, late_outcome.id)]
    assert found[0].household is not None  # loaded for the message


def test_validate_text() -> None:
    assert hs.validate_text("  说明  ", 10) == ("说明", 2)
    assert hs.validate_text("   ", 10) == (None, 0)
    assert hs.validate_text(None, 10) == (None, 0)
    assert hs.validate_text("x" * 11, 10) == (None, 11)
