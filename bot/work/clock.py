"""The one clock of cadre work: now, aware UTC.

Every handler and service of bot/work asks this module for the time (through their own
`clock()` / `current_time()` wrappers, which tests of one feature monkeypatch), so an
end-to-end test of several features moves all of them at once by patching `now`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
