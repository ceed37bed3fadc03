"""Closed vocabularies of the registry, with the official Chinese labels used by imports.

Values stored in the database are stable ASCII codes; the Chinese labels are those of the
policy document and of real registry exports. Display labels for chat go through gettext
(see handlers' renderers), these labels are for parsing input files.
"""

from __future__ import annotations

from enum import IntFlag, StrEnum


class RegionLevel(StrEnum):
    PROVINCE = "province"  # 省
    CITY = "city"  # 市(州)
    COUNTY = "county"  # 县(市、区)
    TOWNSHIP = "township"  # 乡镇
    VILLAGE = "village"  # 行政村


REGION_DEPTH = {
    RegionLevel.PROVINCE: 0,
    RegionLevel.CITY: 1,
    RegionLevel.COUNTY: 2,
    RegionLevel.TOWNSHIP: 3,
    RegionLevel.VILLAGE: 4,
}
LEVELS_BY_DEPTH = {depth: level for level, depth in REGION_DEPTH.items()}


class PovertyCause(IntFlag):
    """The official list of causes of poverty (致贫原因); a household may have several."""

    ILLNESS = 1  # 因病
    DISABILITY = 2  # 因残
    SCHOOLING = 4  # 因学
    DISASTER = 8  # 因灾
    LACK_LAND = 16  # 缺土地
    LACK_WATER = 32  # 缺水
    LACK_SKILLS = 64  # 缺技术
    LACK_LABOUR = 128  # 缺劳力
    LACK_FUNDS = 256  # 缺资金
    POOR_TRANSPORT = 512  # 交通条件落后
    LACK_MOTIVATION = 1024  # 自身发展动力不足


CAUSE_LABELS: dict[PovertyCause, str] = {
    PovertyCause.ILLNESS: "因病",
    PovertyCause.DISABILITY: "因残",
    PovertyCause.SCHOOLING: "因学",
    PovertyCause.DISASTER: "因灾",
    PovertyCause.LACK_LAND: "缺土地",
    PovertyCause.LACK_WATER: "缺水",
    PovertyCause.LACK_SKILLS: "缺技术",
    PovertyCause.LACK_LABOUR: "缺劳力",
    PovertyCause.LACK_FUNDS: "缺资金",
    PovertyCause.POOR_TRANSPORT: "交通条件落后",
    PovertyCause.LACK_MOTIVATION: "自身发展动力不足",
}


class SupportMeasure(StrEnum):
    """The document's 'seven batches' (七个一批) of support measures."""

    PRODUCTION = "production"  # 发展生产
    RELOCATION = "relocation"  # 易地搬迁
    ECOLOGY = "ecology"  # 生态保护
    EDUCATION = "education"  # 发展教育
    MEDICAL = "medical"  # 医疗救助
    SOCIAL_SECURITY = "social_security"  # 社会保障兜底
    CASE_BY_CASE = "case_by_case"  # 一事一议


MEASURE_LABELS: dict[SupportMeasure, str] = {
    SupportMeasure.PRODUCTION: "发展生产",
    SupportMeasure.RELOCATION: "易地搬迁",
    SupportMeasure.ECOLOGY: "生态保护",
    SupportMeasure.EDUCATION: "发展教育",
    SupportMeasure.MEDICAL: "医疗救助",
    SupportMeasure.SOCIAL_SECURITY: "社会保障兜底",
    SupportMeasure.CASE_BY_CASE: "一事一议",
}


class HouseholdStatus(StrEnum):
    NOT_LIFTED = "not_lifted"  # 未脱贫
    LIFTED = "lifted"  # 已脱贫
    RETURNED = "returned"  # 返贫


STATUS_LABELS: dict[HouseholdStatus, str] = {
    HouseholdStatus.NOT_LIFTED: "未脱贫",
    HouseholdStatus.LIFTED: "已脱贫",
    HouseholdStatus.RETURNED: "返贫",
}


class HousingGrade(StrEnum):
    """Housing safety grade; C and D are dilapidated (危房) and due for renovation."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class CadreLevel(StrEnum):
    PROVINCE = "province"  # 省
    CITY = "city"  # 市
    COUNTY = "county"  # 县
    TOWNSHIP = "township"  # 乡
    VILLAGE = "village"  # 村


CADRE_LEVEL_LABELS: dict[CadreLevel, str] = {
    CadreLevel.PROVINCE: "省",
    CadreLevel.CITY: "市",
    CadreLevel.COUNTY: "县",
    CadreLevel.TOWNSHIP: "乡",
    CadreLevel.VILLAGE: "村",
}


class MilestoneCategory(StrEnum):
    HOUSING = "housing"  # 住房安全 / 危房改造
    MEDICAL_INSURANCE = "medical_insurance"  # 医疗保障
    EDUCATION = "education"  # 教育
    INCOME = "income"  # 收入
    EMPLOYMENT = "employment"  # 就业
    INDUSTRY = "industry"  # 产业
    DRINKING_WATER = "drinking_water"  # 饮水安全
    SOCIAL_SECURITY = "social_security"  # 低保兜底
    OTHER = "other"  # 其他


MILESTONE_CATEGORY_LABELS: dict[MilestoneCategory, tuple[str, ...]] = {
    MilestoneCategory.HOUSING: ("住房安全", "住房", "危房改造"),
    MilestoneCategory.MEDICAL_INSURANCE: ("医疗保障", "医疗保险", "医疗", "基本医疗"),
    MilestoneCategory.EDUCATION: ("教育", "义务教育", "教育保障"),
    MilestoneCategory.INCOME: ("收入", "增收"),
    MilestoneCategory.EMPLOYMENT: ("就业", "转移就业"),
    MilestoneCategory.INDUSTRY: ("产业", "发展生产", "产业发展"),
    MilestoneCategory.DRINKING_WATER: ("饮水安全", "饮水"),
    MilestoneCategory.SOCIAL_SECURITY: ("低保兜底", "社会保障", "兜底保障"),
    MilestoneCategory.OTHER: ("其他",),
}


class VisitKind(StrEnum):
    HOME = "home"  # 入户走访
    PHONE = "phone"  # 电话联系
    MEETING = "meeting"  # 集中会面


class VisitConfirmation(StrEnum):
    NOT_ASKED = "not_asked"  # household not bound to Telegram
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DENIED = "denied"
    EXPIRED = "expired"  # no answer in time


class Role(StrEnum):
    HOUSEHOLD = "household"
    CADRE = "cadre"
    ADMIN = "admin"


class HardshipCategory(StrEnum):
    """Kinds of sudden hardship a household reports (section (十二), risk of returning to poverty)."""

    ILLNESS = "illness"  # 疾病
    DISASTER = "disaster"  # 灾害
    JOB_LOSS = "job_loss"  # 失业
    SCHOOL_COSTS = "school_costs"  # 上学费用
    HOUSING_DAMAGE = "housing_damage"  # 住房损坏
    OTHER = "other"  # 其他


class HardshipState(StrEnum):
    """Derived from a request's timestamps and deadlines, never stored."""

    NEW = "new"  # 待受理
    ACKNOWLEDGED = "acknowledged"  # 已受理
    RESOLVED = "resolved"  # 已办结
    OVERDUE = "overdue"  # 已逾期 (acknowledgement or outcome deadline passed)


class NotificationKind(StrEnum):
    """What an outbox row is; its text is rendered at send time (notifications/templates.py)."""

    VISIT_REMINDER = "visit_reminder"  # a pairing's visit due in 3 days / today
    MILESTONE_REMINDER = "milestone_reminder"  # a milestone due in 7 days / tomorrow
    VISIT_OVERDUE = "visit_overdue"  # first day overdue, to the cadre
    MILESTONE_OVERDUE = "milestone_overdue"
    ESCALATION = "escalation"  # overdue for N days, to supervisor and region admins
    HARDSHIP_ESCALATION = "hardship_escalation"  # acknowledgement or outcome deadline passed
    DIGEST = "digest"  # a cadre's daily digest
    CATCH_UP = "catch_up"  # one digest instead of reminders that are too late (after an outage)
    WEEKLY_SUMMARY = "weekly_summary"  # to admins
    BROADCAST = "broadcast"  # one recipient of an admin broadcast
    BROADCAST_REPORT = "broadcast_report"  # the final report to the broadcast's admin


class DeliveryState(StrEnum):
    """An outbox row's delivery state (alphagov-style: queued → sending → sent, or retry /
    failed; cancelled when its condition no longer holds or its broadcast was cancelled)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"  # a temporary error: attempts, last_error, not_before set
    FAILED = "failed"  # permanent: blocked, chat not found, deactivated, or retries exhausted
    CANCELLED = "cancelled"


class BroadcastState(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its send time
    SENDING = "sending"  # recipients enqueued, being delivered
    DONE = "done"  # nothing left queued; the admin got the report
    CANCELLED = "cancelled"
