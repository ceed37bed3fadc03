"""Quiet hours: non-urgent notices wait until the morning.

`settings.quiet_hours` is a local window `HH:MM-HH:MM` (default 21:00-08:00, crossing
midnight) or empty for none. A notice whose moment falls inside the window gets the
window's end as its `not_before`; outside it the moment is kept.

Which notices are urgent: none of the scans' notices (reminders, overdue alerts,
escalations, digests, catch-ups, weekly summaries). Each of them can wait a night; a
cadre or an admin woken at 23:00 by a reminder would rather mute the bot. `Notice.urgent`
stays available for what truly must not wait; the scans never set it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_window(quiet_hours: str) -> tuple[time, time] | None:
    """(start, end) of the window, or None when the setting is empty (or start == end).
    The format is validated by Settings; a bad value raises ValueError."""
    value = (quiet_hours or "").strip()
    if not value:
        return None
    start_text, end_text = value.split("-", 1)
    start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    if start == end:
        return None
    return start, end


def in_window(local: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start < end:  # e.g. 12:00-14:00
        return start <= local < end
    return local >= start or local < end  # crossing midnight, e.g. 21:00-08:00


def release_time(moment: datetime, tz: ZoneInfo, quiet_hours: str) -> datetime:
    """When a non-urgent notice due at `moment` (aware) may go out: the end of the quiet
    window when `moment` falls inside it, else `moment` itself (same zone as given)."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    window = parse_window(quiet_hours)
    if window is None:
        return moment
    local = moment.astimezone(tz)
    if not in_window(local.timetz().replace(tzinfo=None), window):
        return moment
    end = window[1]
    release_day = local.date()
    if local.time() >= end:  # evening part of a window crossing midnight: tomorrow morning
        release_day += timedelta(days=1)
    release = datetime.combine(release_day, end, tzinfo=tz)
    return release.astimezone(moment.tzinfo)
