"""Which sections of the policy document apply to a household, and why (for /benefits).

A pure function of the registry profile (致贫原因, 在校学生, 残疾人, 危房等级, 低保, 帮扶措施,
脱贫状态): no database, no gettext. Reasons are codes; bot/policy/render.py words them in
the user's language. Each section appears once with all its reasons, in order of
relevance: the household's own hardships first (returned to poverty, illness, disability,
schooling, disaster, subsistence allowance, housing), then its support measure, then its
general conditions (land, funds, skills, water, roads), its exit status, and last the
poverty standard (三) that concerns everybody.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from storage.enums import HouseholdStatus, HousingGrade, PovertyCause, SupportMeasure


class Reason(StrEnum):
    RETURNED = "returned"  # 返贫
    ILLNESS = "illness"  # 因病
    DISABILITY = "disability"  # 因残 / 家中有残疾人
    SCHOOLING = "schooling"  # 因学 / 家中有在校学生
    DISASTER = "disaster"  # 因灾
    DIBAO = "dibao"  # 享受低保
    HOUSING = "housing"  # C/D 级危房
    MEASURE_PRODUCTION = "measure_production"
    MEASURE_RELOCATION = "measure_relocation"
    MEASURE_ECOLOGY = "measure_ecology"
    MEASURE_EDUCATION = "measure_education"
    MEASURE_MEDICAL = "measure_medical"
    MEASURE_SOCIAL_SECURITY = "measure_social_security"
    MEASURE_CASE_BY_CASE = "measure_case_by_case"
    LACK_MEANS = "lack_means"  # 缺土地 / 缺资金 / 缺技术 / 缺劳力
    LACK_WATER = "lack_water"
    POOR_TRANSPORT = "poor_transport"
    LIFTED = "lifted"  # 已脱贫: (二十八) exit standards, procedure, policies after exit
    STANDARD = "standard"  # everybody: the 2300元 (2010 prices) standard


@dataclass(frozen=True, slots=True)
class Benefit:
    section: int  # the document's section number, 1-40
    reasons: tuple[Reason, ...]


class HouseholdProfile(Protocol):
    """The registry fields used (storage.models.Household has them)."""

    causes: PovertyCause
    students: int
    disabled: int
    housing_grade: HousingGrade | None
    dibao: bool
    measure: SupportMeasure | None
    status: HouseholdStatus


_MEASURES: dict[SupportMeasure, tuple[Reason, tuple[int, ...]]] = {
    SupportMeasure.PRODUCTION: (Reason.MEASURE_PRODUCTION, (6,)),
    SupportMeasure.RELOCATION: (Reason.MEASURE_RELOCATION, (7, 32)),  # 32: 90% interest subsidy
    SupportMeasure.ECOLOGY: (Reason.MEASURE_ECOLOGY, (8,)),
    SupportMeasure.EDUCATION: (Reason.MEASURE_EDUCATION, (9,)),
    SupportMeasure.MEDICAL: (Reason.MEASURE_MEDICAL, (10,)),
    SupportMeasure.SOCIAL_SECURITY: (Reason.MEASURE_SOCIAL_SECURITY, (11,)),
    SupportMeasure.CASE_BY_CASE: (Reason.MEASURE_CASE_BY_CASE, (12,)),
}

_MEANS = PovertyCause.LACK_LAND | PovertyCause.LACK_FUNDS | PovertyCause.LACK_SKILLS | PovertyCause.LACK_LABOUR


def applicable_benefits(household: HouseholdProfile) -> list[Benefit]:
    """The sections that apply to this household, most relevant first, each once."""
    causes = PovertyCause(int(household.causes or 0))
    rules: list[tuple[Reason, tuple[int, ...]]] = []
    if household.status == HouseholdStatus.RETURNED:
        rules.append((Reason.RETURNED, (12, 11)))
    if PovertyCause.ILLNESS in causes:
        rules.append((Reason.ILLNESS, (10,)))
    if PovertyCause.DISABILITY in causes or (household.disabled or 0) > 0:
        rules.append((Reason.DISABILITY, (10, 12)))
    if PovertyCause.SCHOOLING in causes or (household.students or 0) > 0:
        rules.append((Reason.SCHOOLING, (9,)))
    if PovertyCause.DISASTER in causes:
        rules.append((Reason.DISASTER, (12,)))
    if household.dibao:
        rules.append((Reason.DIBAO, (11,)))
    if household.housing_grade in (HousingGrade.C, HousingGrade.D):
        rules.append((Reason.HOUSING, (16,)))
    if household.measure is not None and household.measure in _MEASURES:
        rules.append(_MEASURES[SupportMeasure(household.measure)])
    if causes & _MEANS:
        rules.append((Reason.LACK_MEANS, (6, 32, 35)))
    if PovertyCause.LACK_WATER in causes:
        rules.append((Reason.LACK_WATER, (14,)))
    if PovertyCause.POOR_TRANSPORT in causes:
        rules.append((Reason.POOR_TRANSPORT, (13,)))
    if household.status == HouseholdStatus.LIFTED:
        rules.append((Reason.LIFTED, (28,)))
    rules.append((Reason.STANDARD, (3,)))

    reasons: dict[int, list[Reason]] = {}  # insertion order = relevance order
    for reason, sections in rules:
        for number in sections:
            found = reasons.setdefault(number, [])
            if reason not in found:
                found.append(reason)
    return [Benefit(number, tuple(found)) for number, found in reasons.items()]
