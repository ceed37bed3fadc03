"""AccountRepository.touch: the account of every update (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from storage.models import Account
from storage.repositories import accounts as accounts_module
from storage.repositories.accounts import AccountRepository


async def test_touch_creates_then_updates_and_writes_last_seen_once_a_minute(session, monkeypatch) -> None:
    repo = AccountRepository(session)
    first = await repo.touch(5001, 5001, "ko", "Kim_Soon")
    assert first.id and first.username == "kim_soon" and first.telegram_language == "ko" and first.is_active
    seen = first.last_seen_at
    first.is_active = False  # blocked the bot, then wrote again
    await session.commit()

    again = await repo.touch(5001, 5001, "en", None)
    assert again.id == first.id and again.is_active and again.username is None
    assert again.telegram_language == "en"
    assert again.last_seen_at == seen  # within the minute: not rewritten

    later = seen + accounts_module.LAST_SEEN_RESOLUTION + timedelta(seconds=1)
    monkeypatch.setattr(accounts_module, "utcnow", lambda: later)
    await repo.touch(5001, 5001, "en", None)
    await session.commit()
    assert (await session.get(Account, first.id)).last_seen_at == later
