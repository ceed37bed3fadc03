"""The visit service without Telegram: dates, saving, the household's answer and rating,
expiry and who sees which flags (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.access import Access
from bot.i18n import create_i18n
from bot.work.rules import load_rules
from bot.work.visits import (
    AnswerStatus,
    DateProblem,
    RateStatus,
    SaveStatus,
    VisitDraft,
    answer_visit,
    expire_confirmations,
    flagged_page,
    flags_viewer,
    rate_visit,
    read_visit_date,
    save_visit,
)
from storage.enums import Role, VisitConfirmation, VisitKind
from storage.models import Pairing, Visit
from storage.repositories.visits import VisitRepository

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
TODAY = date(2026, 11, 29)
RULES = load_rules()
COUNTY = "吉林省/示范市/示范县"


@pytest.mark.parametrize(
    ("text", "value", "problem"),
    [
        ("今天", TODAY, None),
        ("昨天", date(2026, 11, 28), None),
        ("2026-10-30", date(2026, 10, 30), None),  # exactly 30 days back
        ("2026-10-29", date(2026, 10, 29), DateProblem.TOO_OLD),  # 31 days back
        ("明天", date(2026, 11, 30), DateProblem.FUTURE),
        ("12月1日", date(2026, 12, 1), DateProblem.FUTURE),
        ("2026-12-01", date(2026, 12, 1), DateProblem.FUTURE),
        ("abc", None, DateProblem.UNREADABLE),
        ("", None, DateProblem.UNREADABLE),
    ],
)
def test_read_visit_date(text: str, value: date | None, problem: DateProblem | None) -> None:
    assert read_visit_date(text, TODAY, 30) == (value, problem)


def test_local_midnight_decides_today() -> None:
    # 2026-11-29 16:30 UTC is already 11-30 in Shanghai: "today" there may be logged
    late = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    from bot.work.rules import local_today

    assert read_visit_date("2026-11-30", local_today(TZ, late), 30)[1] is None
    assert read_visit_date("2026-11-30", local_today(TZ, NOW), 30)[1] is DateProblem.FUTURE


def test_draft_from_state_rejects_garbled_data() -> None:
    good = {"dialog": "ab", "household_id": 3, "visited_on": "2026-11-29", "kind": "home", "notes": "看望"}
    assert VisitDraft.from_state(good) == VisitDraft(3, TODAY, VisitKind.HOME, "看望")
    assert VisitDraft.from_state({**good, "latitude": 41.5, "longitude": 128.2, "photo": "F1"}).photo_file_id == "F1"
    for broken in ({**good, "kind": "party"}, {**good, "visited_on": "soon"}, {**good, "notes": " "},
                   {k: v for k, v in good.items() if k != "notes"}, {**good, "household_id": "x"}):
        assert VisitDraft.from_state(broken) is None


def _draft(household_id: int, **kw) -> VisitDraft:
    return VisitDraft(household_id=household_id, visited_on=kw.pop("visited_on", TODAY),
                      kind=kw.pop("kind", VisitKind.HOME), notes=kw.pop("notes", "了解了看病报销的情况"), **kw)


async def _save(session, cadre_id: int, draft: VisitDraft, now: datetime = NOW):
    return await save_visit(session, RULES, create_i18n(), cadre_id, draft, now, TZ)


async def _count(session) -> int:
    return await session.scalar(select(func.count()).select_from(Visit))


def household(household_id: int) -> Access:
    return Access(role=Role.HOUSEHOLD, account_id=1, household_id=household_id)


async def test_save_bound_household_is_asked(people, session) -> None:
    outcome = await _save(session, people.cadre, _draft(people.h2, latitude=41.5, longitude=128.1,
                                                          photo_file_id="PHOTO"))
    assert outcome.status is SaveStatus.SAVED
    assert [locale for _, _, locale in outcome.receivers] == ["ko"]
    assert outcome.household_name == "김순자"
    vid = outcome.visit.id
    session.expire_all()
    visit = await session.get(Visit, vid)
    assert (visit.cadre_id, visit.household_id, visit.visited_on, visit.kind) == (
        people.cadre, people.h2, TODAY, VisitKind.HOME)
    assert (visit.latitude, visit.longitude, visit.photo_file_id) == (41.5, 128.1, "PHOTO")
    assert visit.confirmation is VisitConfirmation.PENDING
    assert visit.confirm_due_at == NOW + timedelta(days=3)
    assert not visit.flagged
    pairing = await session.get(Pairing, people.pairing_h2)
    assert pairing.last_visit_on == TODAY


async def test_save_unbound_household_is_not_asked(people, session) -> None:
    outcome = await _save(session, people.cadre, _draft(people.h3, kind=VisitKind.PHONE))
    assert outcome.status is SaveStatus.SAVED and outcome.receivers == []
    vid = outcome.visit.id
    session.expire_all()
    visit = await session.get(Visit, vid)
    assert visit.confirmation is VisitConfirmation.NOT_ASKED and visit.confirm_due_at is None


async def test_save_refuses_other_cadres_household_and_stale_dates(people, session) -> None:
    assert (await _save(session, people.cadre, _draft(people.h5))).status is SaveStatus.FORBIDDEN
    assert (await _save(session, people.cadre_ko, _draft(people.h1))).status is SaveStatus.FORBIDDEN
    assert (await _save(session, people.cadre, _draft(999999))).status is SaveStatus.FORBIDDEN
    # a dialog resumed too late: its date is now out of range; a future date never passes
    old = _draft(people.h1, visited_on=TODAY - timedelta(days=30))
    assert (await _save(session, people.cadre, old, NOW + timedelta(days=1))).status is SaveStatus.BAD_DATE
    future = _draft(people.h1, visited_on=TODAY + timedelta(days=1))
    assert (await _save(session, people.cadre, future)).status is SaveStatus.BAD_DATE
    await session.rollback()
    assert await _count(session) == 0


async def _pending(session, people, household_id: int | None = None) -> int:
    outcome = await _save(session, people.cadre, _draft(household_id or people.h1))
    return outcome.visit.id


async def test_confirm_once_then_rate_once(people, session) -> None:
    vid = await _pending(session, people)
    assert await rate_visit(session, household(people.h1), vid, 4) is RateStatus.NOT_CONFIRMED
    cadre = Access(role=Role.CADRE, account_id=2, cadre_id=people.cadre)
    assert await answer_visit(session, cadre, vid, True, NOW) is AnswerStatus.FORBIDDEN
    assert await answer_visit(session, household(people.h2), vid, True, NOW) is AnswerStatus.FORBIDDEN
    assert await answer_visit(session, Access(role=None), vid, True, NOW) is AnswerStatus.FORBIDDEN
    assert await answer_visit(session, household(people.h1), vid, True, NOW) is AnswerStatus.CONFIRMED
    assert await answer_visit(session, household(people.h1), vid, False, NOW) is AnswerStatus.ALREADY
    assert await answer_visit(session, household(people.h1), 999999, True, NOW) is AnswerStatus.FORBIDDEN
    assert await rate_visit(session, household(people.h1), vid, 0) is RateStatus.OUT_OF_RANGE
    assert await rate_visit(session, household(people.h1), vid, 6) is RateStatus.OUT_OF_RANGE
    assert await rate_visit(session, household(people.h2), vid, 4) is RateStatus.FORBIDDEN
    assert await rate_visit(session, cadre, vid, 4) is RateStatus.FORBIDDEN
    assert await rate_visit(session, household(people.h1), vid, 4) is RateStatus.RATED
    assert await rate_visit(session, household(people.h1), vid, 5) is RateStatus.ALREADY
    session.expire_all()
    visit = await session.get(Visit, vid)
    assert (visit.confirmation, visit.rating, visit.flagged) == (VisitConfirmation.CONFIRMED, 4, False)
    assert visit.confirmed_at == NOW


async def test_deny_flags(people, session) -> None:
    vid = await _pending(session, people)
    assert await answer_visit(session, household(people.h1), vid, False, NOW) is AnswerStatus.DENIED
    assert await answer_visit(session, household(people.h1), vid, True, NOW) is AnswerStatus.ALREADY
    assert await rate_visit(session, household(people.h1), vid, 3) is RateStatus.NOT_CONFIRMED
    session.expire_all()
    visit = await session.get(Visit, vid)
    assert (visit.confirmation, visit.flagged, visit.flagged_at, visit.rating) == (
        VisitConfirmation.DENIED, True, NOW, None)


async def test_second_answer_cannot_overwrite_the_first(people, session, sessionmaker) -> None:
    """The conditional UPDATE: two sessions answering the same visit, only one writes."""
    vid = await _pending(session, people)
    async with sessionmaker() as one, sessionmaker() as two:
        assert await VisitRepository(one).answer(vid, people.h1, True, NOW)
        await one.commit()
        assert not await VisitRepository(two).answer(vid, people.h1, False, NOW)
        await two.commit()
    session.expire_all()
    assert (await session.get(Visit, vid)).confirmation is VisitConfirmation.CONFIRMED


async def test_expire_confirmations(people, session) -> None:
    answered = await _pending(session, people, people.h1)
    waiting = await _pending(session, people, people.h2)
    unbound = (await _save(session, people.cadre, _draft(people.h3))).visit.id
    await answer_visit(session, household(people.h1), answered, True, NOW)
    due = NOW + timedelta(days=3)
    assert await expire_confirmations(session, due) == 0  # not before the deadline
    later = due + timedelta(seconds=1)
    assert await expire_confirmations(session, later) == 1
    await session.commit()
    assert await expire_confirmations(session, later + timedelta(days=1)) == 0
    session.expire_all()
    rows = {v.id: v for v in (await session.scalars(select(Visit))).all()}
    assert (rows[waiting].confirmation, rows[waiting].flagged, rows[waiting].flagged_at) == (
        VisitConfirmation.EXPIRED, True, later)
    assert rows[answered].confirmation is VisitConfirmation.CONFIRMED and not rows[answered].flagged
    assert rows[unbound].confirmation is VisitConfirmation.NOT_ASKED and not rows[unbound].flagged
    # too late to answer now
    assert await answer_visit(session, household(people.h2), waiting, True, later) is AnswerStatus.ALREADY


async def test_who_sees_flags(people, session) -> None:
    denied = await _pending(session, people, people.h2)
    await answer_visit(session, household(people.h2), denied, False, NOW)
    # 朴's visit to H5 (another village), denied as well
    other = (await _save(session, people.cadre_ko, _draft(people.h5))).visit.id
    await answer_visit(session, household(people.h5), other, False, NOW + timedelta(minutes=1))

    admin = await flags_viewer(session, Access(role=Role.ADMIN, account_id=9, region_path=COUNTY))
    page = await flagged_page(session, admin, 0)
    assert [r.id for r in page.rows] == [other, denied]  # newest flag first
    assert (page.total, page.page, page.pages) == (2, 0, 1)
    assert page.rows[1].household_name == "김순자" and page.rows[1].village == "一村"
    assert page.rows[1].cadre_name == "刘干部"

    village_2 = await flags_viewer(session, Access(role=Role.ADMIN, account_id=9,
                                                   region_path=COUNTY + "/示范镇/二村"))
    assert [r.id for r in (await flagged_page(session, village_2, 0)).rows] == [other]
    other_county = await flags_viewer(session, Access(role=Role.ADMIN, account_id=9,
                                                      region_path="吉林省/示范市/邻县"))
    assert (await flagged_page(session, other_county, 0)).total == 0

    supervisor = await flags_viewer(session, Access(role=Role.CADRE, account_id=8, cadre_id=people.supervisor))
    assert supervisor is not None and supervisor.supervisor_id == people.supervisor
    assert {r.id for r in (await flagged_page(session, supervisor, 5)).rows} == {other, denied}  # clamped

    assert await flags_viewer(session, Access(role=Role.CADRE, account_id=7, cadre_id=people.cadre)) is None
    assert await flags_viewer(session, household(people.h1)) is None
    assert await flags_viewer(session, Access(role=None)) is None
