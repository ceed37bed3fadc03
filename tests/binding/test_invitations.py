"""bot/invitations.py: codes, storage of hashes, expiry, single use, throttling, roles."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.access import Access
from bot.i18n import create_i18n
from bot.invitations import (
    BLOCK_CAP,
    CODE_BYTES,
    FREE_FAILURES,
    RedeemResult,
    RedeemStatus,
    UnknownTargetError,
    admin_target,
    block_duration,
    cadre_target,
    create_household_invitations,
    create_invitation,
    generate_code,
    hash_code,
    household_target,
    invite_link,
    is_well_formed,
    private_chat_only_reply,
    redeem,
    redeem_reply,
    region_subtree_path,
)
from storage.enums import Role
from storage.models import Account, AuditLog, Invitation, Region, utcnow
from storage.repositories.regions import PROVINCE_NAME
from tests.binding.conftest import COUNTY, Seed, new_account

CODE_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")


async def _account(session, sessionmaker, account_id: int) -> Account:
    """A fresh copy of the account from a new session (what another update would see)."""
    async with sessionmaker() as other:
        account = await other.get(Account, account_id)
        assert account is not None
        return account


# --- codes -------------------------------------------------------------------------------


def test_code_format_and_entropy():
    assert CODE_BYTES * 8 >= 128
    codes = {generate_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert CODE_ALPHABET.match(code)
        assert 1 <= len(code) <= 64
        assert len(code) * 6 >= 128  # base64url carries 6 bits per character
        assert is_well_formed(code)
    # Characters are spread over the whole alphabet (a crude check that it is random).
    assert len(set("".join(codes))) == 64


@pytest.mark.parametrize(
    "payload",
    ["", None, "a" * 65, "abc def", "abc+def", "abc/def", "中文邀请码", "abc\n", "abc%20", "a.b"],
)
def test_malformed_payloads(payload):
    assert not is_well_formed(payload)


def test_link_format():
    assert invite_link("fupin_test_bot", "AbC_-9") == "https://t.me/fupin_test_bot?start=AbC_-9"


def test_block_durations():
    assert [block_duration(n) for n in range(FREE_FAILURES)] == [None] * FREE_FAILURES
    minutes = [block_duration(n) / timedelta(minutes=1) for n in range(FREE_FAILURES, FREE_FAILURES + 9)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert block_duration(10_000) == BLOCK_CAP


# --- creating ----------------------------------------------------------------------------


async def test_only_hash_is_stored(session, seeded: Seed):
    target = await household_target(session, "H0001")
    issued = await create_invitation(session, target, ttl_days=14)
    await session.commit()
    row = await session.get(Invitation, issued.invitation_id)
    assert row.code_hash == hashlib.sha256(issued.code.encode()).hexdigest() == hash_code(issued.code)
    assert row.role is Role.HOUSEHOLD and row.household_id == seeded.households["H0001"]
    assert row.created_by == "cli" and row.used_at is None
    assert row.expires_at - row.created_at == pytest.approx(timedelta(days=14), abs=timedelta(seconds=5))
    for column in Invitation.__table__.columns:
        assert issued.code not in str(getattr(row, column.key))
    entries = (await session.scalars(select(AuditLog))).all()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.actor, entry.action, entry.object_type, entry.object_id) == (
        "cli",
        "invitation.create",
        "invitation",
        str(issued.invitation_id),
    )
    assert entry.region_id == seeded.village_a_id
    assert issued.code not in json.dumps(entry.details, ensure_ascii=False)


async def test_unknown_targets(session, seeded: Seed):
    with pytest.raises(UnknownTargetError, match="H9999"):
        await household_target(session, "H9999")
    with pytest.raises(UnknownTargetError, match="C999"):
        await cadre_target(session, "C999")
    with pytest.raises(UnknownTargetError, match="unknown region"):
        await admin_target(session, "白山市/不存在县")
    with pytest.raises(UnknownTargetError):
        await region_subtree_path(session, "不存在市")
    assert await session.scalar(select(func.count()).select_from(Invitation)) == 0


async def test_admin_targets(session, seeded: Seed):
    county = await admin_target(session, COUNTY)
    assert county.role is Role.ADMIN and county.region_id == seeded.county_id
    assert (await admin_target(session, "吉林省/" + COUNTY)).region_id == seeded.county_id
    assert (await admin_target(session, " 白山市 / 长白朝鲜族自治县 ")).region_id == seeded.county_id
    for whole in ("all", "ALL", "全省", "吉林省"):
        assert (await admin_target(session, whole)).region_id is None
    assert await region_subtree_path(session, "all") == PROVINCE_NAME
    assert await region_subtree_path(session, COUNTY) == "吉林省/" + COUNTY


# --- redeeming: the roles ----------------------------------------------------------------


async def test_household_binds(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1001)
    issued = await create_invitation(session, await household_target(session, "H0001"), ttl_days=14)
    await session.commit()
    result = await redeem(session, account, issued.code)
    await session.commit()
    assert result.status is RedeemStatus.BOUND and result.ok
    assert (result.role, result.household_reg_no, result.household_head_name) == (
        Role.HOUSEHOLD,
        "H0001",
        "张三",
    )
    assert not result.rebound
    stored = await _account(session, sessionmaker, account.id)
    assert stored.role is Role.HOUSEHOLD and stored.household_id == seeded.households["H0001"]
    assert stored.cadre_id is None and stored.admin_region_id is None and stored.bound_at is not None
    access = Access.of(account)
    assert access.role is Role.HOUSEHOLD and access.household_id == seeded.households["H0001"]
    invitation = await session.get(Invitation, issued.invitation_id)
    await session.refresh(invitation)
    assert invitation.used_at is not None and invitation.used_by_account_id == account.id
    bind = await session.scalar(select(AuditLog).where(AuditLog.action == "account.bind"))
    assert bind.actor == f"account:{account.id}" and bind.object_id == str(account.id)
    assert bind.details["role"] == "household" and bind.region_id == seeded.village_a_id
    assert issued.code not in json.dumps(bind.details)


async def test_cadre_binds(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1002)
    issued = await create_invitation(session, await cadre_target(session, "C001"), ttl_days=1)
    result = await redeem(session, account, issued.code)
    await session.commit()
    assert (result.status, result.role, result.cadre_name) == (RedeemStatus.BOUND, Role.CADRE, "刘干部")
    assert result.household_head_name is None
    stored = await _account(session, sessionmaker, account.id)
    assert stored.role is Role.CADRE and stored.cadre_id == seeded.cadre_id and stored.household_id is None


async def test_admin_binds_with_region_scope(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1003)
    issued = await create_invitation(session, await admin_target(session, COUNTY), ttl_days=14)
    result = await redeem(session, account, issued.code)
    await session.commit()
    assert (result.status, result.role, result.admin_scope) == (RedeemStatus.BOUND, Role.ADMIN, COUNTY)
    stored = await _account(session, sessionmaker, account.id)
    assert stored.role is Role.ADMIN and stored.admin_region_id == seeded.county_id
    access = Access.of(account)
    assert access.region_path == "吉林省/" + COUNTY
    # The scope is the county's subtree: its villages, not the other city's.
    villages = (
        await session.scalars(
            select(Region.id).where(
                (Region.path == access.region_path) | Region.path.like(access.region_path + "/%")
            )
        )
    ).all()
    assert seeded.village_a_id in villages and seeded.village_b_id in villages
    assert seeded.village_other_id not in villages


@pytest.mark.parametrize("scope", ["all", "吉林省"])
async def test_admin_binds_whole_province(session, sessionmaker, seeded: Seed, scope):
    account = await new_account(session, 1004)
    issued = await create_invitation(session, await admin_target(session, scope), ttl_days=14)
    result = await redeem(session, account, issued.code)
    await session.commit()
    assert (result.status, result.role, result.admin_scope) == (RedeemStatus.BOUND, Role.ADMIN, None)
    stored = await _account(session, sessionmaker, account.id)
    assert stored.role is Role.ADMIN and stored.admin_region_id is None
    assert Access.of(account).region_path == PROVINCE_NAME


async def test_rebind_replaces_previous_binding(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1005)
    first = await create_invitation(session, await household_target(session, "H0002"), ttl_days=14)
    second = await create_invitation(session, await cadre_target(session, "C001"), ttl_days=14)
    third = await create_invitation(session, await admin_target(session, COUNTY), ttl_days=14)
    await session.commit()
    assert (await redeem(session, account, first.code)).rebound is False
    await session.commit()
    result = await redeem(session, account, second.code)
    await session.commit()
    assert result.status is RedeemStatus.BOUND and result.rebound
    assert result.previous_role is Role.HOUSEHOLD
    stored = await _account(session, sessionmaker, account.id)
    assert (stored.role, stored.cadre_id, stored.household_id, stored.admin_region_id) == (
        Role.CADRE,
        seeded.cadre_id,
        None,
        None,
    )
    result = await redeem(session, account, third.code)
    await session.commit()
    assert result.rebound and result.previous_role is Role.CADRE
    stored = await _account(session, sessionmaker, account.id)
    assert (stored.role, stored.cadre_id, stored.admin_region_id) == (Role.ADMIN, None, seeded.county_id)
    binds = (await session.scalars(select(AuditLog).where(AuditLog.action == "account.bind"))).all()
    assert len(binds) == 3 and binds[2].details["previous_role"] == "cadre"


# --- redeeming: failures -----------------------------------------------------------------


async def test_unknown_code_is_invalid_and_counted(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1010)
    result = await redeem(session, account, generate_code())
    await session.commit()
    assert result == RedeemResult(RedeemStatus.INVALID)
    stored = await _account(session, sessionmaker, account.id)
    assert stored.role is None and stored.bind_failures == 1 and stored.bind_blocked_until is None


@pytest.mark.parametrize("payload", ["a" * 65, "abc def", "中文", "", None, "x" * 4096])
async def test_malformed_code_is_invalid_and_counted(session, sessionmaker, seeded: Seed, payload):
    account = await new_account(session, 1011)
    result = await redeem(session, account, payload)
    await session.commit()
    assert result.status is RedeemStatus.INVALID
    assert (await _account(session, sessionmaker, account.id)).bind_failures == 1


async def test_expired(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1012)
    created = utcnow() - timedelta(days=15)
    issued = await create_invitation(
        session, await household_target(session, "H0001"), ttl_days=14, now=created
    )
    await session.commit()
    result = await redeem(session, account, issued.code)
    await session.commit()
    assert result.status is RedeemStatus.EXPIRED
    assert result.household_head_name is None and result.household_reg_no is None
    stored = await _account(session, sessionmaker, account.id)
    assert stored.role is None and stored.bind_failures == 1
    invitation = await session.get(Invitation, issued.invitation_id)
    assert invitation.used_at is None
    # Exactly at the expiry instant it is already expired; a moment before it is not.
    other = await new_account(session, 1013)
    expiry = issued.expires_at
    assert (await redeem(session, other, issued.code, now=expiry)).status is RedeemStatus.EXPIRED
    result = await redeem(session, other, issued.code, now=expiry - timedelta(seconds=1))
    assert result.status is RedeemStatus.BOUND


async def test_single_use(session, sessionmaker, seeded: Seed):
    alice = await new_account(session, 1020)
    bob = await new_account(session, 1021)
    issued = await create_invitation(session, await household_target(session, "H0001"), ttl_days=14)
    await session.commit()
    assert (await redeem(session, alice, issued.code)).status is RedeemStatus.BOUND
    await session.commit()
    result = await redeem(session, bob, issued.code)
    await session.commit()
    assert result.status is RedeemStatus.ALREADY_USED and not result.used_by_self
    assert result.household_head_name is None  # nothing about whose it was
    stored_bob = await _account(session, sessionmaker, bob.id)
    assert stored_bob.role is None and stored_bob.bind_failures == 1
    # Alice taps the link again: told she is bound already, not counted as a failure.
    again = await redeem(session, alice, issued.code)
    await session.commit()
    assert again.status is RedeemStatus.ALREADY_USED and again.used_by_self
    stored_alice = await _account(session, sessionmaker, alice.id)
    assert stored_alice.bind_failures == 0 and stored_alice.role is Role.HOUSEHOLD
    invitation = await session.get(Invitation, issued.invitation_id)
    await session.refresh(invitation)
    assert invitation.used_by_account_id == alice.id


async def test_concurrent_double_redeem_binds_once(sessionmaker, seeded: Seed):
    async with sessionmaker() as setup:
        alice = await new_account(setup, 1030)
        bob = await new_account(setup, 1031)
        issued = await create_invitation(setup, await household_target(setup, "H0001"), ttl_days=14)
        await setup.commit()

    async def attempt(account_id: int) -> RedeemStatus:
        async with sessionmaker() as s:
            account = await s.get(Account, account_id)
            result = await redeem(s, account, issued.code)
            await asyncio.sleep(0.05)  # hold the transaction open while the other one runs
            await s.commit()
            return result.status

    statuses = await asyncio.gather(attempt(alice.id), attempt(bob.id))
    assert sorted(statuses) == sorted([RedeemStatus.BOUND, RedeemStatus.ALREADY_USED])
    await _assert_bound_once(sessionmaker, issued.invitation_id, [alice.id, bob.id])


async def test_concurrent_redeem_waits_for_the_first_transaction(sessionmaker, seeded: Seed):
    """The second redeem reads the invitation as unused, then loses the conditional UPDATE."""
    async with sessionmaker() as setup:
        alice = await new_account(setup, 1032)
        bob = await new_account(setup, 1033)
        issued = await create_invitation(setup, await household_target(setup, "H0002"), ttl_days=14)
        await setup.commit()

    first = sessionmaker()
    second = sessionmaker()
    try:
        a = await first.get(Account, alice.id)
        b = await second.get(Account, bob.id)
        await second.commit()
        assert (await redeem(first, a, issued.code)).status is RedeemStatus.BOUND
        task = asyncio.create_task(redeem(second, b, issued.code))
        await asyncio.sleep(0.3)
        assert not task.done()  # blocked on the first transaction's lock
        await first.commit()
        result = await asyncio.wait_for(task, timeout=20)
        await second.commit()
    finally:
        await first.close()
        await second.close()
    assert result.status is RedeemStatus.ALREADY_USED
    await _assert_bound_once(sessionmaker, issued.invitation_id, [alice.id, bob.id])


async def _assert_bound_once(sessionmaker, invitation_id: int, account_ids: list[int]) -> None:
    async with sessionmaker() as s:
        invitation = await s.get(Invitation, invitation_id)
        accounts = [await s.get(Account, i) for i in account_ids]
        bound = [a for a in accounts if a.role is Role.HOUSEHOLD]
        assert len(bound) == 1
        assert invitation.used_by_account_id == bound[0].id
        binds = await s.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "account.bind")
        )
        assert binds == 1


async def test_throttling_sequence(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1040)
    issued = await create_invitation(session, await household_target(session, "H0001"), ttl_days=14)
    await session.commit()
    now = utcnow()
    for attempt in range(1, FREE_FAILURES):
        result = await redeem(session, account, generate_code(), now=now)
        await session.commit()
        assert result == RedeemResult(RedeemStatus.INVALID), attempt
    # The fifth failure blocks for a minute and says so.
    result = await redeem(session, account, "bad code!", now=now)
    await session.commit()
    assert result.status is RedeemStatus.INVALID and result.retry_after == timedelta(minutes=1)
    stored = await _account(session, sessionmaker, account.id)
    assert stored.bind_failures == 5 and stored.bind_blocked_until == now + timedelta(minutes=1)

    # While blocked even the right code is not looked at, and the block does not grow.
    later = now + timedelta(seconds=20)
    result = await redeem(session, account, issued.code, now=later)
    await session.commit()
    assert result.status is RedeemStatus.THROTTLED and result.retry_after == timedelta(seconds=40)
    stored = await _account(session, sessionmaker, account.id)
    assert stored.role is None and stored.bind_failures == 5
    assert (await session.get(Invitation, issued.invitation_id)).used_at is None

    # After the block each further failure doubles it, up to an hour.
    expected = [2, 4, 8, 16, 32, 60, 60]
    t = now + timedelta(minutes=1)
    for minutes in expected:
        result = await redeem(session, account, generate_code(), now=t)
        await session.commit()
        assert result.status is RedeemStatus.INVALID and result.retry_after == timedelta(minutes=minutes)
        blocked = await redeem(session, account, generate_code(), now=t + timedelta(minutes=minutes) / 2)
        assert blocked.status is RedeemStatus.THROTTLED
        t += timedelta(minutes=minutes)
    stored = await _account(session, sessionmaker, account.id)
    assert stored.bind_failures == 5 + len(expected)

    # A success after the block resets the counter.
    result = await redeem(session, account, issued.code, now=t)
    await session.commit()
    assert result.status is RedeemStatus.BOUND
    stored = await _account(session, sessionmaker, account.id)
    assert stored.bind_failures == 0 and stored.bind_blocked_until is None
    assert (await redeem(session, account, generate_code(), now=t)).retry_after is None


async def test_expired_and_used_codes_count_as_failures(session, sessionmaker, seeded: Seed):
    account = await new_account(session, 1041)
    other = await new_account(session, 1042)
    now = utcnow()
    old = await create_invitation(
        session, await household_target(session, "H0001"), ttl_days=1, now=now - timedelta(days=2)
    )
    used = await create_invitation(session, await household_target(session, "H0002"), ttl_days=1)
    assert (await redeem(session, other, used.code)).ok
    await session.commit()
    for _ in range(3):
        await redeem(session, account, old.code, now=now)
    await redeem(session, account, used.code, now=now)
    result = await redeem(session, account, used.code, now=now)
    await session.commit()
    assert result.status is RedeemStatus.ALREADY_USED and result.retry_after == timedelta(minutes=1)
    assert (await _account(session, sessionmaker, account.id)).bind_failures == 5


async def test_throttle_state_is_read_from_the_database(sessionmaker, seeded: Seed):
    """An account object loaded before other updates recorded failures is not trusted."""
    async with sessionmaker() as s:
        account = await new_account(s, 1043)
    now = utcnow()
    async with sessionmaker() as stale_session:
        stale = await stale_session.get(Account, account.id)
        assert stale.bind_failures == 0
        for _ in range(FREE_FAILURES):
            async with sessionmaker() as s:
                acc = await s.get(Account, account.id)
                await redeem(s, acc, generate_code(), now=now)
                await s.commit()
        result = await redeem(stale_session, stale, generate_code(), now=now)
        assert result.status is RedeemStatus.THROTTLED
        await stale_session.commit()


# --- bulk --------------------------------------------------------------------------------


async def test_bulk_lists_unbound_households_of_subtree(session, seeded: Seed):
    path = await region_subtree_path(session, COUNTY)
    items = []
    async for batch in create_household_invitations(session, path, ttl_days=14, batch_size=2):
        assert len(batch) <= 2
        items.extend(batch)
    await session.commit()
    assert sorted(i.reg_no for i in items) == ["=H0005", "H0001", "H0002"]  # H0003 elsewhere, H0004 bound
    assert {i.village for i in items} == {"民主村", "望天鹅村"}
    rows = (await session.scalars(select(Invitation))).all()
    assert len(rows) == 3 and {r.code_hash for r in rows} == {hash_code(i.code) for i in items}
    audits = (await session.scalars(select(AuditLog).where(AuditLog.action == "invitation.create"))).all()
    assert sorted(int(a.object_id) for a in audits) == sorted(r.id for r in rows)
    # A bulk code binds like any other.
    account = await new_account(session, 1050)
    item = next(i for i in items if i.reg_no == "H0002")
    result = await redeem(session, account, item.code)
    assert result.ok and result.household_head_name == "李<四>"


async def test_bulk_whole_province(session, seeded: Seed):
    items = []
    async for batch in create_household_invitations(session, PROVINCE_NAME, ttl_days=14):
        items.extend(batch)
    assert sorted(i.reg_no for i in items) == ["=H0005", "H0001", "H0002", "H0003"]


# --- replies -----------------------------------------------------------------------------


@pytest.fixture
def i18n():
    i18n = create_i18n("zh_Hans")
    with i18n.context(), i18n.use_locale("zh_Hans"):
        yield i18n


def test_replies(i18n):
    bound = RedeemResult(
        RedeemStatus.BOUND, role=Role.HOUSEHOLD, household_reg_no="H0002", household_head_name="李<四>"
    )
    text = redeem_reply(bound)
    assert "李&lt;四&gt;" in text and "H0002" in text and "<四>" not in text
    rebound = RedeemResult(RedeemStatus.BOUND, role=Role.CADRE, cadre_name="刘干部", rebound=True)
    assert "刘干部" in redeem_reply(rebound) and "替换" in redeem_reply(rebound)
    assert "全省" in redeem_reply(RedeemResult(RedeemStatus.BOUND, role=Role.ADMIN))
    county = redeem_reply(RedeemResult(RedeemStatus.BOUND, role=Role.ADMIN, admin_scope=COUNTY))
    assert COUNTY in county
    for status in (RedeemStatus.INVALID, RedeemStatus.EXPIRED, RedeemStatus.ALREADY_USED):
        text = redeem_reply(RedeemResult(status))
        assert text and "分钟" not in text
        assert "分钟" in redeem_reply(RedeemResult(status, retry_after=timedelta(minutes=2)))
    throttled = redeem_reply(RedeemResult(RedeemStatus.THROTTLED, retry_after=timedelta(seconds=61)))
    assert "2 分钟" in throttled
    assert "1 分钟" in redeem_reply(RedeemResult(RedeemStatus.THROTTLED, retry_after=timedelta(seconds=5)))
    assert "/whoami" in redeem_reply(RedeemResult(RedeemStatus.ALREADY_USED, used_by_self=True))
    assert private_chat_only_reply()
