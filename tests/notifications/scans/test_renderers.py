"""The renderers re-check their subject at send time and word the text in the recipient's
language (notifications/reminders.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update

import notifications.reminders  # noqa: F401  (registers the renderers)
from notifications.scans import run_all_scans, scan_escalations, scan_hardship, scan_reminders
from notifications.templates import RenderContext, render
from storage.enums import HardshipCategory, HouseholdStatus, MilestoneCategory, NotificationKind
from storage.models import Account, HardshipRequest, Household, Milestone, OutboxMessage, Pairing
from tests.notifications.scans.conftest import at, outbox
from tests.work.people import ADMIN_USER, CADRE_KO_USER, CADRE_USER, SUPERVISOR_USER

K = NotificationKind
DEC_1 = date(2026, 12, 1)


async def _render(sessionmaker, i18n, row: OutboxMessage, locale: str, now: datetime):
    async with sessionmaker() as s:
        message = await s.get(OutboxMessage, row.id)
        account = await s.get(Account, message.account_id)
        with i18n.context(), i18n.use_locale(locale):
            return await render(RenderContext(s, message, account, locale, now))


async def _set(sessionmaker, *statements) -> None:
    async with sessionmaker() as s:
        for stmt in statements:
            await s.execute(stmt)
        await s.commit()


async def _scan(sessionmaker, settings, scan, now) -> None:
    async with sessionmaker() as s:
        await scan(s, settings, now)
        await s.commit()


def _buttons(rendered) -> list[str]:
    return [b.callback_data for row in rendered.reply_markup.inline_keyboard for b in row]


def _labels(rendered) -> list[str]:
    return [b.text for row in rendered.reply_markup.inline_keyboard for b in row]


async def test_visit_reminder_text_and_cancel_after_visit(people, sessionmaker, settings, i18n) -> None:
    await _set(sessionmaker, update(Pairing).where(Pairing.id == people.pairing_h1)
               .values(next_visit_due=date(2026, 12, 4)))
    await _scan(sessionmaker, settings, scan_reminders, at(DEC_1))
    [row] = await outbox(sessionmaker, K.VISIT_REMINDER)
    rendered = await _render(sessionmaker, i18n, row, "zh_Hans", at(DEC_1))
    assert "张大山" in rendered.text and "W0001" in rendered.text and "2026年12月4日" in rendered.text
    assert "/visit" in rendered.text
    assert _buttons(rendered) == [f"hhc:{people.h1}:0", f"vst:{people.h1}"]
    assert _labels(rendered) == ["查看户卡", "登记走访"]
    ko = await _render(sessionmaker, i18n, row, "ko", at(DEC_1))
    assert "2026. 12. 4." in ko.text  # Korean date formatting (texts: see /tmp/tr/reminders.yaml)
    # a visit was logged: the next due date moved on, the reminder no longer holds
    await _set(sessionmaker, update(Pairing).where(Pairing.id == people.pairing_h1)
               .values(next_visit_due=date(2026, 12, 31)))
    assert await _render(sessionmaker, i18n, row, "zh_Hans", at(DEC_1)) is None


async def test_visit_reminder_cancelled_when_pairing_ended_or_household_lifted(
    people, sessionmaker, settings, i18n
) -> None:
    await _set(sessionmaker, update(Pairing).where(Pairing.id.in_([people.pairing_h1, people.pairing_h2]))
               .values(next_visit_due=DEC_1))
    await _scan(sessionmaker, settings, scan_reminders, at(DEC_1))
    rows = await outbox(sessionmaker, K.VISIT_REMINDER)
    assert len(rows) == 2
    for row in rows:
        assert await _render(sessionmaker, i18n, row, "zh_Hans", at(DEC_1)) is not None
    await _set(
        sessionmaker,
        update(Pairing).where(Pairing.id == people.pairing_h1).values(end_date=DEC_1),
        update(Household).where(Household.id == people.h2).values(status=HouseholdStatus.LIFTED),
    )
    for row in rows:
        assert await _render(sessionmaker, i18n, row, "zh_Hans", at(DEC_1)) is None


async def test_milestone_overdue_and_done(people, sessionmaker, settings, i18n) -> None:
    async with sessionmaker() as s:
        m = Milestone(household_id=people.h3, category=MilestoneCategory.HOUSING, title="危房<改造>",
                      due_date=date(2026, 11, 30))
        s.add(m)
        await s.commit()
    await _scan(sessionmaker, settings, scan_reminders, at(DEC_1))
    [row] = await outbox(sessionmaker, K.MILESTONE_OVERDUE)
    rendered = await _render(sessionmaker, i18n, row, "zh_Hans", at(DEC_1))
    assert "王&lt;小&gt;二" in rendered.text and "危房&lt;改造&gt;" in rendered.text and "住房安全" in rendered.text
    assert "逾期" in rendered.text and _buttons(rendered) == [f"hhc:{people.h3}:0", f"msx:{m.id}"]
    assert _labels(rendered) == ["查看户卡", "标记完成"]
    assert _labels(await _render(sessionmaker, i18n, row, "ko", at(DEC_1))) == ["가구 카드 보기", "완료 표시"]
    await _set(sessionmaker, update(Milestone).where(Milestone.id == m.id)
               .values(completed_at=datetime(2026, 12, 1, 2, tzinfo=UTC)))
    assert await _render(sessionmaker, i18n, row, "zh_Hans", at(DEC_1)) is None


async def test_reminder_for_another_account_is_not_rendered(people, sessionmaker, settings, i18n) -> None:
    await _set(sessionmaker, update(Pairing).where(Pairing.id == people.pairing_h1).values(next_visit_due=DEC_1))
    await _scan(sessionmaker, settings, scan_reminders, at(DEC_1))
    [row] = await outbox(sessionmaker, K.VISIT_REMINDER)
    async with sessionmaker() as s:  # the account was re-bound to another cadre
        await s.execute(update(Account).where(Account.telegram_user_id == CADRE_USER)
                        .values(cadre_id=people.cadre_ko))
        await s.commit()
    assert await _render(sessionmaker, i18n, row, "zh_Hans", at(DEC_1)) is None


async def test_escalation_texts(people, sessionmaker, settings, i18n) -> None:
    await _set(sessionmaker, update(Pairing).where(Pairing.id == people.pairing_h1)
               .values(next_visit_due=date(2026, 11, 20)))
    now = at(date(2026, 11, 27))
    await _scan(sessionmaker, settings, scan_escalations, now)
    rows = {r.account_id: r for r in await outbox(sessionmaker, K.ESCALATION)}
    async with sessionmaker() as s:
        ids = dict((await s.execute(select(Account.telegram_user_id, Account.id))).all())
    admin_text = await _render(sessionmaker, i18n, rows[ids[ADMIN_USER]], "zh_Hans", now)
    assert "刘干部" in admin_text.text and "张大山" in admin_text.text and "7" in admin_text.text
    assert _buttons(admin_text) == [f"hhc:{people.h1}:0"]
    supervisor_text = await _render(sessionmaker, i18n, rows[ids[SUPERVISOR_USER]], "zh_Hans", now)
    assert supervisor_text.reply_markup is None  # the card would refuse a supervisor
    # visited since: no escalation goes out
    await _set(sessionmaker, update(Pairing).where(Pairing.id == people.pairing_h1)
               .values(next_visit_due=date(2026, 12, 26)))
    assert await _render(sessionmaker, i18n, rows[ids[ADMIN_USER]], "zh_Hans", now) is None


async def test_hardship_escalation_cancelled_after_acknowledgement(people, sessionmaker, settings, i18n) -> None:
    async with sessionmaker() as s:
        request = HardshipRequest(
            household_id=people.h1, cadre_id=people.cadre, category=HardshipCategory.DISASTER, text="",
            created_at=at(DEC_1, 10).astimezone(UTC), ack_due_at=at(date(2026, 12, 3), 23, 59).astimezone(UTC),
            outcome_due_at=at(date(2026, 12, 29), 23, 59).astimezone(UTC),
        )
        s.add(request)
        await s.commit()
    now = at(date(2026, 12, 4))
    await _scan(sessionmaker, settings, scan_hardship, now)
    row = (await outbox(sessionmaker, K.HARDSHIP_ESCALATION))[0]
    rendered = await _render(sessionmaker, i18n, row, "zh_Hans", now)
    assert "张大山" in rendered.text and "/requests" in rendered.text and "刘干部" in rendered.text
    await _set(sessionmaker, update(HardshipRequest).values(acknowledged_at=now.astimezone(UTC)))
    assert await _render(sessionmaker, i18n, row, "zh_Hans", now) is None


async def test_digest_catch_up_and_weekly(people, sessionmaker, settings, i18n) -> None:
    await _set(
        sessionmaker,
        update(Pairing).where(Pairing.id == people.pairing_h1).values(next_visit_due=date(2026, 12, 2)),
        update(Pairing).where(Pairing.household_id == people.h5).values(next_visit_due=date(2026, 12, 2)),
    )
    await run_all_scans(sessionmaker, settings, at(date(2026, 11, 30), 9))  # a Monday
    weekly = {r.account_id: r for r in await outbox(sessionmaker, K.WEEKLY_SUMMARY)}
    async with sessionmaker() as s:
        ids = dict((await s.execute(select(Account.telegram_user_id, Account.id))).all())
    text = (await _render(sessionmaker, i18n, weekly[ids[ADMIN_USER]], "zh_Hans", at(date(2026, 11, 30)))).text
    assert "示范县" in text and "逾期未走访的贫困户：0" in text
    digest = {r.account_id: r for r in await outbox(sessionmaker, K.DIGEST)}
    text = (await _render(sessionmaker, i18n, digest[ids[CADRE_USER]], "zh_Hans", at(date(2026, 11, 30)))).text
    assert "每日提醒" in text and "张大山" in text
    ko = (await _render(sessionmaker, i18n, digest[ids[CADRE_KO_USER]], "ko", at(date(2026, 11, 30)))).text
    assert "박철수" in ko and "오늘" in ko  # /today's Korean texts
    # a day late, the digest is stale
    assert await _render(sessionmaker, i18n, digest[ids[CADRE_USER]], "zh_Hans", at(DEC_1)) is None
    # outage until Dec 6: catch-up digests; one visit is logged before they go out
    await run_all_scans(sessionmaker, settings, at(date(2026, 12, 6), 9))
    catch_up = {r.account_id: r for r in await outbox(sessionmaker, K.CATCH_UP)}
    assert set(catch_up) == {ids[CADRE_USER], ids[CADRE_KO_USER]}
    text = (await _render(sessionmaker, i18n, catch_up[ids[CADRE_USER]], "zh_Hans", at(date(2026, 12, 6)))).text
    assert "补发提醒" in text and "张大山" in text
    await _set(sessionmaker, update(Pairing).where(Pairing.id == people.pairing_h1)
               .values(next_visit_due=date(2027, 1, 5)))
    assert await _render(sessionmaker, i18n, catch_up[ids[CADRE_USER]], "zh_Hans", at(date(2026, 12, 6))) is None


async def test_overdue_visit_and_milestone_reminder_carry_their_action_buttons(
    people, sessionmaker, settings, i18n
) -> None:
    """Visit overdue alert: card + 登记走访; milestone reminder: card + 标记完成; the
    escalation of the same overdue visit to the admin: the card only."""
    await _set(sessionmaker, update(Pairing).where(Pairing.id == people.pairing_h2)
               .values(next_visit_due=date(2026, 11, 30)))
    async with sessionmaker() as s:
        m = Milestone(household_id=people.h1, category=MilestoneCategory.INCOME, title="养殖项目分红",
                      due_date=date(2026, 12, 8))
        s.add(m)
        await s.commit()
    await _scan(sessionmaker, settings, scan_reminders, at(DEC_1))
    [overdue] = await outbox(sessionmaker, K.VISIT_OVERDUE)
    rendered = await _render(sessionmaker, i18n, overdue, "zh_Hans", at(DEC_1))
    assert "김순자" in rendered.text
    assert _buttons(rendered) == [f"hhc:{people.h2}:0", f"vst:{people.h2}"]
    [reminder] = await outbox(sessionmaker, K.MILESTONE_REMINDER)
    rendered = await _render(sessionmaker, i18n, reminder, "zh_Hans", at(DEC_1))
    assert "养殖项目分红" in rendered.text
    assert _buttons(rendered) == [f"hhc:{people.h1}:0", f"msx:{m.id}"]
    assert all(len(data.encode()) <= 64 for data in _buttons(rendered))
    now = at(date(2026, 12, 7))
    await _scan(sessionmaker, settings, scan_escalations, now)
    async with sessionmaker() as s:
        admin = await s.scalar(select(Account.id).where(Account.telegram_user_id == ADMIN_USER))
    [escalation] = [r for r in await outbox(sessionmaker, K.ESCALATION) if r.account_id == admin]
    rendered = await _render(sessionmaker, i18n, escalation, "zh_Hans", now)
    assert _buttons(rendered) == [f"hhc:{people.h2}:0"]
