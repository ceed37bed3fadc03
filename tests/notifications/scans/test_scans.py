"""The scans enqueue exactly the expected notices, once, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, timedelta

from sqlalchemy import update

from notifications.scans import run_all_scans, scan_digest, scan_hardship, scan_reminders, scan_weekly
from storage.enums import DeliveryState, HardshipCategory, MilestoneCategory, NotificationKind
from storage.models import HardshipRequest, Milestone, OutboxMessage, Pairing
from tests.notifications.scans.conftest import account_id, at, outbox
from tests.work.people import (
    ADMIN_USER,
    CADRE_KO_USER,
    CADRE_USER,
    OTHER_ADMIN_USER,
    SUPERVISOR_USER,
)

K = NotificationKind
DEC_1 = date(2026, 12, 1)


async def _due(sessionmaker, pairing_id: int, due: date | None) -> None:
    async with sessionmaker() as s:
        await s.execute(update(Pairing).where(Pairing.id == pairing_id).values(next_visit_due=due))
        await s.commit()


async def _milestone(sessionmaker, household_id: int, due: date, title: str = "危房改造") -> int:
    async with sessionmaker() as s:
        m = Milestone(household_id=household_id, category=MilestoneCategory.HOUSING, title=title, due_date=due)
        s.add(m)
        await s.commit()
        return m.id


async def _deliver_all(sessionmaker) -> None:
    """What the sender would have done with the queued rows."""
    async with sessionmaker() as s:
        await s.execute(update(OutboxMessage).where(OutboxMessage.state == DeliveryState.QUEUED)
                        .values(state=DeliveryState.SENT))
        await s.commit()


async def _scan(sessionmaker, settings, scan, now) -> int:
    async with sessionmaker() as s:
        count = await scan(s, settings, now)
        await s.commit()
        return count


async def test_visit_reminders_three_days_before_and_on_the_day(people, sessionmaker, settings) -> None:
    cadre = await account_id(sessionmaker, CADRE_USER)
    await _due(sessionmaker, people.pairing_h1, date(2026, 12, 4))
    now = at(DEC_1, 9)
    assert await _scan(sessionmaker, settings, scan_reminders, now) == 1
    assert await _scan(sessionmaker, settings, scan_reminders, now) == 0  # twice: nothing new
    [row] = await outbox(sessionmaker)
    assert row.kind is K.VISIT_REMINDER and row.account_id == cadre
    assert row.key == f"visit_reminder:{cadre}:pairing-{people.pairing_h1}-d3:2026-12-04"
    assert row.not_before == now.astimezone(UTC) and row.urgent is False
    assert row.payload == {"pairing_id": people.pairing_h1, "household_id": people.h1, "cadre_id": people.cadre,
                           "due": "2026-12-04", "days": 3}
    await _deliver_all(sessionmaker)
    # nothing on the days between, the on-day reminder on the due day
    assert await _scan(sessionmaker, settings, scan_reminders, at(date(2026, 12, 3), 9)) == 0
    assert await _scan(sessionmaker, settings, scan_reminders, at(date(2026, 12, 4), 9)) == 1
    rows = await outbox(sessionmaker)
    assert [r.key for r in rows][1] == f"visit_reminder:{cadre}:pairing-{people.pairing_h1}-d0:2026-12-04"


async def test_quiet_hours_hold_until_eight(people, sessionmaker, settings) -> None:
    await _due(sessionmaker, people.pairing_h1, DEC_1)
    assert await _scan(sessionmaker, settings, scan_reminders, at(DEC_1, 0, 5)) == 1
    [row] = await outbox(sessionmaker)
    assert row.not_before == at(DEC_1, 8).astimezone(UTC)


async def test_milestone_reminders_and_overdue_alert(people, sessionmaker, settings) -> None:
    cadre = await account_id(sessionmaker, CADRE_USER)
    ms = await _milestone(sessionmaker, people.h2, date(2026, 12, 10))
    expected = {date(2026, 12, 3): "d7", date(2026, 12, 9): "d1"}
    day = DEC_1
    while day <= date(2026, 12, 12):
        await _scan(sessionmaker, settings, scan_reminders, at(day, 10))
        await _deliver_all(sessionmaker)
        day += timedelta(days=1)
    rows = await outbox(sessionmaker)
    assert [r.key for r in rows] == [
        *(f"milestone_reminder:{cadre}:milestone-{ms}-{tag}:2026-12-10" for tag in expected.values()),
        f"milestone_overdue:{cadre}:milestone-{ms}:2026-12-10",
    ]
    assert [r.not_before.astimezone(at(DEC_1).tzinfo).date() for r in rows] == [
        date(2026, 12, 3), date(2026, 12, 9), date(2026, 12, 11)]


async def test_done_milestone_and_lifted_household_get_nothing(people, sessionmaker, settings) -> None:
    from datetime import datetime

    from storage.enums import HouseholdStatus
    from storage.models import Household

    ms = await _milestone(sessionmaker, people.h1, date(2026, 12, 2))
    await _due(sessionmaker, people.pairing_h2, DEC_1)
    async with sessionmaker() as s:
        await s.execute(update(Milestone).where(Milestone.id == ms).values(completed_at=datetime(2026, 11, 30, tzinfo=UTC)))
        await s.execute(update(Household).where(Household.id == people.h2).values(status=HouseholdStatus.LIFTED))
        await s.commit()
    assert await _scan(sessionmaker, settings, scan_reminders, at(DEC_1)) == 0


async def test_escalation_to_supervisor_and_county_admin_only(people, sessionmaker, settings) -> None:
    cadre = await account_id(sessionmaker, CADRE_USER)
    supervisor = await account_id(sessionmaker, SUPERVISOR_USER)
    admin = await account_id(sessionmaker, ADMIN_USER)
    due = date(2026, 11, 20)
    await _due(sessionmaker, people.pairing_h1, due)
    ms = await _milestone(sessionmaker, people.h3, due)
    # first day overdue: alerts to the cadre
    counts = await run_all_scans(sessionmaker, settings, at(date(2026, 11, 21), 9))
    assert counts["reminders"] == 2 and counts["escalations"] == 0
    alerts = await outbox(sessionmaker, K.VISIT_OVERDUE, K.MILESTONE_OVERDUE)
    assert {(r.kind, r.account_id) for r in alerts} == {(K.VISIT_OVERDUE, cadre), (K.MILESTONE_OVERDUE, cadre)}
    # six days overdue: nothing yet; seven: supervisor and county admin
    assert (await run_all_scans(sessionmaker, settings, at(date(2026, 11, 26), 9)))["escalations"] == 0
    counts = await run_all_scans(sessionmaker, settings, at(date(2026, 11, 27), 9))
    assert counts["escalations"] == 4
    assert (await run_all_scans(sessionmaker, settings, at(date(2026, 11, 27), 9, 5)))["escalations"] == 0
    rows = await outbox(sessionmaker, K.ESCALATION)
    assert {r.key for r in rows} == {
        f"escalation:{supervisor}:pairing-{people.pairing_h1}:2026-11-20",
        f"escalation:{admin}:pairing-{people.pairing_h1}:2026-11-20",
        f"escalation:{supervisor}:milestone-{ms}:2026-11-20",
        f"escalation:{admin}:milestone-{ms}:2026-11-20",
    }
    other = await account_id(sessionmaker, OTHER_ADMIN_USER)
    assert other not in {r.account_id for r in rows}
    assert rows[0].payload["days"] == 7


async def test_three_day_outage_gives_one_catch_up_per_cadre(people, sessionmaker, settings) -> None:
    cadre = await account_id(sessionmaker, CADRE_USER)
    cadre_ko = await account_id(sessionmaker, CADRE_KO_USER)
    await _due(sessionmaker, people.pairing_h1, date(2026, 12, 2))
    ms = await _milestone(sessionmaker, people.h2, date(2026, 12, 3))
    async with sessionmaker() as s:  # 朴's household H5
        p5 = (await s.execute(
            update(Pairing).where(Pairing.household_id == people.h5).values(next_visit_due=date(2026, 12, 2))
            .returning(Pairing.id))).scalar_one()
        await s.commit()
    await _scan(sessionmaker, settings, scan_reminders, at(DEC_1, 9))  # the last scan before the outage
    assert await outbox(sessionmaker) == []
    # down on Dec 2, 3 and 4; back on Dec 5
    now = at(date(2026, 12, 5), 9)
    await _scan(sessionmaker, settings, scan_reminders, now)
    catch_ups = await outbox(sessionmaker, K.CATCH_UP)
    assert [(r.account_id, r.key) for r in catch_ups] == [
        (cadre, f"catch_up:{cadre}:cadre-{people.cadre}:2026-12-05"),
        (cadre_ko, f"catch_up:{cadre_ko}:cadre-{people.cadre_ko}:2026-12-05"),
    ]
    assert catch_ups[0].payload["visits"] == [[people.pairing_h1, "2026-12-02"]]
    assert catch_ups[0].payload["milestones"] == [[ms, "2026-12-03"]]
    assert catch_ups[1].payload["visits"] == [[p5, "2026-12-02"]] and catch_ups[1].payload["milestones"] == []
    # the folded reminders are spent (cancelled), not queued; the 2-day-late alerts go out
    folded = await outbox(sessionmaker, K.VISIT_REMINDER, K.MILESTONE_REMINDER)
    assert {r.state for r in folded} == {DeliveryState.CANCELLED} and len(folded) == 3
    queued = await outbox(sessionmaker, K.VISIT_OVERDUE, K.MILESTONE_OVERDUE)
    assert {(r.kind, r.account_id, r.state) for r in queued} == {
        (K.VISIT_OVERDUE, cadre, DeliveryState.QUEUED), (K.VISIT_OVERDUE, cadre_ko, DeliveryState.QUEUED),
        (K.MILESTONE_OVERDUE, cadre, DeliveryState.QUEUED)}
    # again, and the day after: no second catch-up
    before = len(await outbox(sessionmaker))
    assert await _scan(sessionmaker, settings, scan_reminders, now) == 0
    assert await _scan(sessionmaker, settings, scan_reminders, at(date(2026, 12, 6), 9)) == 0
    assert len(await outbox(sessionmaker)) == before


async def test_stale_queued_reminder_is_folded(people, sessionmaker, settings) -> None:
    cadre = await account_id(sessionmaker, CADRE_USER)
    await _due(sessionmaker, people.pairing_h1, date(2026, 12, 4))
    await _scan(sessionmaker, settings, scan_reminders, at(DEC_1, 9))  # queued, never sent (sender down)
    now = at(date(2026, 12, 4), 10)
    await _scan(sessionmaker, settings, scan_reminders, now)
    old = (await outbox(sessionmaker, K.VISIT_REMINDER))[0]
    assert old.key.endswith("-d3:2026-12-04") and old.state is DeliveryState.CANCELLED
    [catch_up] = await outbox(sessionmaker, K.CATCH_UP)
    assert catch_up.account_id == cadre and catch_up.payload["visits"] == [[people.pairing_h1, "2026-12-04"]]


async def test_hardship_escalated_once_per_deadline(people, sessionmaker, settings) -> None:
    supervisor = await account_id(sessionmaker, SUPERVISOR_USER)
    admin = await account_id(sessionmaker, ADMIN_USER)
    created = at(DEC_1, 10).astimezone(UTC)
    async with sessionmaker() as s:
        request = HardshipRequest(
            household_id=people.h1, cadre_id=people.cadre, category=HardshipCategory.ILLNESS, text="x",
            created_at=created, ack_due_at=at(date(2026, 12, 3), 23, 59).astimezone(UTC),
            outcome_due_at=at(date(2026, 12, 29), 23, 59).astimezone(UTC),
        )
        s.add(request)
        await s.commit()
        rid = request.id
    assert await _scan(sessionmaker, settings, scan_hardship, at(date(2026, 12, 3), 12)) == 0
    assert await _scan(sessionmaker, settings, scan_hardship, at(date(2026, 12, 4), 9)) == 2
    assert await _scan(sessionmaker, settings, scan_hardship, at(date(2026, 12, 4), 9, 5)) == 0
    rows = await outbox(sessionmaker, K.HARDSHIP_ESCALATION)
    assert {r.key for r in rows} == {f"hardship_escalation:{supervisor}:hardship-{rid}:ack",
                                     f"hardship_escalation:{admin}:hardship-{rid}:ack"}
    async with sessionmaker() as s:
        assert (await s.get(HardshipRequest, rid)).escalated_at is not None
    # the outcome deadline passes too: a second escalation, once
    assert await _scan(sessionmaker, settings, scan_hardship, at(date(2026, 12, 30), 9)) == 2
    assert await _scan(sessionmaker, settings, scan_hardship, at(date(2026, 12, 31), 9)) == 0


async def test_digest_from_digest_time_once_a_day(people, sessionmaker, settings) -> None:
    cadre = await account_id(sessionmaker, CADRE_USER)
    await _due(sessionmaker, people.pairing_h1, date(2026, 12, 5))
    assert await _scan(sessionmaker, settings, scan_digest, at(DEC_1, 8, 29)) == 0
    assert await _scan(sessionmaker, settings, scan_digest, at(DEC_1, 8, 30)) == 1
    assert await _scan(sessionmaker, settings, scan_digest, at(DEC_1, 12)) == 0
    [row] = await outbox(sessionmaker, K.DIGEST)
    assert row.key == f"digest:{cadre}:cadre-{people.cadre}:2026-12-01"
    assert row.payload == {"cadre_id": people.cadre, "day": "2026-12-01", "tz": "Asia/Shanghai"}
    assert await _scan(sessionmaker, settings, scan_digest, at(date(2026, 12, 2), 9)) == 1


async def test_weekly_summary_on_mondays(people, sessionmaker, settings) -> None:
    monday = date(2026, 11, 30)
    assert monday.weekday() == 0
    assert await _scan(sessionmaker, settings, scan_weekly, at(DEC_1, 9)) == 0  # Tuesday
    assert await _scan(sessionmaker, settings, scan_weekly, at(monday, 8)) == 0  # before 08:30
    assert await _scan(sessionmaker, settings, scan_weekly, at(monday, 9)) == 2  # both admins
    assert await _scan(sessionmaker, settings, scan_weekly, at(monday, 10)) == 0
    rows = await outbox(sessionmaker, K.WEEKLY_SUMMARY)
    admin = await account_id(sessionmaker, ADMIN_USER)
    assert f"weekly_summary:{admin}:week:2026-11-30" in {r.key for r in rows}


async def test_run_all_scans_counts_and_is_idempotent(people, sessionmaker, settings) -> None:
    await _due(sessionmaker, people.pairing_h1, date(2026, 12, 4))
    first = await run_all_scans(sessionmaker, settings, at(DEC_1, 9))
    assert first == {"confirmations": 0, "reminders": 1, "escalations": 0, "hardship": 0, "digest": 1, "weekly": 0}
    second = await run_all_scans(sessionmaker, settings, at(DEC_1, 9))
    assert set(second.values()) == {0}
    total = len(await outbox(sessionmaker))
    assert total == 2
    async with sessionmaker() as s:
        assert await s.get(OutboxMessage, 1) is not None
