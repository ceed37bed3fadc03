"""/benefits: the rules (a pure function of the registry profile) and the chat command."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.policy.benefits import Benefit, Reason, applicable_benefits
from storage.enums import HouseholdStatus, HousingGrade, PovertyCause, SupportMeasure
from tests.policy_chat.conftest import ADMIN_USER, CADRE_USER, HOUSEHOLD_USER, PUBLIC_USER
from tests.policy_chat.helpers import DOC, labels


@dataclass
class Profile:
    causes: PovertyCause = field(default_factory=lambda: PovertyCause(0))
    students: int = 0
    disabled: int = 0
    housing_grade: HousingGrade | None = None
    dibao: bool = False
    measure: SupportMeasure | None = None
    status: HouseholdStatus = HouseholdStatus.NOT_LIFTED


def _sections(benefits: list[Benefit]) -> list[int]:
    return [b.section for b in benefits]


def test_nothing_special_gets_the_standard_only() -> None:
    assert applicable_benefits(Profile()) == [Benefit(3, (Reason.STANDARD,))]


def test_each_rule() -> None:
    cases = [
        (Profile(causes=PovertyCause.ILLNESS), [10, 3]),
        (Profile(causes=PovertyCause.DISABILITY), [10, 12, 3]),
        (Profile(disabled=1), [10, 12, 3]),
        (Profile(causes=PovertyCause.SCHOOLING), [9, 3]),
        (Profile(students=2), [9, 3]),
        (Profile(causes=PovertyCause.DISASTER), [12, 3]),
        (Profile(causes=PovertyCause.LACK_LAND), [6, 32, 35, 3]),
        (Profile(causes=PovertyCause.LACK_FUNDS), [6, 32, 35, 3]),
        (Profile(causes=PovertyCause.LACK_SKILLS), [6, 32, 35, 3]),
        (Profile(causes=PovertyCause.LACK_LABOUR), [6, 32, 35, 3]),
        (Profile(causes=PovertyCause.LACK_WATER), [14, 3]),
        (Profile(causes=PovertyCause.POOR_TRANSPORT), [13, 3]),
        (Profile(causes=PovertyCause.LACK_MOTIVATION), [3]),
        (Profile(housing_grade=HousingGrade.C), [16, 3]),
        (Profile(housing_grade=HousingGrade.D), [16, 3]),
        (Profile(housing_grade=HousingGrade.B), [3]),
        (Profile(dibao=True), [11, 3]),
        (Profile(measure=SupportMeasure.RELOCATION), [7, 32, 3]),
        (Profile(measure=SupportMeasure.ECOLOGY), [8, 3]),
        (Profile(measure=SupportMeasure.EDUCATION), [9, 3]),
        (Profile(measure=SupportMeasure.MEDICAL), [10, 3]),
        (Profile(measure=SupportMeasure.SOCIAL_SECURITY), [11, 3]),
        (Profile(measure=SupportMeasure.PRODUCTION), [6, 3]),
        (Profile(measure=SupportMeasure.CASE_BY_CASE), [12, 3]),
        (Profile(status=HouseholdStatus.LIFTED), [28, 3]),
        (Profile(status=HouseholdStatus.RETURNED), [12, 11, 3]),
    ]
    for profile, expected in cases:
        assert _sections(applicable_benefits(profile)) == expected, profile


def test_several_causes_merge_reasons_without_duplicates() -> None:
    profile = Profile(
        causes=PovertyCause.ILLNESS | PovertyCause.DISABILITY | PovertyCause.LACK_FUNDS | PovertyCause.DISASTER,
        dibao=True,
        measure=SupportMeasure.RELOCATION,
        status=HouseholdStatus.RETURNED,
    )
    benefits = applicable_benefits(profile)
    numbers = _sections(benefits)
    assert len(numbers) == len(set(numbers))
    assert numbers == [12, 11, 10, 7, 32, 6, 35, 3]
    by = {b.section: b.reasons for b in benefits}
    assert by[12] == (Reason.RETURNED, Reason.DISABILITY, Reason.DISASTER)
    assert by[11] == (Reason.RETURNED, Reason.DIBAO)
    assert by[32] == (Reason.MEASURE_RELOCATION, Reason.LACK_MEANS)
    assert by[3] == (Reason.STANDARD,)


def test_plain_int_causes_and_string_enums_are_accepted() -> None:
    profile = Profile(causes=int(PovertyCause.ILLNESS), measure="ecology", status="lifted")  # type: ignore[arg-type]
    assert _sections(applicable_benefits(profile)) == [10, 8, 28, 3]


# ------------------------------------------------------------------------------ chat


@pytest.mark.usefixtures("app")
async def test_benefits_for_a_household_with_several_causes(tg, people, policy) -> None:
    [reply] = await tg.ask(HOUSEHOLD_USER, "/benefits")
    text = reply["text"]
    # H0001: illness + schooling + lack of funds, a student, C-grade house, dibao, relocation.
    order = [10, 9, 11, 16, 7, 32, 6, 35, 3]
    sections = policy.corpus.sections
    headings = [f"（{sections[n].label}）{sections[n].title}" for n in order]
    positions = [text.index(f"{i}. {h}") for i, h in enumerate(headings, start=1)]
    assert positions == sorted(positions)
    assert text.count("（三十二）") == 1
    block = text.split("（三十二）", 1)[1].split("\n\n", 1)[0]
    assert "易地搬迁" in block and "缺资金" in block  # both reasons on the one line
    assert "因病" in text.split("（十）", 1)[1].split("\n\n", 1)[0]
    assert "2300元" in text.split("（三）", 1)[1].split("\n\n", 1)[0]
    assert labels(reply) == headings
    # A button shows that section's answer with its citation.
    pressed = await tg.press_button(HOUSEHOLD_USER, headings[1])
    [shown] = await tg.wait_replies(HOUSEHOLD_USER, after_seq=pressed["seq"])
    assert shown["text"] == f"{sections[9].answer_for('zh_Hans')}\n\n依据：《{DOC}》（九）"
    assert labels(shown) == ["原文"]


@pytest.mark.usefixtures("app")
@pytest.mark.parametrize("user_id", [PUBLIC_USER, CADRE_USER, ADMIN_USER])
async def test_benefits_for_others_explains_binding(tg, people, user_id) -> None:
    [reply] = await tg.ask(user_id, "/benefits")
    assert not reply.get("reply_markup")
    assert "邀请链接" in reply["text"] or "초대" in reply["text"] or "invitation" in reply["text"].lower()
