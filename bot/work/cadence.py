"""Visit cadence (issue #4 part 5): when each paired household must next be visited, and
whether a unit leader has visited their assigned village (联系点) often enough.

The rules come from `settings.rules.visits` (bot/work/cadence.yaml):

- every paired household is visited at least once every N days (`every_days`, default 30):
  `next_visit_due = last_visit_on + N`, where `last_visit_on` is the latest visit by the
  paired cadre to that household on or after the pairing's start date;
- a new pairing's first contact is due M days after its start (`first_contact_days`,
  default 7): before any visit, `next_visit_due = start_date + M`;
- a pairing is overdue only AFTER its due day (`today > due`): a visit on the due day is in
  time. "Today" is the local date in Asia/Shanghai (`bot.work.rules.local_today`), so a
  pairing turns overdue at local midnight, not at UTC midnight;
- unit leaders (cadres with `leader_village_id`) visit that village `leader_visits_per_year`
  times a year (default 2), see `leader_visit_status`.

Both dates are stored on the pairing (so "who is due" is an index range scan over a million
pairings) and kept right by `refresh_pairings`: after a visit is saved (bot/work/visits.py),
after a pairing import (storage/importer), and for every pairing when the rules change
(`ensure_rules_applied`, run at bot start). Ended pairings keep their last values and carry
no due date once closed by the importer.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.work.rules import VisitRules
from storage.models import AppMeta, Cadre
from storage.repositories.cadence import RULES_META_KEY, CadenceRepository, rules_record

log = logging.getLogger(__name__)



# --------------------------------------------------------------------------- the pure rule


def next_visit_due(start_date: date, last_visit_on: date | None, rules: VisitRules) -> date:
    """The day the next visit is due: last visit + N days, or start + M days before any visit."""
    if last_visit_on is None:
        return start_date + timedelta(days=rules.first_contact_days)
    return last_visit_on + timedelta(days=rules.every_days)


def is_overdue(due: date, today: date) -> bool:
    """Overdue only after the due day: a visit on the due day itself is in time."""
    return today > due


# --------------------------------------------------------------------------- in the database


async def refresh_pairings(
    session: AsyncSession,
    rules: VisitRules,
    *,
    household_ids: Collection[int] | None = None,
    only_missing: bool = False,
) -> int:
    """Recompute `last_visit_on` and `next_visit_due` of the open pairings (all, or those of
    `household_ids`) with one set-based UPDATE, in the caller's transaction (the caller
    commits). `only_missing` limits it to open pairings without a due date yet. Returns the
    number of pairings updated."""
    if household_ids is not None and not household_ids:
        return 0
    return await CadenceRepository(session).refresh(
        rules, household_ids=household_ids, only_missing=only_missing
    )


def rules_fingerprint(rules: VisitRules) -> str:
    """What `app_meta['cadence_rules']` holds: the canonical JSON of the rules the stored
    columns depend on (every_days, first_contact_days and an algorithm version; not the
    leader rule nor backdating). Plain JSON rather than a hash, so that the importer can
    compute new pairings with the rules the running bot applied."""
    return rules_record(rules)


async def ensure_rules_applied(session: AsyncSession, rules: VisitRules) -> int:
    """At bot start: when the visit rules differ from those the stored columns were computed
    with (or on the first start), recompute every open pairing and remember the rules in
    `app_meta` ('cadence_rules', see `rules_fingerprint`); otherwise only fill open pairings that have no due date
    yet (e.g. created by a path that did not compute one). Commits; returns the number of
    pairings updated."""
    fingerprint = rules_fingerprint(rules)
    stored = await session.get(AppMeta, RULES_META_KEY)
    if stored is not None and stored.value == fingerprint:
        updated = await refresh_pairings(session, rules, only_missing=True)
        await session.commit()
        if updated:
            log.info("cadence: %s open pairings without a due date computed", updated)
        return updated
    updated = await refresh_pairings(session, rules)
    if stored is None:
        session.add(AppMeta(key=RULES_META_KEY, value=fingerprint))
    else:
        stored.value = fingerprint
    try:
        await session.commit()
    except IntegrityError:  # another process started at the same moment and did the same
        await session.rollback()
        return 0
    log.info("cadence rules applied (every %s days, first contact within %s days): %s pairings",
             rules.every_days, rules.first_contact_days, updated)
    return updated


# --------------------------------------------------------------------------- unit leaders


@dataclass(frozen=True, slots=True)
class LeaderPart:
    """One part of the year (e.g. Jan–Jun) and the leader's visit days in it."""

    first: date
    last: date
    visits: int  # distinct days with a visit to the village


@dataclass(frozen=True, slots=True)
class LeaderStatus:
    cadre_id: int
    village_id: int
    year: int
    parts: tuple[LeaderPart, ...]
    current: int  # index of the part `today` falls in
    last_visit_on: date | None  # this year
    due: date  # by when the next visit to the village is due
    overdue: bool  # a past part of this year had no visit

    @property
    def visits_this_year(self) -> int:
        return sum(p.visits for p in self.parts)


def year_parts(year: int, count: int) -> list[tuple[date, date]]:
    """The year split into `count` parts of whole months: part i starts in month
    1 + ⌊12·i/count⌋ (2 → Jan–Jun, Jul–Dec; 4 → quarters; 5 → Jan–Feb, Mar–Apr, May–Jul, …)."""
    starts = [1 + (12 * i) // count for i in range(count)]
    ends = [*(s - 1 for s in starts[1:]), 12]
    return [
        (date(year, s, 1), date(year, e, calendar.monthrange(year, e)[1]))
        for s, e in zip(starts, ends, strict=True)
    ]


def leader_status_from_days(
    cadre_id: int, village_id: int, today: date, rules: VisitRules, visit_days: Collection[date]
) -> LeaderStatus | None:
    """The pure part of `leader_visit_status` (visit_days: the days of this year with a visit)."""
    count = rules.leader_visits_per_year
    if count <= 0:
        return None
    bounds = year_parts(today.year, count)
    parts = tuple(
        LeaderPart(first, last, sum(1 for d in visit_days if first <= d <= last)) for first, last in bounds
    )
    current = next(i for i, p in enumerate(parts) if p.first <= today <= p.last)
    if parts[current].visits == 0:
        due = parts[current].last
    elif current + 1 < len(parts):
        due = parts[current + 1].last
    else:
        due = year_parts(today.year + 1, count)[0][1]
    overdue = any(p.visits == 0 for p in parts[:current])
    return LeaderStatus(
        cadre_id=cadre_id,
        village_id=village_id,
        year=today.year,
        parts=parts,
        current=current,
        last_visit_on=max(visit_days, default=None),
        due=due,
        overdue=overdue,
    )


async def leader_visit_status(
    session: AsyncSession, cadre_id: int, today: date, rules: VisitRules
) -> LeaderStatus | None:
    """How a unit leader stands with the visits to their assigned village (联系点) this
    calendar year. None when the cadre has no assigned village (or the rule is 0 a year).

    The year is split into `leader_visits_per_year` equal parts of whole months (2 a year:
    Jan–Jun and Jul–Dec) and each part needs at least one visit, logged by the leader, to
    any household of the village. `due` is the end of the current part while it has no
    visit yet, else the end of the next part (January–June of next year after the last
    part); `overdue` is set when an earlier part of this year had no visit (a new year
    starts clean)."""
    cadre = await session.get(Cadre, cadre_id)
    if cadre is None or cadre.leader_village_id is None or rules.leader_visits_per_year <= 0:
        return None
    days = await CadenceRepository(session).leader_visit_days(
        cadre_id, cadre.leader_village_id, date(today.year, 1, 1), today
    )
    return leader_status_from_days(cadre_id, cadre.leader_village_id, today, rules, days)


def leader_reminder_due(status: LeaderStatus, until: date) -> bool:
    """Whether the leader's village visit belongs in the daily digest and /today: its due day
    is by `until`, or an earlier part of the year was missed AND the current part has no visit
    yet. A visit in the current part settles it: a missed first half does not keep the
    reminder coming every day until December."""
    return status.due <= until or (status.overdue and status.parts[status.current].visits == 0)


async def leaders_due(session: AsyncSession, today: date, until: date, rules: VisitRules) -> set[int]:
    """Unit leaders whose village visit (联系点) is due by `until`, or overdue with no visit
    in the current part yet (`leader_reminder_due`): the daily digest goes to them even when
    none of their paired households has anything due."""
    if rules.leader_visits_per_year <= 0:
        return set()
    found = await CadenceRepository(session).leaders_visit_days(date(today.year, 1, 1), today)
    due: set[int] = set()
    for cadre_id, (village_id, days) in found.items():
        status = leader_status_from_days(cadre_id, village_id, today, rules, days)
        if status is not None and leader_reminder_due(status, until):
            due.add(cadre_id)
    return due

