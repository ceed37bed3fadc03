"""Named test accounts (issue #5 part 4): the /broadcast test step to typed Telegram ids and
@usernames within the admin's scope, the remembered list, and the service underneath, on
SQLite and PostgreSQL. The test copy reaches the named accounts and the admin only (through
the real sender on the emulator); the real broadcast afterwards reaches its audience once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from notifications import broadcasts as bc
from notifications.sender import Sender, load_renderers
from storage.enums import DeliveryState
from storage.models import Account, Broadcast, OutboxMessage
from storage.repositories.broadcasts import Audience
from tests.notifications.broadcasts.test_chat import alert, one, png, press
from tests.policy_chat.helpers import labels, rows
from tests.work.people import (
    ADMIN_USER,
    CADRE_KO_USER,
    CADRE_USER,
    COUNTY,
    H1_USER,
    H2_USER,
    H4_USER,
    H5_USER,
    OTHER_ADMIN_USER,
    OTHER_COUNTY,
    PUBLIC_USER,
)

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
COUNTY_PATH = "/".join(COUNTY)
TEXT = "周六上午村委会开会"
STALE = "这个按钮已失效。发送 /broadcast 重新开始。"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bc, "clock", lambda: NOW)


async def ids_of(sessionmaker, *telegram_ids: int) -> dict[int, int]:
    """Telegram user id -> account id."""
    async with sessionmaker() as s:
        found = await s.execute(select(Account.telegram_user_id, Account.id)
                                .where(Account.telegram_user_id.in_(telegram_ids)))
        return dict(found.all())


async def deliver(app, sessionmaker) -> int:
    """Send everything due through the real sender (the bot's own Bot object, the emulator)."""
    load_renderers()
    sender = Sender(app.bot, sessionmaker, app.i18n, app.settings, clock=lambda: NOW + timedelta(seconds=5))
    return await sender.drain()


async def copies(tg, user_id: int) -> int:
    """How many copies of the broadcast text the bot sent to `user_id`."""
    return sum(1 for m in await tg.messages(user_id) if m["from_bot"] and (m.get("text") or "") == TEXT)


async def to_preview(tg) -> None:
    """/broadcast of TEXT to the county's households (H1 H2 H4 H5): up to the time step."""
    await one(tg, ADMIN_USER, "/broadcast")
    await one(tg, ADMIN_USER, TEXT)
    await press(tg, ADMIN_USER, "跳过")
    await press(tg, ADMIN_USER, "下一步")
    await press(tg, ADMIN_USER, "贫困户")
    await press(tg, ADMIN_USER, "就选这里")
    _shown, preview = await press(tg, ADMIN_USER, "完成", replies=2)
    assert "接收人数：4" in preview["text"]
    assert "发给测试账号" in labels(preview)


async def test_named_test_then_real_broadcast(app, tg, chat_people, sessionmaker) -> None:
    # H2 and the other county's admin have @usernames (seen on their next update)
    await tg.add_user(H2_USER, "순자", username="Soonja_H2", language_code="ko")
    await tg.add_user(OTHER_ADMIN_USER, "邻县管理员", username="linxian_admin", language_code="zh-hans")
    await tg.ask(H2_USER, "/start")
    await tg.ask(OTHER_ADMIN_USER, "/start")
    ids = await ids_of(sessionmaker, ADMIN_USER, H1_USER, H2_USER, H4_USER, H5_USER, CADRE_USER,
                       CADRE_KO_USER, OTHER_ADMIN_USER)

    # a household cannot open the test step, even with forged data
    household = await one(tg, H1_USER, "/broadcast")
    assert await alert(tg, H1_USER, household["message_id"], "bw:named") == STALE

    await to_preview(tg)
    [ask] = await press(tg, ADMIN_USER, "发给测试账号")
    assert "@用户名" in ask["text"] and "上次的测试名单" not in ask["text"]
    assert labels(ask) == ["返回", "取消"]
    assert await alert(tg, ADMIN_USER, ask["message_id"], "bs:last_test") == STALE  # nothing remembered
    again = await one(tg, ADMIN_USER, "，，")
    assert again["text"].startswith("请发送 Telegram 用户 ID 或 @用户名")
    too_many = await one(tg, ADMIN_USER, " ".join(str(5000 + i) for i in range(21)))
    assert too_many["text"] == "最多 20 个测试账号，请减少后重新发送。"
    assert await rows(sessionmaker, Broadcast) == []

    # two accepted (a @username in another case, a Telegram id), the rest not found: an unknown
    # id, an admin outside the scope, an unbound user, something that is not a name
    sent = await one(tg, ADMIN_USER, f"@SOONJA_h2，{CADRE_USER} @linxian_admin, 999999 {PUBLIC_USER}、坏名字")
    [test] = await rows(sessionmaker, Broadcast)
    assert test.test_only and sorted(test.test_account_ids) == sorted([ids[H2_USER], ids[CADRE_USER]])
    assert sent["text"].startswith(f"测试广播 #{test.id} 已发给您和 @soonja_h2、{CADRE_USER}：您稍后就会收到")
    assert sent["text"].endswith(
        f"以下账号在您的管辖范围内未找到：@linxian_admin、999999、{PUBLIC_USER}、坏名字")
    assert "立即发送" in labels(sent)  # back at the time step
    test_rows = await rows(sessionmaker, OutboxMessage, OutboxMessage.broadcast_id == test.id)
    assert sorted(r.account_id for r in test_rows) == sorted([ids[ADMIN_USER], ids[H2_USER], ids[CADRE_USER]])
    # only the admin's own copy is urgent; the named accounts' copies respect quiet hours
    assert {r.account_id for r in test_rows if r.urgent} == {ids[ADMIN_USER]}
    assert await deliver(app, sessionmaker) == 3
    assert [await copies(tg, u) for u in (H2_USER, CADRE_USER)] == [1, 1]
    for user in (H1_USER, H4_USER, H5_USER, CADRE_KO_USER, OTHER_ADMIN_USER, PUBLIC_USER):
        assert await copies(tg, user) == 0, user

    # the list is remembered; names not found at all: nothing is sent, asked again
    [ask] = await press(tg, ADMIN_USER, "发给测试账号")
    assert f"上次的测试名单：@soonja_h2、{CADRE_USER}" in ask["text"]
    assert labels(ask) == ["用上次的名单", "返回", "取消"]
    refused = await one(tg, ADMIN_USER, "@linxian_admin")
    assert refused["text"].startswith("以下账号在您的管辖范围内未找到：@linxian_admin\n请发送 Telegram 用户 ID")
    photo_sent = await tg.send_photo(ADMIN_USER, png())
    [expected] = await tg.wait_replies(ADMIN_USER, after_seq=photo_sent["seq"])
    assert expected["text"].startswith("请发送 Telegram 用户 ID 或 @用户名")
    assert len(await rows(sessionmaker, Broadcast)) == 1
    [sent] = await press(tg, ADMIN_USER, "用上次的名单")
    second = (await rows(sessionmaker, Broadcast))[-1]
    assert second.id != test.id and second.test_only
    assert sent["text"].startswith(f"测试广播 #{second.id} 已发给您和 @soonja_h2、{CADRE_USER}")
    assert await deliver(app, sessionmaker) == 3
    assert [await copies(tg, u) for u in (H2_USER, CADRE_USER, H1_USER)] == [2, 2, 0]
    # an old 用上次的名单 button at the time step is stale; 返回 from the names step
    assert await alert(tg, ADMIN_USER, ask["message_id"], "bs:last_test") == STALE
    await press(tg, ADMIN_USER, "发给测试账号")
    [back] = await press(tg, ADMIN_USER, "返回")
    assert back["text"] == "请选择发送时间，或直接输入时间，如 2026-12-01 09:00。" and "立即发送" in labels(back)

    # the real broadcast: the whole audience, once each
    [confirm] = await press(tg, ADMIN_USER, "立即发送")
    assert confirm["text"] == "确认立即发送给 4 人？"
    [created] = await press(tg, ADMIN_USER, "确认发送")
    [real] = [b for b in await rows(sessionmaker, Broadcast) if not b.test_only]
    assert created["text"].startswith(f"广播 #{real.id} 已开始发送，接收人 4 人。")
    real_rows = await rows(sessionmaker, OutboxMessage, OutboxMessage.broadcast_id == real.id)
    assert sorted(r.account_id for r in real_rows) == sorted(ids[u] for u in (H1_USER, H2_USER, H4_USER, H5_USER))
    assert await deliver(app, sessionmaker) == 4
    assert [await copies(tg, u) for u in (H1_USER, H2_USER, H4_USER, H5_USER)] == [1, 3, 1, 1]
    assert await copies(tg, CADRE_USER) == 2  # the two tests only
    admin_rows = await rows(sessionmaker, OutboxMessage, OutboxMessage.account_id == ids[ADMIN_USER])
    assert len(admin_rows) == 2 and {r.broadcast_id for r in admin_rows} == {test.id, second.id}
    assert {r.state for r in await rows(sessionmaker, OutboxMessage)} == {DeliveryState.SENT}
    assert await deliver(app, sessionmaker) == 0


async def test_other_admins_list_is_not_offered(tg, chat_people, sessionmaker) -> None:
    """The remembered list is per admin and re-checked against the scope."""
    ids = await ids_of(sessionmaker, ADMIN_USER, H1_USER, OTHER_ADMIN_USER)
    async with sessionmaker() as session:
        await bc.create_broadcast(
            session, texts={"zh_Hans": TEXT}, audience=Audience(region_path="/".join(OTHER_COUNTY)),
            created_by="cli", now=NOW, admin_account_id=ids[OTHER_ADMIN_USER], test_only=True,
            test_account_ids=[ids[H1_USER]],
        )
        await session.commit()
    await to_preview(tg)
    [ask] = await press(tg, ADMIN_USER, "发给测试账号")
    assert "上次的测试名单" not in ask["text"] and labels(ask) == ["返回", "取消"]


# ------------------------------------------------------------------------ service


def test_split_names() -> None:
    assert bc.split_names(" 4001，@a_bcd, 4002、4001;x\n@a_bcd ") == ["4001", "@a_bcd", "4002", "x"]
    assert bc.split_names("  ,， ") == []


async def test_resolve_names_within_scope(people, session) -> None:
    await session.execute(update(Account).where(Account.telegram_user_id == H2_USER).values(username="soonja_h2"))
    await session.execute(update(Account).where(Account.telegram_user_id == OTHER_ADMIN_USER)
                          .values(username="linxian_admin"))
    await session.execute(update(Account).where(Account.telegram_user_id == H4_USER).values(is_active=False))
    await session.commit()
    ids = {a.telegram_user_id: a.id for a in (await session.scalars(select(Account))).all()}
    names = ["@Soonja_H2", str(CADRE_USER), str(ADMIN_USER), "@linxian_admin", str(OTHER_ADMIN_USER),
             str(H4_USER), str(PUBLIC_USER), "12", "@@x"]
    found = await bc.resolve_test_names(session, names, COUNTY_PATH)
    assert found.accepted == {ids[H2_USER]: "@soonja_h2", ids[CADRE_USER]: str(CADRE_USER),
                              ids[ADMIN_USER]: str(ADMIN_USER)}
    # out of scope, inactive, unbound, unknown and malformed: all alike "not found"
    assert found.rejected == ["@linxian_admin", str(OTHER_ADMIN_USER), str(H4_USER), str(PUBLIC_USER), "12", "@@x"]
    # a province-wide scope finds the other county's admin too
    wide = await bc.resolve_test_names(session, ["@linxian_admin", str(H5_USER)], "吉林省")
    assert wide.accepted == {ids[OTHER_ADMIN_USER]: "@linxian_admin", ids[H5_USER]: str(H5_USER)}
    assert wide.rejected == []


async def test_a_username_kept_by_an_old_account_goes_to_the_latest(people, session) -> None:
    """Telegram usernames move: the account seen last with it wins."""
    for user, seen in ((H1_USER, NOW - timedelta(days=3)), (H2_USER, NOW)):
        await session.execute(update(Account).where(Account.telegram_user_id == user)
                              .values(username="moved_name", last_seen_at=seen))
    await session.commit()
    h2 = await session.scalar(select(Account.id).where(Account.telegram_user_id == H2_USER))
    found = await bc.resolve_test_names(session, ["@moved_name"], COUNTY_PATH)
    assert found.accepted == {h2: "@moved_name"}


async def test_named_test_broadcast_rows_and_memory(people, session) -> None:
    ids = {a.telegram_user_id: a.id for a in (await session.scalars(select(Account))).all()}
    admin = ids[ADMIN_USER]
    assert await bc.remembered_test_accounts(session, admin, COUNTY_PATH) == {}
    created = await bc.create_broadcast(
        session, texts={"zh_Hans": TEXT}, audience=Audience(region_path=COUNTY_PATH), created_by=f"account:{admin}",
        now=NOW, admin_account_id=admin, scope=COUNTY_PATH, test_only=True,
        test_account_ids=[ids[H1_USER], ids[CADRE_USER], admin],
    )
    await session.commit()
    assert created.recipients == 3
    broadcast = await session.get(Broadcast, created.broadcast_id)
    assert sorted(broadcast.test_account_ids) == sorted([ids[H1_USER], ids[CADRE_USER]])  # the admin apart
    queued = (await session.scalars(select(OutboxMessage.account_id)
                                    .where(OutboxMessage.broadcast_id == created.broadcast_id))).all()
    assert sorted(queued) == sorted([admin, ids[H1_USER], ids[CADRE_USER]])
    remembered = await bc.remembered_test_accounts(session, admin, COUNTY_PATH)
    assert remembered == {ids[H1_USER]: str(H1_USER), ids[CADRE_USER]: str(CADRE_USER)}
    # a later test to the admin alone keeps the list; an account gone inactive drops out
    await bc.create_broadcast(session, texts={"zh_Hans": TEXT}, audience=Audience(region_path=COUNTY_PATH),
                              created_by="x", now=NOW, admin_account_id=admin, test_only=True)
    await session.execute(update(Account).where(Account.id == ids[H1_USER]).values(is_active=False))
    await session.commit()
    assert await bc.remembered_test_accounts(session, admin, COUNTY_PATH) == {ids[CADRE_USER]: str(CADRE_USER)}
    # another scope finds none of them
    assert await bc.remembered_test_accounts(session, admin, "/".join(OTHER_COUNTY)) == {}
    # a test with neither the admin nor named accounts is refused
    with pytest.raises(bc.BroadcastError):
        await bc.create_broadcast(session, texts={"zh_Hans": TEXT}, audience=Audience(), created_by="cli",
                                  now=NOW, test_only=True)


def test_rejected_names_are_clipped_and_counted() -> None:
    from bot.i18n import create_i18n
    from notifications import broadcasts_render as render

    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        assert render.names_not_found_text(["@a<b>", "999"]) == "以下账号在您的管辖范围内未找到：@a&lt;b&gt;、999"
        long = render.names_not_found_text(["x" * 4000])
        assert long == "以下账号在您的管辖范围内未找到：" + "x" * 39 + "…"
        many = render.names_not_found_text([f"<{i:02d}>" + "y" * 100 for i in range(20)])
        assert many.count("、") == 9 and many.endswith("… 等 20 个") and "<" not in many
        assert "&lt;09&gt;" in many and "&lt;10&gt;" not in many
        assert len(many) < 700


async def test_a_huge_rejected_name_does_not_break_the_reply(tg, chat_people) -> None:
    """A 4,000-character token among the names: the reply echoes it clipped (an unclipped
    echo went past Telegram's 4,096 characters and the Bot API refused it)."""
    await to_preview(tg)
    await press(tg, ADMIN_USER, "发给测试账号")
    junk = " ".join(f"bad{i}" for i in range(12))
    sent = await one(tg, ADMIN_USER, f"{CADRE_USER} {'z' * 4000} {junk}")
    assert sent["text"].startswith("测试广播 #")
    assert "z" * 39 + "…" in sent["text"] and "z" * 41 not in sent["text"]
    assert sent["text"].endswith("等 13 个") and len(sent["text"]) < 1000
    # nothing accepted: the clipped list, then the names are asked again
    await press(tg, ADMIN_USER, "发给测试账号")
    again = await one(tg, ADMIN_USER, "q" * 4090)
    assert again["text"].startswith("以下账号在您的管辖范围内未找到：" + "q" * 39 + "…\n请发送 Telegram 用户 ID")
