"""Who may act for a household (storage/repositories/pairings.py) and user dates
(bot/work/dates.py)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.work.dates import parse_user_date
from storage.models import Cadre
from storage.repositories.pairings import PairingRepository


async def test_cadre_may_act_only_for_paired_or_led_village(people, session) -> None:
    repo = PairingRepository(session)
    assert await repo.cadre_may_act(people.cadre, people.h1)
    assert not await repo.cadre_may_act(people.cadre, people.h5)  # another cadre's household
    assert not await repo.cadre_may_act(people.cadre_ko, people.h1)
    # the supervisor leads village 2: households there, not village 1
    supervisor = await session.get(Cadre, people.supervisor)
    supervisor.leader_village_id = people.village_2
    await session.commit()
    assert await repo.cadre_may_act(people.supervisor, people.h5)
    assert not await repo.cadre_may_act(people.supervisor, people.h1)
    assert [p.household_id for p in await repo.open_for_cadre(people.cadre)] == sorted(
        [people.h1, people.h2, people.h3], key=lambda h: {people.h1: "张大山", people.h2: "김순자",
                                                          people.h3: "王<小>二"}[h])
    assert (await repo.open_for_household(people.h1)).cadre.name == "刘干部"
    assert await repo.open_for_household(9999) is None


async def test_household_in_scope(people, session) -> None:
    repo = PairingRepository(session)
    assert await repo.household_in_scope("吉林省/示范市/示范县", people.h5)
    assert await repo.household_in_scope("吉林省", people.h1)
    assert not await repo.household_in_scope("吉林省/示范市/邻县", people.h1)
    assert not await repo.household_in_scope("吉林省/示范市/示范", people.h1)  # a prefix is no parent


TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(
    ("text", "prefer", "expected"),
    [
        ("2026-12-01", "past", date(2026, 12, 1)),
        ("12月1日", "past", date(2026, 12, 1)),  # this year's: the caller says "not in the future"
        ("11/20", "past", date(2026, 11, 20)),
        ("11月20号", "past", date(2026, 11, 20)),
        ("11월 20일", "past", date(2026, 11, 20)),
        ("2026年11月20日", "past", date(2026, 11, 20)),
        ("明天", "past", date(2026, 11, 30)),
        ("昨天", "past", date(2026, 11, 28)),
        ("그저께", "past", date(2026, 11, 27)),
        ("어제", "past", date(2026, 11, 28)),
        ("Yesterday", "past", date(2026, 11, 28)),
        ("2 days ago", "past", date(2026, 11, 27)),
        ("1月5日", "past", date(2026, 1, 5)),
        ("1月5日", "future", date(2027, 1, 5)),
        ("6月30日", "future", date(2027, 6, 30)),
        ("6月30日", "past", date(2026, 6, 30)),
        ("2月29日", "past", date(2024, 2, 29)),  # the last leap day
        ("2月29日", "future", date(2028, 2, 29)),
        ("2026-02-30", "past", None),
        ("abc", "past", None),
        ("😀", "past", None),
        ("", "past", None),
        ("1" * 100, "past", None),
    ],
)
def test_parse_user_date(text: str, prefer: str, expected: date | None) -> None:
    assert parse_user_date(text, TODAY, prefer) == expected  # type: ignore[arg-type]
