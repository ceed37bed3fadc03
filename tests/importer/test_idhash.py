"""ID numbers: GB 11643 validation, last 4, keyed hashing, the generated key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.idhash import (
    APP_META_KEY,
    InvalidIdNumber,
    get_id_hash_key,
    hash_id_number,
    id_check_char,
    id_last4,
    is_valid_id_number,
    normalize_id_number,
)
from storage.models import AppMeta

VALID = "220699196803150014"
VALID_X = "22069919731028019X"


def test_check_char_known_values():
    # the widely published sample number 11010519491231002X
    assert id_check_char("11010519491231002") == "X"
    assert id_check_char(VALID[:17]) == VALID[17]


@pytest.mark.parametrize("raw", [VALID, VALID_X, VALID_X.lower(), f" {VALID} ", "２２０６９９１９６８０３１５００１４"])
def test_valid_numbers(raw):
    assert is_valid_id_number(raw)
    assert normalize_id_number(raw) in (VALID, VALID_X)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("220699196803150015", "check digit"),
        ("22069919680315001", "18 characters"),
        ("2206991968031500141", "18 characters"),
        ("22069919680315001A", "check digit 0-9 or X"),
        ("220699196802300014", "birth date"),  # 30 February
        ("220699180001010014", "out of range"),
        ("", "18 characters"),
    ],
)
def test_invalid_numbers_never_echo_the_value(raw, reason):
    with pytest.raises(InvalidIdNumber) as exc:
        normalize_id_number(raw)
    assert reason in str(exc.value)
    assert str(exc.value).startswith("invalid ID number")
    if raw:
        assert raw not in str(exc.value) and raw[:10] not in str(exc.value)


def test_last4_and_hash():
    assert id_last4(VALID_X.lower()) == "019X"
    h1 = hash_id_number("k" * 16, VALID_X)
    assert h1 == hash_id_number(b"k" * 16, VALID_X.lower())
    assert len(h1) == 64 and VALID_X not in h1
    assert h1 != hash_id_number("other-key-0123456", VALID_X)


async def test_generated_key_is_stored_once(session):
    assert await get_id_hash_key(session, "configured-key-0123456789") == b"configured-key-0123456789"
    assert await session.get(AppMeta, APP_META_KEY) is None
    first = await get_id_hash_key(session, None)
    await session.commit()
    second = await get_id_hash_key(session, None)
    assert first == second and len(first) == 64
    assert (await session.scalars(select(AppMeta.key))).all() == [APP_META_KEY]
