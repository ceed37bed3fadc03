"""A unit leader's village visit (联系点) in the daily digest: the digest goes to a leader
whose village visit is overdue or due this week even when no paired household has anything
due, and says so; once the visits are logged it stops (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import notifications.reminders  # noqa: F401  (registers the renderers)
from notifications.scans import scan_digest
from notifications.templates import RenderContext, render
from storage.enums import NotificationKind, VisitKind
from storage.models import Account, Cadre, OutboxMessage, Visit
from tests.notifications.scans.conftest import account_id, at, outbox
from tests.work.people import SUPERVISOR_USER

DEC_1 = date(2026, 12, 1)


async def _scan(sessionmaker, settings, now) -> None:
    async with sessionmaker() as s:
        await scan_digest(s, settings, now)
        await s.commit()


async def _render(sessionmaker, i18n, settings, row: OutboxMessage, locale: str, now):
    async with sessionmaker() as s:
        message = await s.get(OutboxMessage, row.id)
        account = await s.get(Account, message.account_id)
        with i18n.context(), i18n.use_locale(locale):
            return await render(RenderContext(s, message, account, locale, now, settings.rules))


async def _digests_to(sessionmaker, account: int) -> list[OutboxMessage]:
    return [r for r in await outbox(sessionmaker, NotificationKind.DIGEST) if r.account_id == account]


async def test_a_leader_with_an_unvisited_village_gets_the_digest(people, sessionmaker, settings, i18n) -> None:
    leader = await account_id(sessionmaker, SUPERVISOR_USER)  # paired with no household
    await _scan(sessionmaker, settings, at(DEC_1, 9))
    assert await _digests_to(sessionmaker, leader) == []  # no assigned village yet: nothing due

    async with sessionmaker() as s:
        (await s.get(Cadre, people.supervisor)).leader_village_id = people.village_2
        await s.commit()
    await _scan(sessionmaker, settings, at(DEC_1, 10))
    [row] = await _digests_to(sessionmaker, leader)
    text = (await _render(sessionmaker, i18n, settings, row, "zh_Hans", at(DEC_1, 10))).text
    assert "联系点走访" in text and "二村" in text
    ko = (await _render(sessionmaker, i18n, settings, row, "ko", at(DEC_1, 10))).text
    assert "二村" in ko and "联系点走访" not in ko
    # without the rules (an old caller) the renderer has nothing to say: cancelled, not empty
    async with sessionmaker() as s:
        message = await s.get(OutboxMessage, row.id)
        account = await s.get(Account, leader)
        with i18n.context(), i18n.use_locale("zh_Hans"):
            assert await render(RenderContext(s, message, account, "zh_Hans", at(DEC_1, 10))) is None


async def test_no_digest_once_both_half_year_visits_are_logged(people, sessionmaker, settings) -> None:
    leader = await account_id(sessionmaker, SUPERVISOR_USER)
    async with sessionmaker() as s:
        (await s.get(Cadre, people.supervisor)).leader_village_id = people.village_2
        for day in (date(2026, 3, 2), date(2026, 9, 1)):
            s.add(Visit(cadre_id=people.supervisor, household_id=people.h5, visited_on=day, kind=VisitKind.HOME))
        await s.commit()
    await _scan(sessionmaker, settings, at(DEC_1, 9))
    assert await _digests_to(sessionmaker, leader) == []
    # a visit to another village does not count: only the first half is covered
    async with sessionmaker() as s:
        await s.execute(Visit.__table__.delete().where(Visit.visited_on == date(2026, 9, 1)))
        s.add(Visit(cadre_id=people.supervisor, household_id=people.h1, visited_on=date(2026, 9, 1),
                    kind=VisitKind.HOME))
        await s.commit()
    await _scan(sessionmaker, settings, at(date(2026, 12, 25), 9))  # the half-year ends within the week
    assert len(await _digests_to(sessionmaker, leader)) == 1


async def test_a_missed_first_half_stops_after_a_visit_in_the_second(people, sessionmaker, settings) -> None:
    """Missing January–June makes the leader overdue for the rest of the year, but a visit in
    July settles the current half: no digest every day until December."""
    leader = await account_id(sessionmaker, SUPERVISOR_USER)
    async with sessionmaker() as s:
        (await s.get(Cadre, people.supervisor)).leader_village_id = people.village_2
        await s.commit()
    await _scan(sessionmaker, settings, at(date(2026, 7, 3), 9))  # before the July visit
    assert len(await _digests_to(sessionmaker, leader)) == 1
    async with sessionmaker() as s:
        s.add(Visit(cadre_id=people.supervisor, household_id=people.h5, visited_on=date(2026, 7, 5),
                    kind=VisitKind.HOME))
        await s.commit()
    await _scan(sessionmaker, settings, at(date(2026, 8, 1), 9))
    assert len(await _digests_to(sessionmaker, leader)) == 1  # still only the one from 3 July
