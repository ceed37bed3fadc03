"""Visits: the rules of the /visit dialog, saving a visit, the household's confirmation
and rating, expiry of unanswered confirmations, and who sees which flagged visits.

Plain functions over storage/repositories/visits.py, testable without Telegram; the
clock is always a parameter (`now` aware UTC, `today` local). Logs carry row ids only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.policy.forwarding import locale_of
from bot.work import visits_render as render
from bot.work.cadence import refresh_pairings
from bot.work.dates import parse_user_date
from bot.work.rules import Rules, local_today
from storage.enums import HouseholdStatus, Role, VisitConfirmation, VisitKind
from storage.models import Cadre, Household, Visit
from storage.repositories.accounts import AccountRepository
from storage.repositories.pairings import PairingRepository
from storage.repositories.visits import FlaggedVisit, VisitRepository

log = logging.getLogger(__name__)

NOTES_MAX = 2000  # characters of a visit's notes
PICKER_PAGE = 8  # households per page of the /visit picker
FLAGS_PAGE = 10  # flagged visits per page of /flags
RATINGS = range(1, 6)
_ID_MAX = 2**31 - 1  # ids are INTEGER columns: a forged larger number is no id at all


# ------------------------------------------------------------------------ the date


class DateProblem(StrEnum):
    UNREADABLE = "unreadable"
    FUTURE = "future"
    TOO_OLD = "too_old"


def check_visit_date(value: date, today: date, backdate_days: int) -> DateProblem | None:
    """A visit happened today or at most `backdate_days` days back."""
    if value > today:
        return DateProblem.FUTURE
    if value < today - timedelta(days=backdate_days):
        return DateProblem.TOO_OLD
    return None


def read_visit_date(text: str, today: date, backdate_days: int) -> tuple[date | None, DateProblem | None]:
    """The date a cadre typed (2026-11-20, 11月20日, 昨天…) and what is wrong with it, if anything."""
    value = parse_user_date(text, today, "past")
    if value is None:
        return None, DateProblem.UNREADABLE
    return value, check_visit_date(value, today, backdate_days)


def earliest_visit_date(today: date, backdate_days: int) -> date:
    return today - timedelta(days=backdate_days)


# ------------------------------------------------------- starting from a notification


class StartStatus(StrEnum):
    """May a cadre start the /visit dialog on a given household (the 登记走访 button of a
    reminder or overdue alert)?"""

    OK = "ok"
    FORBIDDEN = "forbidden"  # not a cadre, no such household, or not theirs (any more)
    LIFTED = "lifted"  # theirs, but lifted out of poverty since the reminder went out


async def check_start(session: AsyncSession, cadre_id: int | None, household_id: int) -> StartStatus:
    """The rule the dialog applies when a household is chosen (`cadre_may_act`), plus: a
    lifted household gets no visit reminders, so its button no longer holds."""
    if cadre_id is None or not 0 < household_id <= _ID_MAX:
        return StartStatus.FORBIDDEN
    if not await PairingRepository(session).cadre_may_act(cadre_id, household_id):
        return StartStatus.FORBIDDEN
    household = await session.get(Household, household_id)
    if household is None:
        return StartStatus.FORBIDDEN
    if household.status is HouseholdStatus.LIFTED:
        return StartStatus.LIFTED
    return StartStatus.OK


# ----------------------------------------------------------------------- the draft


@dataclass(frozen=True, slots=True)
class VisitDraft:
    """What the dialog collected; kept in FSM data as JSON (see `to_state`/`from_state`)."""

    household_id: int
    visited_on: date
    kind: VisitKind
    notes: str
    latitude: float | None = None
    longitude: float | None = None
    photo_file_id: str | None = None

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> VisitDraft | None:
        """The draft in the dialog's state data, or None when a step is missing or garbled."""
        try:
            lat, lon = data.get("latitude"), data.get("longitude")
            notes = data["notes"]
            photo = data.get("photo")
            if not isinstance(notes, str) or not notes.strip():
                return None
            return cls(
                household_id=int(data["household_id"]),
                visited_on=date.fromisoformat(data["visited_on"]),
                kind=VisitKind(data["kind"]),
                notes=notes[:NOTES_MAX],
                latitude=float(lat) if lat is not None else None,
                longitude=float(lon) if lon is not None else None,
                photo_file_id=str(photo) if photo else None,
            )
        except (KeyError, TypeError, ValueError):
            return None


# ------------------------------------------------------------------------- saving


class SaveStatus(StrEnum):
    SAVED = "saved"
    FORBIDDEN = "forbidden"  # not the cadre's household (any more)
    BAD_DATE = "bad_date"  # the dialog was resumed too late: the date is now out of range


@dataclass
class SaveOutcome:
    status: SaveStatus
    visit: Visit | None = None
    household_name: str = ""
    # (account id, chat id, locale) of the household accounts to ask
    receivers: list[tuple[int, int, str]] = field(default_factory=list)


async def save_visit(
    session: AsyncSession,
    rules: Rules,
    i18n: I18n,
    cadre_id: int,
    draft: VisitDraft,
    now: datetime,
    tz: ZoneInfo,
) -> SaveOutcome:
    """Re-check the cadre's right and the date, write the visit, refresh the pairing's
    cadence fields and commit (nothing is written unless everything holds)."""
    if not await PairingRepository(session).cadre_may_act(cadre_id, draft.household_id):
        return SaveOutcome(SaveStatus.FORBIDDEN)
    if check_visit_date(draft.visited_on, local_today(tz, now), rules.visits.backdate_days) is not None:
        return SaveOutcome(SaveStatus.BAD_DATE)
    repo = VisitRepository(session)
    choice = await repo.household_choice(draft.household_id)
    if choice is None:
        return SaveOutcome(SaveStatus.FORBIDDEN)
    accounts = await AccountRepository(session).active_for_household(draft.household_id)
    asked = bool(accounts)
    visit = await repo.add(
        Visit(
            cadre_id=cadre_id,
            household_id=draft.household_id,
            visited_on=draft.visited_on,
            kind=draft.kind,
            notes=draft.notes,
            latitude=draft.latitude,
            longitude=draft.longitude,
            photo_file_id=draft.photo_file_id,
            confirmation=VisitConfirmation.PENDING if asked else VisitConfirmation.NOT_ASKED,
            confirm_due_at=now + timedelta(days=rules.confirmation.answer_within_days) if asked else None,
            created_at=now,
        )
    )
    await refresh_pairings(session, rules.visits, household_ids=[draft.household_id])
    receivers = [(a.id, a.chat_id, locale_of(a, i18n)) for a in accounts]
    await session.commit()
    log.info("visit %s saved for household %s, confirmation %s", visit.id, draft.household_id,
             visit.confirmation.value)
    return SaveOutcome(SaveStatus.SAVED, visit, choice.head_name, receivers)


async def ask_household(bot: Bot, i18n: I18n, outcome: SaveOutcome, cadre_name: str) -> int:
    """Ask each bound household account, in its language, whether the visit happened;
    returns how many got the question (a blocked account is logged and skipped)."""
    visit = outcome.visit
    if visit is None:
        return 0
    delivered = 0
    for account_id, chat_id, locale in outcome.receivers:
        with i18n.use_locale(locale):
            text = render.confirm_question_text(cadre_name, visit.visited_on, visit.kind, locale)
            markup = render.confirm_keyboard(visit.id)
        try:
            await bot.send_message(chat_id, text, reply_markup=markup)
        except TelegramAPIError as exc:
            log.warning("visit %s: could not ask account %s: %s", visit.id, account_id, type(exc).__name__)
            continue
        delivered += 1
    return delivered


# --------------------------------------------------------------- the household's answer


class AnswerStatus(StrEnum):
    CONFIRMED = "confirmed"
    DENIED = "denied"
    ALREADY = "already"  # answered before, or expired
    FORBIDDEN = "forbidden"  # not a visit to this account's household


def _household_of(access: Access) -> int | None:
    return access.household_id if access.role is Role.HOUSEHOLD else None


async def answer_visit(
    session: AsyncSession, access: Access, visit_id: int, confirmed: bool, now: datetime
) -> AnswerStatus:
    """The household's yes / no, once; a cadre (or anyone else) can never answer."""
    household_id = _household_of(access)
    if household_id is None:
        return AnswerStatus.FORBIDDEN
    repo = VisitRepository(session)
    if await repo.answer(visit_id, household_id, confirmed, now):
        await session.commit()
        log.info("visit %s %s by its household", visit_id, "confirmed" if confirmed else "denied")
        return AnswerStatus.CONFIRMED if confirmed else AnswerStatus.DENIED
    visit = await repo.get(visit_id)
    if visit is None or visit.household_id != household_id:
        return AnswerStatus.FORBIDDEN
    return AnswerStatus.ALREADY


class RateStatus(StrEnum):
    RATED = "rated"
    OUT_OF_RANGE = "out_of_range"
    ALREADY = "already"
    NOT_CONFIRMED = "not_confirmed"
    FORBIDDEN = "forbidden"


async def rate_visit(session: AsyncSession, access: Access, visit_id: int, rating: int) -> RateStatus:
    """A 1–5 rating of a confirmed visit, once, by its household only."""
    household_id = _household_of(access)
    if household_id is None:
        return RateStatus.FORBIDDEN
    repo = VisitRepository(session)
    visit = await repo.get(visit_id)
    if visit is None or visit.household_id != household_id:
        return RateStatus.FORBIDDEN
    if rating not in RATINGS:
        return RateStatus.OUT_OF_RANGE
    if await repo.rate(visit_id, household_id, rating):
        await session.commit()
        return RateStatus.RATED
    await session.refresh(visit)
    if visit.confirmation is not VisitConfirmation.CONFIRMED:
        return RateStatus.NOT_CONFIRMED
    return RateStatus.ALREADY


async def expire_confirmations(session: AsyncSession, now: datetime) -> int:
    """Flag every PENDING visit whose answer deadline passed (one set-based UPDATE, in the
    caller's transaction: commit afterwards). Returns the number of visits expired."""
    count = await VisitRepository(session).expire(now)
    if count:
        log.info("%s visit confirmation(s) expired", count)
    return count


# ------------------------------------------------------------------------- /flags


@dataclass(frozen=True, slots=True)
class FlagsViewer:
    """Whose flagged visits a user sees: an admin's region subtree, or a supervisor's cadres."""

    region_path: str | None = None
    supervisor_id: int | None = None


async def flags_viewer(session: AsyncSession, access: Access) -> FlagsViewer | None:
    """None: this user may not see flagged visits (a household, the public, a plain cadre)."""
    if access.role is Role.ADMIN and access.region_path:
        return FlagsViewer(region_path=access.region_path)
    if access.role is Role.CADRE and access.cadre_id is not None:
        if await VisitRepository(session).supervises_anyone(access.cadre_id):
            return FlagsViewer(supervisor_id=access.cadre_id)
    return None


@dataclass(frozen=True, slots=True)
class FlagsPage:
    rows: list[FlaggedVisit]
    total: int
    page: int  # 0-based, clamped to the last page
    pages: int


async def flagged_page(session: AsyncSession, viewer: FlagsViewer, page: int) -> FlagsPage:
    repo = VisitRepository(session)
    page = max(page, 0)
    rows, total = await repo.flagged(
        region_path=viewer.region_path, supervisor_id=viewer.supervisor_id,
        offset=page * FLAGS_PAGE, limit=FLAGS_PAGE,
    )
    pages = max(1, -(-total // FLAGS_PAGE))
    if page >= pages:  # the list shrank since the button was drawn: show the last page
        page = pages - 1
        rows, total = await repo.flagged(
            region_path=viewer.region_path, supervisor_id=viewer.supervisor_id,
            offset=page * FLAGS_PAGE, limit=FLAGS_PAGE,
        )
    return FlagsPage(rows, total, page, pages)


async def cadre_name(session: AsyncSession, cadre_id: int) -> str:
    cadre = await session.get(Cadre, cadre_id)
    return cadre.name if cadre is not None else ""
