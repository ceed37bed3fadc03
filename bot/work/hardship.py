"""Hardship requests (困难报告): filing, acknowledgement, outcome, states and lists.

The rules (plain functions over the repository, `now` injected for tests):
- a request is filed by a bound household; `cadre_id` is its open pairing's cadre at
  filing (may be none); ack_due = add_working_days(created, acknowledge_working_days),
  outcome_due = add_working_days(created, acknowledge + outcome working days), and on
  acknowledgement outcome_due = add_working_days(acknowledged_at, outcome_working_days);
- only the request's cadre, or a cadre who may act for the household now (paired, or
  leading its village), acknowledges it or records its outcome; acknowledging is a
  conditional UPDATE (a second press finds it done), an outcome needs an acknowledgement;
- the state is derived (`state_of`), never stored.

`HardshipService` adds the deliveries: the cadre's accounts are told of a new request,
the household of the acknowledgement and the outcome, each in their own language. It
commits before sending, so a receiver pressing a button at once finds the row. Logs carry
row ids only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from math import ceil
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.access import Access
from bot.policy.forwarding import locale_of
from bot.work import clock as work_clock
from bot.work import hardship_render as render
from bot.work.rules import HardshipRules
from bot.work.workdays import add_working_days
from storage.enums import HardshipCategory, HardshipState, Role
from storage.models import Account, HardshipRequest, Household
from storage.repositories.accounts import AccountRepository
from storage.repositories.audit import AuditRepository
from storage.repositories.hardship import HardshipRepository
from storage.repositories.pairings import PairingRepository

log = logging.getLogger(__name__)

PAGE_SIZE = 8  # requests per /requests page


def clock() -> datetime:
    """Now, aware UTC (bot/work/clock.py), used by the hardship handlers; tests monkeypatch it."""
    return work_clock.now()


def state_of(request: HardshipRequest, now: datetime) -> HardshipState:
    if request.resolved_at is not None:
        return HardshipState.RESOLVED
    if (request.acknowledged_at is None and now > request.ack_due_at) or now > request.outcome_due_at:
        return HardshipState.OVERDUE
    if request.acknowledged_at is not None:
        return HardshipState.ACKNOWLEDGED
    return HardshipState.NEW


def validate_text(text: str | None, limit: int) -> tuple[str | None, int]:
    """(the stripped text, its length) or (None, length) when empty or over `limit`."""
    cleaned = (text or "").strip()
    if not cleaned or len(cleaned) > limit:
        return None, len(cleaned)
    return cleaned, len(cleaned)


# --------------------------------------------------------------------- the rules


async def file_request(
    session: AsyncSession,
    *,
    household_id: int,
    category: HardshipCategory,
    text: str,
    photo_file_id: str | None,
    now: datetime,
    rules: HardshipRules,
    tz: ZoneInfo,
    actor: str = "system",
) -> HardshipRequest:
    """Store a new request (flushed, not committed); the cadre is the open pairing's."""
    pairing = await PairingRepository(session).open_for_household(household_id)
    row = await HardshipRepository(session).add(
        household_id=household_id,
        cadre_id=pairing.cadre_id if pairing is not None else None,
        category=HardshipCategory(category),
        text=text,
        photo_file_id=photo_file_id,
        created_at=now,
        ack_due_at=add_working_days(now, rules.acknowledge_working_days, tz),
        outcome_due_at=add_working_days(now, rules.acknowledge_working_days + rules.outcome_working_days, tz),
    )
    await AuditRepository(session).record(
        actor, "hardship.file", region_id=await _village_of(session, household_id),
        object_type="hardship_request", object_id=row.id,
        details={"category": row.category.value, "household_id": household_id},
    )
    return row


async def _village_of(session: AsyncSession, household_id: int) -> int | None:
    """The household's village: the region the audit entry is filed under (so that the
    county's admins see it in /audit)."""
    household = await session.get(Household, household_id)
    return household.village_id if household is not None else None


def _household_of(checked: ActionResult) -> int:
    assert checked.request is not None  # check_action returns DONE only with the request
    return checked.request.household_id


async def may_handle(session: AsyncSession, request: HardshipRequest, cadre_id: int | None) -> bool:
    """The cadre the request was filed to, or one who may act for the household now."""
    if cadre_id is None:
        return False
    if request.cadre_id == cadre_id:
        return True
    return await PairingRepository(session).cadre_may_act(cadre_id, request.household_id)


class ActionStatus(StrEnum):
    DONE = "done"
    FORBIDDEN = "forbidden"  # unknown request, or not this cadre's (forged or stale)
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    NOT_ACKNOWLEDGED = "not_acknowledged"
    ALREADY_RESOLVED = "already_resolved"


@dataclass(frozen=True, slots=True)
class ActionResult:
    status: ActionStatus
    request: HardshipRequest | None = None


async def check_action(
    session: AsyncSession, request_id: int, cadre_id: int | None, action: str
) -> ActionResult:
    """Whether this cadre may do `action` ('ack' or 'out') on the request now; writes nothing."""
    repo = HardshipRepository(session)
    request = await repo.get(request_id)
    if request is None or not await may_handle(session, request, cadre_id):
        return ActionResult(ActionStatus.FORBIDDEN)
    if request.resolved_at is not None:
        return ActionResult(ActionStatus.ALREADY_RESOLVED, request)
    if action == "ack" and request.acknowledged_at is not None:
        return ActionResult(ActionStatus.ALREADY_ACKNOWLEDGED, request)
    if action == "out" and request.acknowledged_at is None:
        return ActionResult(ActionStatus.NOT_ACKNOWLEDGED, request)
    return ActionResult(ActionStatus.DONE, request)


async def acknowledge_request(
    session: AsyncSession,
    request_id: int,
    cadre_id: int | None,
    *,
    now: datetime,
    rules: HardshipRules,
    tz: ZoneInfo,
    actor: str = "system",
) -> ActionResult:
    """受理: acknowledged_at = now and the outcome deadline counted from now (flushed)."""
    checked = await check_action(session, request_id, cadre_id, "ack")
    if checked.status is not ActionStatus.DONE:
        return checked
    repo = HardshipRepository(session)
    if not await repo.acknowledge(request_id, now, add_working_days(now, rules.outcome_working_days, tz)):
        return ActionResult(ActionStatus.ALREADY_ACKNOWLEDGED, checked.request)
    await AuditRepository(session).record(
        actor, "hardship.acknowledge", region_id=await _village_of(session, _household_of(checked)),
        object_type="hardship_request", object_id=request_id,
    )
    return ActionResult(ActionStatus.DONE, await repo.get(request_id))


async def resolve_request(
    session: AsyncSession, request_id: int, cadre_id: int | None, outcome: str, *, now: datetime,
    actor: str = "system",
) -> ActionResult:
    """记录结果: resolved_at = now and the outcome, on an acknowledged request (flushed)."""
    checked = await check_action(session, request_id, cadre_id, "out")
    if checked.status is not ActionStatus.DONE:
        return checked
    repo = HardshipRepository(session)
    if not await repo.resolve(request_id, now, outcome):
        return ActionResult(ActionStatus.ALREADY_RESOLVED, checked.request)
    await AuditRepository(session).record(
        actor, "hardship.resolve", region_id=await _village_of(session, _household_of(checked)),
        object_type="hardship_request", object_id=request_id,
    )
    return ActionResult(ActionStatus.DONE, await repo.get(request_id))


async def overdue_requests(session: AsyncSession, now: datetime, *, limit: int, after_id: int = 0):
    """Overdue requests (not acknowledged or not resolved in time), by id, at most `limit`;
    for the escalation scan of the notification engine (keyset paging with `after_id`)."""
    return await HardshipRepository(session).overdue(now, limit=limit, after_id=after_id)


# ------------------------------------------------------------------- /requests


@dataclass
class RequestsView:
    kind: str  # household | cadre | admin
    items: list[tuple[HardshipRequest, HardshipState]]
    total: int
    page: int
    pages: int
    own_ids: set[int] = field(default_factory=set)  # cadre view: the viewer's own households'
    actions: list[tuple[str, int]] = field(default_factory=list)  # cadre view: ('ack'|'out', id)


async def requests_view(
    session: AsyncSession, access: Access, now: datetime, page: int = 0, *, page_size: int = PAGE_SIZE
) -> RequestsView | None:
    """The /requests page for this user, or None when their role has no such view."""
    repo = HardshipRepository(session)
    page = max(0, page)
    offset = page * page_size
    if access.role is Role.HOUSEHOLD and access.household_id is not None:
        kind = "household"
        result = await repo.page_for_household(access.household_id, now, limit=page_size, offset=offset)
    elif access.role is Role.CADRE and access.cadre_id is not None:
        kind = "cadre"
        result = await repo.page_for_cadre(access.cadre_id, now, limit=page_size, offset=offset)
    elif access.role is Role.ADMIN and access.region_path:
        kind = "admin"
        result = await repo.page_for_region(access.region_path, now, limit=page_size, offset=offset)
    else:
        return None
    pages = max(1, ceil(result.total / page_size))
    view = RequestsView(
        kind, [(r, state_of(r, now)) for r in result.rows], result.total, page, pages
    )
    if kind == "cadre" and view.items:
        cadre_id = access.cadre_id
        paired = await repo.paired_household_ids(cadre_id, {r.household_id for r, _s in view.items})
        view.own_ids = {r.id for r, _s in view.items if r.cadre_id == cadre_id or r.household_id in paired}
        for request, state in view.items:
            if request.id not in view.own_ids or state is HardshipState.RESOLVED:
                continue
            view.actions.append(("ack" if request.acknowledged_at is None else "out", request.id))
    return view


# -------------------------------------------------------------- with deliveries


@dataclass(frozen=True, slots=True)
class FiledOutcome:
    request_id: int
    ack_due_at: datetime
    outcome_due_at: datetime
    cadre_name: str | None  # set when at least one of the cadre's accounts was told


@dataclass(frozen=True, slots=True)
class DeliveredResult:
    status: ActionStatus
    request: HardshipRequest | None = None
    delivered: int = 0  # household accounts told


class HardshipService:
    def __init__(self, session: AsyncSession, bot: Bot, i18n: I18n, rules: HardshipRules, tz: ZoneInfo) -> None:
        self.session = session
        self.bot = bot
        self.i18n = i18n
        self.rules = rules
        self.tz = tz
        self.accounts = AccountRepository(session)

    async def file(
        self,
        account: Account,
        household_id: int,
        category: HardshipCategory,
        text: str,
        photo_file_id: str | None,
        now: datetime,
    ) -> FiledOutcome:
        row = await file_request(
            self.session, household_id=household_id, category=category, text=text, photo_file_id=photo_file_id,
            now=now, rules=self.rules, tz=self.tz, actor=f"account:{account.id}",
        )
        request = await HardshipRepository(self.session).get(row.id)
        assert request is not None
        receivers = await self.accounts.active_for_cadre(request.cadre_id) if request.cadre_id else []
        household = request.household
        head_name, reg_no = household.head_name, household.reg_no
        village_path = household.village.path if household.village is not None else ""
        cadre_name = request.cadre.name if request.cadre is not None else None
        outcome = FiledOutcome(request.id, request.ack_due_at, request.outcome_due_at, None)
        await self.session.commit()
        delivered = 0
        for receiver in receivers:
            locale = locale_of(receiver, self.i18n)
            with self.i18n.use_locale(locale):
                body = render.cadre_new_request_text(request, head_name, reg_no, village_path, locale, self.tz)
                caption = render.cadre_photo_caption(request.id, head_name)
                markup = render.acknowledge_keyboard(request.id)
            delivered += await self._send(receiver, body, markup, photo=request.photo_file_id, caption=caption)
        log.info("hardship request %s filed, cadre told on %s of %s account(s)", request.id, delivered, len(receivers))
        if delivered:
            return FiledOutcome(outcome.request_id, outcome.ack_due_at, outcome.outcome_due_at, cadre_name)
        return outcome

    async def acknowledge(self, account: Account, cadre_id: int | None, request_id: int, now: datetime) -> DeliveredResult:
        result = await acknowledge_request(
            self.session, request_id, cadre_id, now=now, rules=self.rules, tz=self.tz, actor=f"account:{account.id}"
        )
        if result.status is not ActionStatus.DONE or result.request is None:
            return DeliveredResult(result.status, result.request)
        request = result.request
        cadre = request.cadre.name if request.cadre is not None else ""
        receivers = await self.accounts.active_for_household(request.household_id)
        await self.session.commit()
        delivered = 0
        for receiver in receivers:
            locale = locale_of(receiver, self.i18n)
            with self.i18n.use_locale(locale):
                body = render.household_acknowledged_text(request, cadre, locale, self.tz)
            delivered += await self._send(receiver, body, None)
        log.info("hardship request %s acknowledged, household told on %s account(s)", request.id, delivered)
        return DeliveredResult(ActionStatus.DONE, request, delivered)

    async def resolve(
        self, account: Account, cadre_id: int | None, request_id: int, outcome: str, now: datetime
    ) -> DeliveredResult:
        result = await resolve_request(
            self.session, request_id, cadre_id, outcome, now=now, actor=f"account:{account.id}"
        )
        if result.status is not ActionStatus.DONE or result.request is None:
            return DeliveredResult(result.status, result.request)
        request = result.request
        receivers = await self.accounts.active_for_household(request.household_id)
        await self.session.commit()
        delivered = 0
        for receiver in receivers:
            with self.i18n.use_locale(locale_of(receiver, self.i18n)):
                body = render.household_outcome_text(request)
            delivered += await self._send(receiver, body, None)
        log.info("hardship request %s resolved, household told on %s account(s)", request.id, delivered)
        return DeliveredResult(ActionStatus.DONE, request, delivered)

    async def _send(
        self,
        receiver: Account,
        text: str,
        markup: InlineKeyboardMarkup | None,
        *,
        photo: str | None = None,
        caption: str | None = None,
    ) -> int:
        try:
            if photo:
                await self.bot.send_photo(receiver.chat_id, photo, caption=caption)
            await self.bot.send_message(receiver.chat_id, text, reply_markup=markup)
        except TelegramAPIError as exc:
            log.warning("could not deliver to account %s: %s", receiver.id, type(exc).__name__)
            return 0
        return 1
