"""One-time invitation links that bind a Telegram account to a household, cadre or admin.

Operators create invitations with `fupin-bot invite`; each yields a deep link
`https://t.me/<bot>?start=<code>`. Only the SHA-256 of the code is stored and the code is
shown once. Users open the link, Telegram sends `/start <code>` and `redeem` binds them.

Redeeming is throttled per account: after `FREE_FAILURES` wrong codes (unknown,
malformed, expired or used by someone else) further attempts are refused for
`BLOCK_BASE`, doubling with each further failure up to `BLOCK_CAP`; while blocked the code
is not even looked at. A success resets the counter. Replies never reveal whose a wrong,
expired or used code was.

Everything here takes an `AsyncSession` and leaves committing to the caller.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage.enums import Role
from storage.models import Account, Cadre, Household, Invitation, Region, utcnow
from storage.repositories.audit import AuditRepository
from storage.repositories.invitations import InvitationRepository
from storage.repositories.regions import PROVINCE_NAME, RegionRepository, display_path

log = logging.getLogger(__name__)

CODE_BYTES = 24  # 192 random bits → 32 URL-safe characters
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # Telegram's deep-link payload alphabet and limit
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
ALL_KEYWORDS = ("all", "全省")

FREE_FAILURES = 5
BLOCK_BASE = timedelta(minutes=1)
BLOCK_CAP = timedelta(hours=1)

ACTION_CREATE = "invitation.create"
ACTION_BIND = "account.bind"


class InvitationError(Exception):
    """An operator-side problem (unknown target, no bot username); `str()` is one line."""


class UnknownTargetError(InvitationError):
    """The household, cadre or region to invite does not exist."""


class BotUsernameError(InvitationError):
    """The bot's username for links cannot be determined."""


class RedeemStatus(StrEnum):
    BOUND = "bound"
    INVALID = "invalid"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    THROTTLED = "throttled"


@dataclass(frozen=True, slots=True)
class InvitationTarget:
    """Whom an invitation binds. For ADMIN, `region_id` None means the whole province."""

    role: Role
    household_id: int | None = None
    cadre_id: int | None = None
    region_id: int | None = None
    audit_region_id: int | None = None  # the region the audit entry is filed under


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    """A freshly created invitation; `code` exists only here, never in the database."""

    invitation_id: int
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class HouseholdInvitation:
    """One row of a bulk run: the household's own data and its new code."""

    household_id: int
    reg_no: str
    head_name: str
    village: str
    code: str


@dataclass(frozen=True, slots=True)
class RedeemResult:
    status: RedeemStatus
    role: Role | None = None
    household_reg_no: str | None = None
    household_head_name: str | None = None
    cadre_name: str | None = None
    # ADMIN: the scope as operators write it ('白山市/长白朝鲜族自治县'); None = whole province.
    admin_scope: str | None = None
    rebound: bool = False
    previous_role: Role | None = None
    # ALREADY_USED by this very account (a second tap on the link): not counted as a failure.
    used_by_self: bool = False
    # THROTTLED: time left; a failure that started a block: the length of that block.
    retry_after: timedelta | None = None

    @property
    def ok(self) -> bool:
        return self.status is RedeemStatus.BOUND


# --- codes and links ---------------------------------------------------------------------


def generate_code() -> str:
    """A fresh random code: 32 characters of A-Z a-z 0-9 _ - (192 bits)."""
    return secrets.token_urlsafe(CODE_BYTES)


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def is_well_formed(code: str | None) -> bool:
    return bool(code) and CODE_RE.fullmatch(code) is not None  # type: ignore[arg-type]


def normalize_username(raw: str) -> str:
    name = raw.strip().removeprefix("@").removeprefix("https://t.me/").strip("/")
    if not USERNAME_RE.fullmatch(name):
        raise BotUsernameError(f"BOT_USERNAME is invalid: expected a Telegram bot username, got {raw!r}")
    return name


def invite_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


def qr_png(link: str) -> bytes:
    """A PNG image of a QR code encoding `link`."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.image.pil import PilImage

    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=4, image_factory=PilImage)
    qr.add_data(link)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image().save(buf, format="PNG")
    return buf.getvalue()


def write_qr_png(link: str, path: Path) -> None:
    path.write_bytes(qr_png(link))


async def resolve_bot_username(settings: Settings) -> str:
    """BOT_USERNAME if set, else the username reported by getMe for BOT_TOKEN."""
    if settings.bot_username:
        return normalize_username(settings.bot_username)
    if not settings.bot_token:
        raise BotUsernameError("cannot build invitation links: set BOT_USERNAME or BOT_TOKEN")
    from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError

    from bot.app import create_bot

    bot = create_bot(settings)
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        raise BotUsernameError("BOT_TOKEN was rejected by the Bot API (401): check the token") from None
    except TelegramNetworkError:
        raise BotUsernameError(
            f"cannot reach the Bot API at {settings.telegram_api_url} to look up the bot username: "
            "set BOT_USERNAME or check TELEGRAM_API_URL"
        ) from None
    except TelegramAPIError as exc:
        raise BotUsernameError(f"getMe failed: {type(exc).__name__}: set BOT_USERNAME") from None
    finally:
        await bot.session.close()
    if not me.username:
        raise BotUsernameError("the Bot API reported no username for this bot: set BOT_USERNAME")
    return me.username


# --- targets -----------------------------------------------------------------------------


def is_whole_province(raw: str) -> bool:
    return raw.strip().lower() in ALL_KEYWORDS


async def household_target(session: AsyncSession, reg_no: str) -> InvitationTarget:
    household = await InvitationRepository(session).household_by_reg_no(reg_no.strip())
    if household is None:
        raise UnknownTargetError(f"unknown household registry number: {reg_no.strip()}")
    return InvitationTarget(Role.HOUSEHOLD, household_id=household.id, audit_region_id=household.village_id)


async def cadre_target(session: AsyncSession, code: str) -> InvitationTarget:
    cadre = await InvitationRepository(session).cadre_by_code(code.strip())
    if cadre is None:
        raise UnknownTargetError(f"unknown cadre code: {code.strip()}")
    return InvitationTarget(Role.CADRE, cadre_id=cadre.id, audit_region_id=cadre.region_id)


async def resolve_region(session: AsyncSession, raw: str) -> Region | None:
    """The region named by `raw` (province prefix optional); None for 'all'/'全省'.

    Raises UnknownTargetError when no such region exists.
    """
    if is_whole_province(raw):
        return None
    region = await RegionRepository(session).by_path(raw)
    if region is None:
        raise UnknownTargetError(
            f"unknown region: {raw.strip()} (expected a path such as 白山市/长白朝鲜族自治县, or all)"
        )
    return region


async def admin_target(session: AsyncSession, raw_region: str) -> InvitationTarget:
    region = await resolve_region(session, raw_region)
    if region is None or region.parent_id is None:  # the province itself is the same as 'all'
        return InvitationTarget(Role.ADMIN, region_id=None, audit_region_id=region.id if region else None)
    return InvitationTarget(Role.ADMIN, region_id=region.id, audit_region_id=region.id)


async def region_subtree_path(session: AsyncSession, raw_region: str) -> str:
    """The full path of the region subtree named by `raw_region` ('all' → the province)."""
    region = await resolve_region(session, raw_region)
    return PROVINCE_NAME if region is None else region.path


# --- creating ----------------------------------------------------------------------------


def _audit_details(target: InvitationTarget, expires_at: datetime, **extra: object) -> dict[str, object]:
    details: dict[str, object] = {"role": target.role.value, "expires_at": expires_at.isoformat()}
    if target.household_id is not None:
        details["household_id"] = target.household_id
    if target.cadre_id is not None:
        details["cadre_id"] = target.cadre_id
    if target.role is Role.ADMIN:
        details["admin_region_id"] = target.region_id
    details.update(extra)
    return details


async def create_invitation(
    session: AsyncSession,
    target: InvitationTarget,
    *,
    ttl_days: int,
    actor: str = "cli",
    now: datetime | None = None,
) -> IssuedInvitation:
    """Store a new invitation for `target` and audit it; returns the code (shown once)."""
    if ttl_days < 1:
        raise ValueError("ttl_days must be at least 1")
    now = now or utcnow()
    expires_at = now + timedelta(days=ttl_days)
    code = generate_code()
    invitation = await InvitationRepository(session).add(
        code_hash=hash_code(code),
        role=target.role,
        household_id=target.household_id,
        cadre_id=target.cadre_id,
        region_id=target.region_id,
        expires_at=expires_at,
        created_by=actor,
        created_at=now,
    )
    await AuditRepository(session).record(
        actor,
        ACTION_CREATE,
        region_id=target.audit_region_id,
        object_type="invitation",
        object_id=invitation.id,
        details=_audit_details(target, expires_at),
    )
    return IssuedInvitation(invitation.id, code, expires_at)


async def create_household_invitations(
    session: AsyncSession,
    region_path: str,
    *,
    ttl_days: int,
    actor: str = "cli",
    batch_size: int = 500,
    now: datetime | None = None,
) -> AsyncIterator[list[HouseholdInvitation]]:
    """One new invitation per not-yet-bound household of the subtree, yielded in batches.

    The caller commits (or rolls back) once at the end, so a run is all or nothing.
    """
    if ttl_days < 1:
        raise ValueError("ttl_days must be at least 1")
    now = now or utcnow()
    expires_at = now + timedelta(days=ttl_days)
    repo = InvitationRepository(session)
    after_id = 0
    while True:
        rows = await repo.unbound_households(region_path, after_id=after_id, limit=batch_size)
        if not rows:
            return
        after_id = rows[-1][0]
        codes = [generate_code() for _row in rows]
        invitations = [
            Invitation(
                code_hash=hash_code(code),
                role=Role.HOUSEHOLD,
                household_id=household_id,
                expires_at=expires_at,
                created_by=actor,
                created_at=now,
            )
            for code, (household_id, *_rest) in zip(codes, rows, strict=True)
        ]
        audit = [
            {
                "actor": actor,
                "action": ACTION_CREATE,
                "at": now,
                "region_id": village_id,
                "object_type": "invitation",
                "details": _audit_details(
                    InvitationTarget(Role.HOUSEHOLD, household_id=household_id), expires_at, bulk=True
                ),
            }
            for household_id, _reg_no, _name, village_id, _village in rows
        ]
        await repo.add_many(invitations, audit)
        yield [
            HouseholdInvitation(household_id, reg_no, head_name, village, code)
            for code, (household_id, reg_no, head_name, _village_id, village) in zip(codes, rows, strict=True)
        ]


# --- redeeming ---------------------------------------------------------------------------


def block_duration(failures: int) -> timedelta | None:
    """How long to refuse attempts after `failures` consecutive failures (None: not blocked)."""
    if failures < FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES, 16)
    return min(BLOCK_BASE * (2**doublings), BLOCK_CAP)


async def _failure(
    repo: InvitationRepository, account: Account, status: RedeemStatus, now: datetime
) -> RedeemResult:
    failures = (account.bind_failures or 0) + 1
    block = block_duration(failures)
    account.bind_failures = failures
    account.bind_blocked_until = now + block if block else None
    await repo.session.flush()
    if block:
        log.info("binding attempts of account %s blocked for %s", account.id, block)
    return RedeemResult(status, retry_after=block)


async def redeem(
    session: AsyncSession, account: Account, code: str | None, *, now: datetime | None = None
) -> RedeemResult:
    """Bind `account` with the invitation `code` (the /start payload), or say why not.

    Failures are written to the account in this session; the caller must commit even
    though nothing was raised.
    """
    now = now or utcnow()
    repo = InvitationRepository(session)
    await repo.lock_account(account)
    blocked_until = account.bind_blocked_until
    if blocked_until is not None and blocked_until > now:
        return RedeemResult(RedeemStatus.THROTTLED, retry_after=blocked_until - now)
    if not is_well_formed(code):
        return await _failure(repo, account, RedeemStatus.INVALID, now)
    invitation = await repo.by_code_hash(hash_code(code))  # type: ignore[arg-type]
    if invitation is None:
        return await _failure(repo, account, RedeemStatus.INVALID, now)
    if invitation.used_at is not None:
        if invitation.used_by_account_id == account.id:
            return RedeemResult(RedeemStatus.ALREADY_USED, used_by_self=True)
        return await _failure(repo, account, RedeemStatus.ALREADY_USED, now)
    if invitation.expires_at <= now:
        return await _failure(repo, account, RedeemStatus.EXPIRED, now)

    household: Household | None = None
    cadre: Cadre | None = None
    region: Region | None = None
    if invitation.role is Role.HOUSEHOLD:
        household = await repo.get_household(invitation.household_id) if invitation.household_id else None
        if household is None:
            return await _failure(repo, account, RedeemStatus.INVALID, now)
    elif invitation.role is Role.CADRE:
        cadre = await repo.get_cadre(invitation.cadre_id) if invitation.cadre_id else None
        if cadre is None:
            return await _failure(repo, account, RedeemStatus.INVALID, now)
    elif invitation.region_id is not None:
        region = await repo.get_region(invitation.region_id)
        if region is None:
            return await _failure(repo, account, RedeemStatus.INVALID, now)

    if not await repo.mark_used(invitation.id, account.id, now):
        # Someone redeemed this code between our read and our claim.
        return await _failure(repo, account, RedeemStatus.ALREADY_USED, now)

    previous_role = account.role
    account.role = invitation.role
    account.household = household
    account.cadre = cadre
    account.admin_region = region
    account.bound_at = now
    account.bind_failures = 0
    account.bind_blocked_until = None
    await session.flush()

    details: dict[str, object] = {"role": invitation.role.value, "invitation_id": invitation.id}
    if household is not None:
        details["household_id"] = household.id
    if cadre is not None:
        details["cadre_id"] = cadre.id
    if invitation.role is Role.ADMIN:
        details["admin_region_id"] = region.id if region else None
    if previous_role is not None:
        details["previous_role"] = previous_role.value
    audit_region = (
        household.village_id if household else cadre.region_id if cadre else region.id if region else None
    )
    await AuditRepository(session).record(
        f"account:{account.id}",
        ACTION_BIND,
        region_id=audit_region,
        object_type="account",
        object_id=account.id,
        details=details,
    )
    log.info("account %s bound as %s", account.id, invitation.role.value)

    scope = None
    if region is not None and region.parent_id is not None:
        scope = display_path(region.path)
    return RedeemResult(
        RedeemStatus.BOUND,
        role=invitation.role,
        household_reg_no=household.reg_no if household else None,
        household_head_name=household.head_name if household else None,
        cadre_name=cadre.name if cadre else None,
        admin_scope=scope,
        rebound=previous_role is not None,
        previous_role=previous_role,
    )


# --- replies -----------------------------------------------------------------------------


def _minutes(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds() / 60))


def redeem_reply(result: RedeemResult) -> str:
    """The chat reply for a redeem outcome (HTML, user data escaped). Needs the i18n context."""
    from html import escape

    status = result.status
    if status is RedeemStatus.THROTTLED:
        return _("尝试次数过多，请等待 {minutes} 分钟后再试。").format(
            minutes=_minutes(result.retry_after or BLOCK_BASE)
        )
    if status is RedeemStatus.BOUND:
        if result.role is Role.HOUSEHOLD:
            text = _("绑定成功！您已绑定为建档立卡户：{name}（户编号 {reg_no}）。").format(
                name=escape(result.household_head_name or ""), reg_no=escape(result.household_reg_no or "")
            )
        elif result.role is Role.CADRE:
            text = _("绑定成功！您已绑定为帮扶干部：{name}。").format(name=escape(result.cadre_name or ""))
        else:
            scope = result.admin_scope or _("全省")
            text = _("绑定成功！您已绑定为扶贫办管理员，管理范围：{scope}。").format(scope=escape(scope))
        lines = [text]
        if result.rebound:
            lines.append(_("您原来的绑定已被替换。"))
        lines.append(_("发送 /help 查看您可用的功能。"))
        return "\n".join(lines)
    if status is RedeemStatus.ALREADY_USED and result.used_by_self:
        return _("您已经用这个邀请链接完成了绑定。发送 /whoami 查看绑定信息。")
    if status is RedeemStatus.EXPIRED:
        text = _("邀请链接已过期，请向发给您链接的工作人员索取新的邀请链接。")
    elif status is RedeemStatus.ALREADY_USED:
        text = _("这个邀请链接已经使用过了，每个链接只能使用一次。请向发给您链接的工作人员索取新的邀请链接。")
    else:
        text = _("邀请码无效，请向帮扶干部或村委会索取新的邀请链接。")
    if result.retry_after is not None:
        text += "\n" + _("错误次数过多，请等待 {minutes} 分钟后再试。").format(
            minutes=_minutes(result.retry_after)
        )
    return text


def private_chat_only_reply() -> str:
    return _("为保护个人信息，请在与我的私聊中打开邀请链接。")
