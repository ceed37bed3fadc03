"""Fixtures of the scan tests: the cadre-work registry (tests/work/people.py) and helpers."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.i18n import create_i18n
from storage.models import Account, OutboxMessage
from tests.work.people import WorkPeople, seed_work

TZ = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A local (Asia/Shanghai) moment."""
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


@pytest.fixture
async def people(sessionmaker) -> WorkPeople:
    return await seed_work(sessionmaker)


@pytest.fixture
def i18n():
    return create_i18n()


async def account_id(sessionmaker, telegram_user_id: int) -> int:
    async with sessionmaker() as s:
        return await s.scalar(select(Account.id).where(Account.telegram_user_id == telegram_user_id))


async def outbox(sessionmaker, *kinds) -> list[OutboxMessage]:
    async with sessionmaker() as s:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if kinds:
            stmt = stmt.where(OutboxMessage.kind.in_(kinds))
        return list((await s.scalars(stmt)).all())
