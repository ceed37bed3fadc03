"""bot/work/households_render.py without Telegram: escaping, labels, limits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.i18n import create_i18n
from bot.work import households_render as render
from bot.work.households import PAGE_SIZE, HouseholdCard, HouseholdPage
from storage.enums import (
    HouseholdStatus,
    HousingGrade,
    MilestoneCategory,
    PovertyCause,
    SupportMeasure,
    VisitConfirmation,
    VisitKind,
)
from storage.models import Cadre, Household, Milestone, Pairing, Region, Visit
from storage.repositories.households import HouseholdLine

TODAY = date(2026, 11, 29)


@pytest.fixture
def zh():
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        yield


def _line(i: int, name: str = "户", due: date | None = TODAY) -> HouseholdLine:
    return HouseholdLine(i, f"{name}{i}", f"R{i}", "一<村>", None, due, 0)


@pytest.mark.usefixtures("zh")
def test_list_escapes_and_pages() -> None:
    lines = [_line(i, "<b>") for i in range(1, 9)]
    page = HouseholdPage(lines, page=1, pages=3, total=20, today=TODAY, is_admin=True)
    text = render.list_text(page, "zh_Hans")
    assert "<b>&lt;b&gt;1</b> · 一&lt;村&gt;" in text
    assert text.startswith("<b>辖区内的贫困户（共 20 户）</b>\n第 2/3 页")
    assert text.count("\n9. ") == 1 and "\n16. " in text  # numbering continues across pages
    markup = render.list_keyboard(page)
    nav = markup.inline_keyboard[-1]
    assert [b.text for b in nav] == ["‹ 上一页", "下一页 ›"]
    assert [b.callback_data for b in nav] == ["hhl:0", "hhl:2"]
    assert markup.inline_keyboard[0][0].callback_data == "hhc:1:1"
    assert len(markup.inline_keyboard) == PAGE_SIZE + 1
    empty = HouseholdPage([], 0, 1, 0, TODAY, is_admin=False)
    assert render.list_text(empty, "zh_Hans") == "您目前没有结对帮扶的贫困户。"
    assert render.list_keyboard(empty) is None


@pytest.mark.usefixtures("zh")
def test_long_texts_stay_within_the_message_limit() -> None:
    assert render.fit_lines(["x" * 100] * 100).endswith("\n…")
    assert render.utf16_len(render.fit_lines(["王" * 50] * 200)) <= render.MESSAGE_LIMIT
    assert render.fit_lines(["a", "b"]) == "a\nb"
    label = render.list_keyboard(HouseholdPage([_line(1, "名" * 60)], 0, 1, 1, TODAY, False)).inline_keyboard[0][0]
    assert len(label.text) <= render.BUTTON_LABEL_LIMIT and label.text.endswith("…")


@pytest.mark.usefixtures("zh")
def test_card_profile_labels() -> None:
    village = Region(name="一村", path="吉林省/示范市/示范县/示范镇/一村")
    household = Household(
        reg_no="R&1", head_name="李<四>", village=village, members=3, status=HouseholdStatus.RETURNED,
        causes=PovertyCause.DISABILITY | PovertyCause.LACK_WATER, students=2, disabled=1,
        housing_grade=HousingGrade.D, dibao=True, measure=SupportMeasure.SOCIAL_SECURITY,
        income_per_capita=Decimal("3250.50"), income_year=2025,
    )
    pairing = Pairing(start_date=date(2026, 1, 5), next_visit_due=None, last_visit_on=None,
                      cadre=Cadre(name="干<部>"))
    milestones = [Milestone(title="长" * 80, due_date=TODAY, category=MilestoneCategory.DRINKING_WATER)]
    visits = [Visit(visited_on=TODAY, kind=VisitKind.MEETING, confirmation=VisitConfirmation.EXPIRED,
                    flagged=True, created_at=datetime(2026, 11, 29, tzinfo=UTC))]
    card = HouseholdCard(household, pairing, milestones, 30, visits, TODAY)
    text = render.card_text(card, "zh_Hans")
    assert text.startswith("<b>李&lt;四&gt;</b>（户编号 R&amp;1）")
    assert "脱贫状态：返贫" in text and "致贫原因：因残、缺水" in text
    assert "危房等级：D · 享受低保：是" in text and "帮扶措施：社会保障兜底" in text
    assert "人均纯收入：3,250.5 元（2025 年）" in text
    assert "帮扶干部：干&lt;部&gt; · 结对时间：2026年1月5日" in text
    assert "尚未走访 · 下次应访：未排定" in text
    assert "饮水安全：" + "长" * 39 + "…" in text
    assert "……另有 29 项未列出" in text
    assert "集中会面 · 农户未按时确认 ⚠️ 存疑" in text
    alone = HouseholdCard(household, None, [], 0, [], TODAY)
    assert "目前没有结对的帮扶干部。" in render.card_text(alone, "zh_Hans")
