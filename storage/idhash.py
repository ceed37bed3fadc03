"""National ID numbers (居民身份证号码): validation, last-4 extraction and keyed hashing.

ID numbers are never stored in clear. The database keeps `id_hash`, the hex HMAC-SHA256 of
the normalized number under a secret key, and `id_last4`. The key is `ID_HASH_KEY` from the
settings; when that is unset, a random key is generated once and kept in the `app_meta`
table under 'id_hash_key' (so hashes stay comparable across runs of one deployment).
Changing the key later makes stored hashes unmatchable: re-import the households then.

Validation follows GB 11643-1999: 17 digits (6-digit area code, 8-digit birth date,
3-digit sequence) and a check character (0-9 or X) computed with ISO 7064 MOD 11-2.
Error messages never contain the number itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AppMeta

APP_META_KEY = "id_hash_key"

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # index: weighted sum mod 11
_SHAPE_RE = re.compile(r"^\d{17}[\dX]$")
_FULLWIDTH = str.maketrans("０１２３４５６７８９ＸｘＸ", "0123456789XXX")


class InvalidIdNumber(ValueError):
    """The value is not a valid 18-character ID number; `str()` never contains the value."""


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (0-9 or X) of the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise InvalidIdNumber("expected 17 digits")
    total = sum((ord(d) - 48) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalize_id_number(raw: str) -> str:
    """The canonical form (18 characters, upper-case X) or InvalidIdNumber with a reason."""
    value = (raw or "").strip().translate(_FULLWIDTH).upper().replace(" ", "")
    if len(value) != 18:
        raise InvalidIdNumber("invalid ID number: expected 18 characters")
    if not _SHAPE_RE.match(value):
        raise InvalidIdNumber("invalid ID number: expected 17 digits and a check digit 0-9 or X")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidIdNumber("invalid ID number: the birth date part is not a date") from None
    if birth.year < 1900 or birth > date.today():
        raise InvalidIdNumber("invalid ID number: the birth date part is out of range")
    if id_check_char(value[:17]) != value[17]:
        raise InvalidIdNumber("invalid ID number: the check digit does not match")
    return value


def is_valid_id_number(raw: str) -> bool:
    try:
        normalize_id_number(raw)
    except InvalidIdNumber:
        return False
    return True


def id_last4(number: str) -> str:
    """The last four characters of a (normalized) ID number, e.g. for display '****123X'."""
    return normalize_id_number(number)[-4:]


def hash_id_number(key: bytes | str, number: str) -> str:
    """Hex HMAC-SHA256 of the normalized ID number under `key` (64 characters)."""
    return hash_normalized_id_number(key, normalize_id_number(number))


def hash_normalized_id_number(key: bytes | str, normalized: str) -> str:
    """`hash_id_number` for a value already returned by `normalize_id_number`."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    return hmac.new(key, normalized.encode("ascii"), hashlib.sha256).hexdigest()


async def get_id_hash_key(session: AsyncSession, configured: str | None = None) -> bytes:
    """The hashing key: `configured` (settings.id_hash_key) or the deployment's stored key.

    A missing stored key is generated and added in the caller's transaction (it is
    committed together with the first hashes written under it).
    """
    if configured:
        return configured.encode("utf-8")
    row = await session.get(AppMeta, APP_META_KEY)
    if row is not None:
        return row.value.encode("utf-8")
    value = secrets.token_hex(32)
    session.add(AppMeta(key=APP_META_KEY, value=value))
    await session.flush()
    return value.encode("utf-8")
