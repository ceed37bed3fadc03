"""Plan milestones (帮扶计划事项): the rules of adding one, marking one done with evidence,
and a household's plan. Plain functions and a service over the repositories, testable
without Telegram; every "today"/"now" is a parameter.

Status is derived, never stored: 已完成 (completed_at set), 逾期 (open and due before
today), else 未完成. Every write re-checks that the cadre may act for the household
(callback data can be forged, pairings can end while a dialog is open) and commits once.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.policy.forwarding import locale_of
from bot.work.dates import parse_user_date
from storage.enums import MilestoneCategory
from storage.models import Household, Milestone
from storage.repositories.accounts import AccountRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.milestones import MilestoneRepository
from storage.repositories.pairings import PairingRepository

log = logging.getLogger(__name__)

TITLE_MAX = 200  # Milestone.title is String(200)
EVIDENCE_MAX = 2000  # characters of evidence text kept
MAX_YEARS_AHEAD = 5  # a due date at most this far ahead


# ------------------------------------------------------------------------- status


class Status(StrEnum):
    OPEN = "open"  # 未完成
    OVERDUE = "overdue"  # 逾期
    DONE = "done"  # 已完成


def status_of(milestone: Milestone, today: date) -> Status:
    if milestone.completed_at is not None:
        return Status.DONE
    if milestone.due_date < today:
        return Status.OVERDUE
    return Status.OPEN


# -------------------------------------------------------------------- title rules


class TitleProblem(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    DUPLICATE = "duplicate"


def clean_title(text: str | None) -> str:
    """One line, runs of whitespace (newlines too) collapsed to one space."""
    return " ".join((text or "").split())


def title_problem(title: str) -> TitleProblem | None:
    """Shape only (1–200 characters); duplicates need the database (`title_taken`)."""
    if not title:
        return TitleProblem.EMPTY
    if len(title) > TITLE_MAX:
        return TitleProblem.TOO_LONG
    return None


# ---------------------------------------------------------------------- due dates


class DueProblem(StrEnum):
    UNREADABLE = "unreadable"
    PAST = "past"
    TOO_FAR = "too_far"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (1月31日 + 1 month = 2月28/29日)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def latest_due(today: date) -> date:
    return add_months(today, 12 * MAX_YEARS_AHEAD)


# Preset buttons of the due-date step, in display order: key → months ahead (None: year end)
DUE_PRESETS: dict[str, int | None] = {"1m": 1, "3m": 3, "6m": 6, "eoy": None}


def preset_due(key: str, today: date) -> date | None:
    """The date of a preset button (None for an unknown key: forged or stale)."""
    if key not in DUE_PRESETS:
        return None
    months = DUE_PRESETS[key]
    return date(today.year, 12, 31) if months is None else add_months(today, months)


def due_problem(due: date, today: date) -> DueProblem | None:
    if due < today:
        return DueProblem.PAST
    if due > latest_due(today):
        return DueProblem.TOO_FAR
    return None


def read_due(text: str, today: date) -> tuple[date | None, DueProblem | None]:
    """A typed due date (2026-12-01, 12月1日, 明天, 내일, next month…), checked against today."""
    due = parse_user_date(text, today, "future")
    if due is None:
        return None, DueProblem.UNREADABLE
    problem = due_problem(due, today)
    return (None, problem) if problem else (due, None)


# ------------------------------------------------------------------------ service


@dataclass(frozen=True, slots=True)
class HouseholdChoice:
    id: int
    head_name: str
    village: str
    open_items: int


class AddStatus(StrEnum):
    SAVED = "saved"
    FORBIDDEN = "forbidden"  # not the cadre's household (any more)
    BAD_TITLE = "bad_title"
    DUPLICATE = "duplicate"
    BAD_DATE = "bad_date"


@dataclass(frozen=True, slots=True)
class AddOutcome:
    status: AddStatus
    milestone_id: int | None = None


class DoneStatus(StrEnum):
    DONE = "done"
    ALREADY = "already"  # completed before (double press, second device, another cadre)
    FORBIDDEN = "forbidden"  # unknown item, or not the cadre's household
    NO_EVIDENCE = "no_evidence"


@dataclass(frozen=True, slots=True)
class DoneOutcome:
    status: DoneStatus
    household_id: int | None = None
    title: str | None = None


class DoneStartStatus(StrEnum):
    """May a cadre start marking item `id` done (the 标记完成 button of a reminder)?"""

    OK = "ok"
    UNKNOWN = "unknown"  # no such item (a forged or garbled id)
    FORBIDDEN = "forbidden"  # not a cadre, or not the cadre's household (any more)
    ALREADY = "already"  # done since the reminder went out


@dataclass(frozen=True, slots=True)
class DoneStart:
    status: DoneStartStatus
    item: Milestone | None = None  # set when OK or ALREADY
    household: Household | None = None  # the item's household, when OK


_ID_MAX = 2**31 - 1  # ids are INTEGER columns: a forged larger number is no id at all


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= _ID_MAX


def actor(account_id: int) -> str:
    return f"account:{account_id}"


class MilestoneService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.repo = MilestoneRepository(session)
        self.pairings = PairingRepository(session)

    # reads

    async def households(self, cadre_id: int) -> list[HouseholdChoice]:
        """The cadre's paired households (by name) with their number of open items."""
        pairings = await self.pairings.open_for_cadre(cadre_id)
        counts = await self.repo.open_counts(p.household_id for p in pairings)
        return [
            HouseholdChoice(p.household_id, p.household.head_name, p.household.village.name,
                            counts.get(p.household_id, 0))
            for p in pairings
        ]

    async def may_act(self, cadre_id: int | None, household_id: int | None) -> bool:
        if not (_is_id(cadre_id) and _is_id(household_id)):
            return False
        return await self.pairings.cadre_may_act(cadre_id, household_id)

    async def household(self, cadre_id: int | None, household_id: int | None) -> Household | None:
        """The household if this cadre may act for it, else None."""
        if not await self.may_act(cadre_id, household_id):
            return None
        return await self.session.get(Household, household_id)

    async def title_taken(self, household_id: int, title: str) -> bool:
        return await self.repo.title_taken(household_id, title)

    async def open_items(self, cadre_id: int | None, household_id: int | None) -> Sequence[Milestone] | None:
        """The household's open items, or None when the cadre may not act for it."""
        if not await self.may_act(cadre_id, household_id):
            return None
        return await self.repo.open_for_household(household_id)  # type: ignore[arg-type]

    async def item_for_cadre(self, cadre_id: int | None, milestone_id: int | None) -> Milestone | None:
        """The item if it belongs to a household this cadre may act for, else None."""
        if not _is_id(milestone_id):
            return None
        item = await self.repo.get(milestone_id)
        if item is None or not await self.may_act(cadre_id, item.household_id):
            return None
        return item

    async def done_start(self, cadre_id: int | None, milestone_id: int | None) -> DoneStart:
        """The rules of the dialog's item choice (`item_for_cadre`), telling apart an unknown
        item, one of another cadre's households and one already done."""
        if not _is_id(cadre_id):
            return DoneStart(DoneStartStatus.FORBIDDEN)
        if not _is_id(milestone_id):
            return DoneStart(DoneStartStatus.UNKNOWN)
        item = await self.repo.get(milestone_id)  # type: ignore[arg-type]
        if item is None:
            return DoneStart(DoneStartStatus.UNKNOWN)
        if not await self.may_act(cadre_id, item.household_id):
            return DoneStart(DoneStartStatus.FORBIDDEN)
        if item.completed_at is not None:
            return DoneStart(DoneStartStatus.ALREADY, item)
        household = await self.session.get(Household, item.household_id)
        if household is None:  # pragma: no cover - a foreign key guarantees it
            return DoneStart(DoneStartStatus.FORBIDDEN)
        return DoneStart(DoneStartStatus.OK, item, household)

    async def plan(self, household_id: int, today: date) -> Sequence[Milestone]:
        return await self.repo.for_household(household_id, today)

    # writes

    async def add(
        self,
        *,
        cadre_id: int | None,
        account_id: int,
        household_id: int | None,
        category: MilestoneCategory,
        title: str,
        due_date: date,
        today: date,
    ) -> AddOutcome:
        household = await self.household(cadre_id, household_id)
        if household is None:
            return AddOutcome(AddStatus.FORBIDDEN)
        title = clean_title(title)
        if title_problem(title) is not None:
            return AddOutcome(AddStatus.BAD_TITLE)
        if due_problem(due_date, today) is not None:
            return AddOutcome(AddStatus.BAD_DATE)
        if await self.repo.title_taken(household.id, title):
            return AddOutcome(AddStatus.DUPLICATE)
        village_id = household.village_id
        try:
            row = await self.repo.add(
                household_id=household.id, category=category, title=title, due_date=due_date,
                created_by=actor(account_id),
            )
        except IntegrityError:  # the same title added at the same moment elsewhere
            await self.session.rollback()
            return AddOutcome(AddStatus.DUPLICATE)
        await AuditRepository(self.session).record(
            actor(account_id), "milestone.add", region_id=village_id, object_type="milestone",
            object_id=row.id,
            details={"household_id": household.id, "category": category.value, "due_date": due_date.isoformat()},
        )
        milestone_id = row.id
        await self.session.commit()
        log.info("milestone %s added for household %s", milestone_id, household.id)
        return AddOutcome(AddStatus.SAVED, milestone_id)

    async def mark_done(
        self,
        *,
        cadre_id: int | None,
        account_id: int,
        milestone_id: int | None,
        evidence_text: str | None,
        evidence_photo_file_id: str | None,
        now: datetime,
    ) -> DoneOutcome:
        item = await self.item_for_cadre(cadre_id, milestone_id)
        if item is None:
            return DoneOutcome(DoneStatus.FORBIDDEN)
        household_id, title, item_id = item.household_id, item.title, item.id
        if item.completed_at is not None:
            return DoneOutcome(DoneStatus.ALREADY, household_id, title)
        text = (evidence_text or "").strip()[:EVIDENCE_MAX] or None
        photo = evidence_photo_file_id or None
        if text is None and photo is None:
            return DoneOutcome(DoneStatus.NO_EVIDENCE, household_id, title)
        household = await self.session.get(Household, household_id)
        changed = await self.repo.mark_done(
            item_id, completed_at=now, completed_by=actor(account_id), evidence_text=text,
            evidence_photo_file_id=photo,
        )
        if not changed:
            await self.session.rollback()
            return DoneOutcome(DoneStatus.ALREADY, household_id, title)
        await AuditRepository(self.session).record(
            actor(account_id), "milestone.done", region_id=household.village_id if household else None,
            object_type="milestone", object_id=item_id,
            details={"household_id": household_id, "has_text": text is not None, "has_photo": photo is not None},
        )
        await self.session.commit()
        log.info("milestone %s marked done", item_id)
        return DoneOutcome(DoneStatus.DONE, household_id, title)


async def tell_household(
    session: AsyncSession, bot: Bot, i18n: I18n, household_id: int, text_for: Callable[[str], str]
) -> int:
    """Send `text_for(locale)` (called under each receiver's locale) to the household's active
    accounts. Returns how many received it (a blocked bot is logged, not raised)."""
    receivers = await AccountRepository(session).active_for_household(household_id)
    delivered = 0
    for receiver in receivers:
        locale = locale_of(receiver, i18n)
        with i18n.use_locale(locale):
            text = text_for(locale)
        try:
            await bot.send_message(receiver.chat_id, text)
        except TelegramAPIError as exc:
            log.warning("could not tell account %s about a milestone: %s", receiver.id, type(exc).__name__)
            continue
        delivered += 1
    return delivered
