"""A small, obviously fictional county to try the bot with: `fupin-bot demo-data`.

Everything here is invented: the region names carry 示范/演示/样例/试点 so nobody mistakes
them for real places, household heads and cadres have made-up names, there are no ID
numbers and the phone numbers are not real (the 000 block).

Dates are computed relative to `today` (a local date in the configured zone), so the
data stays "live": some plan items are overdue, some are due in the coming days, some
are done. Loading is an idempotent upsert keyed on natural keys (户编号, 干部编号,
(household, title) for plan items, (cadre, household, notes) for visits): running it
again refreshes the demo rows to their defined state and never duplicates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.work.cadence import refresh_pairings
from bot.work.rules import Rules, load_rules
from bot.work.workdays import add_working_days
from storage.enums import (
    CadreLevel,
    HardshipCategory,
    HouseholdStatus,
    HousingGrade,
    MilestoneCategory,
    PovertyCause,
    SupportMeasure,
    VisitConfirmation,
    VisitKind,
)
from storage.models import Cadre, HardshipRequest, Household, Milestone, Pairing, Region, Visit
from storage.repositories.regions import PROVINCE_NAME, SEPARATOR, RegionRepository

DEMO_TZ = ZoneInfo("Asia/Shanghai")
C = PovertyCause
M = SupportMeasure
S = HouseholdStatus
G = HousingGrade
L = CadreLevel
K = MilestoneCategory

CITY = "示范市"
COUNTY = "示范县"
COUNTY_PATH = SEPARATOR.join((PROVINCE_NAME, CITY, COUNTY))

# township → villages
TOWNSHIPS: dict[str, tuple[str, ...]] = {
    "演示镇": ("演示东村", "演示西村"),
    "样例乡": ("样例南村", "样例北村"),
    "试点镇": ("试点前村", "试点后村"),
}

# The records the sandbox personas are bound to.
PERSONA_HOUSEHOLD_REG_NO = "DEMO-H001"
PERSONA_CADRE_CODE = "DEMO-C02"
SUPERVISOR_CADRE_CODE = "DEMO-C01"
REG_NO_PREFIX = "DEMO-H"
CADRE_CODE_PREFIX = "DEMO-C"


@dataclass(frozen=True)
class DemoHousehold:
    reg_no: str
    head_name: str
    township: str
    village: str
    members: int
    causes: PovertyCause
    measure: SupportMeasure | None
    status: HouseholdStatus
    income: str | None
    students: int = 0
    disabled: int = 0
    housing: HousingGrade | None = None
    dibao: bool = False
    phone: str | None = None


@dataclass(frozen=True)
class DemoCadre:
    code: str
    name: str
    unit: str
    post: str
    level: CadreLevel
    region: tuple[str, ...]  # names below the province
    supervisor: str | None = None
    phone: str | None = None


# (household reg_no, cadre code, start offset in days, end offset in days or None)
PAIRINGS: tuple[tuple[str, str, int, int | None], ...] = (
    ("DEMO-H001", "DEMO-C02", -420, None),
    ("DEMO-H002", "DEMO-C02", -420, None),
    ("DEMO-H003", "DEMO-C03", -400, -120),  # ended: the cadre was reassigned
    ("DEMO-H003", "DEMO-C02", -120, None),
    ("DEMO-H004", "DEMO-C02", -380, None),
    ("DEMO-H005", "DEMO-C02", -300, None),
    ("DEMO-H006", "DEMO-C03", -410, None),
    ("DEMO-H007", "DEMO-C03", -410, None),
    ("DEMO-H008", "DEMO-C03", -350, None),
    ("DEMO-H009", "DEMO-C03", -350, None),
    ("DEMO-H010", "DEMO-C04", -330, None),
    ("DEMO-H011", "DEMO-C04", -330, None),
    ("DEMO-H012", "DEMO-C04", -200, None),
    ("DEMO-H013", "DEMO-C04", -200, None),
    ("DEMO-H014", "DEMO-C05", -390, None),
    ("DEMO-H015", "DEMO-C05", -390, None),
    ("DEMO-H016", "DEMO-C05", -250, None),
    ("DEMO-H017", "DEMO-C01", -400, None),
    ("DEMO-H018", "DEMO-C05", -90, None),
    # DEMO-H019 and DEMO-H020 are not paired yet (待结对).
)

# (household reg_no, category, title, due offset in days, done offset in days or None)
MILESTONES: tuple[tuple[str, MilestoneCategory, str, int, int | None], ...] = (
    ("DEMO-H001", K.MEDICAL_INSURANCE, "缴纳城乡居民医疗保险", -40, -45),
    ("DEMO-H001", K.INDUSTRY, "申请产业扶持资金发展庭院养殖", -10, None),
    ("DEMO-H001", K.HOUSING, "完成C级危房改造", 5, None),
    ("DEMO-H002", K.EDUCATION, "申请雨露计划助学补助", -20, -25),
    ("DEMO-H002", K.EMPLOYMENT, "参加县人社局技能培训", 12, None),
    ("DEMO-H003", K.HOUSING, "完成D级危房改造（拆除重建）", -30, None),
    ("DEMO-H003", K.SOCIAL_SECURITY, "低保年度复核", 3, None),
    ("DEMO-H004", K.INCOME, "核实家庭年度人均纯收入", -60, -58),
    ("DEMO-H004", K.DRINKING_WATER, "自来水入户及水质检测", 20, None),
    ("DEMO-H005", K.MEDICAL_INSURANCE, "办理慢性病门诊证", -3, None),
    ("DEMO-H006", K.INDUSTRY, "加入村食用菌合作社", -90, -100),
    ("DEMO-H006", K.INCOME, "核实家庭年度人均纯收入", 30, None),
    ("DEMO-H007", K.EDUCATION, "落实义务教育阶段资助", 7, None),
    ("DEMO-H008", K.HOUSING, "完成C级危房改造", -14, None),
    ("DEMO-H009", K.EMPLOYMENT, "安排村级公益性岗位", -50, -55),
    ("DEMO-H010", K.SOCIAL_SECURITY, "纳入农村低保", -80, -85),
    ("DEMO-H010", K.MEDICAL_INSURANCE, "大病保险二次报销", 2, None),
    ("DEMO-H011", K.DRINKING_WATER, "自来水入户及水质检测", -5, None),
    ("DEMO-H012", K.INDUSTRY, "申请小额信贷发展肉牛养殖", 10, None),
    ("DEMO-H013", K.EDUCATION, "申请雨露计划助学补助", -120, -125),
    ("DEMO-H014", K.EMPLOYMENT, "转移就业：联系县内企业岗位", 14, None),
    ("DEMO-H015", K.HOUSING, "完成D级危房改造（拆除重建）", 45, None),
    ("DEMO-H016", K.OTHER, "办理残疾人证及两项补贴", -7, None),
    ("DEMO-H017", K.INCOME, "核实家庭年度人均纯收入", -200, -210),
    ("DEMO-H018", K.SOCIAL_SECURITY, "低保年度复核", 6, None),
)

# (household reg_no, cadre code, visited offset in days, kind, confirmation, rating, notes)
VISITS: tuple[tuple[str, str, int, VisitKind, VisitConfirmation, int | None, str], ...] = (
    ("DEMO-H001", "DEMO-C02", -30, VisitKind.HOME, VisitConfirmation.CONFIRMED, 5,
     "【演示】入户了解庭院养殖准备情况"),
    ("DEMO-H001", "DEMO-C02", -3, VisitKind.PHONE, VisitConfirmation.PENDING, None,
     "【演示】电话询问危房改造施工进度"),
    ("DEMO-H002", "DEMO-C02", -15, VisitKind.HOME, VisitConfirmation.CONFIRMED, 4,
     "【演示】核实学生在校情况"),
    ("DEMO-H003", "DEMO-C03", -150, VisitKind.HOME, VisitConfirmation.NOT_ASKED, None,
     "【演示】首次入户登记家庭情况"),
    ("DEMO-H003", "DEMO-C02", -8, VisitKind.HOME, VisitConfirmation.DENIED, None,
     "【演示】入户查看房屋安全"),
    ("DEMO-H006", "DEMO-C03", -40, VisitKind.MEETING, VisitConfirmation.EXPIRED, None,
     "【演示】合作社集中宣讲产业政策"),
    ("DEMO-H010", "DEMO-C04", -12, VisitKind.HOME, VisitConfirmation.NOT_ASKED, None,
     "【演示】协助准备大病保险报销材料"),
    ("DEMO-H014", "DEMO-C05", -5, VisitKind.PHONE, VisitConfirmation.NOT_ASKED, None,
     "【演示】电话推荐县内企业岗位"),
)

# (household reg_no, category, text, filed offset in days, acknowledged offset, resolved offset, outcome)
HARDSHIPS: tuple[tuple[str, HardshipCategory, str, int, int | None, int | None, str | None], ...] = (
    ("DEMO-H001", HardshipCategory.ILLNESS, "【演示】户主住院，医药费负担重", -1, None, None, None),
    ("DEMO-H003", HardshipCategory.HOUSING_DAMAGE, "【演示】大风刮坏了房顶", -9, None, None, None),
    ("DEMO-H005", HardshipCategory.SCHOOL_COSTS, "【演示】孩子考上高中，学费凑不齐", -20, -19, -6,
     "【演示】已落实普通高中免学杂费和国家助学金"),
)

HOUSEHOLDS: tuple[DemoHousehold, ...] = (
    DemoHousehold("DEMO-H001", "张示范", "演示镇", "演示东村", 4, C.ILLNESS | C.LACK_FUNDS,
                  M.PRODUCTION, S.NOT_LIFTED, "3200.00", students=1, housing=G.C, phone="13000000001"),
    DemoHousehold("DEMO-H002", "李演示", "演示镇", "演示东村", 5, C.SCHOOLING, M.EDUCATION,
                  S.NOT_LIFTED, "2900.00", students=2, housing=G.B),
    DemoHousehold("DEMO-H003", "王样例", "演示镇", "演示西村", 2, C.DISABILITY | C.LACK_LABOUR,
                  M.SOCIAL_SECURITY, S.NOT_LIFTED, "2100.00", disabled=1, housing=G.D, dibao=True),
    DemoHousehold("DEMO-H004", "赵试点", "演示镇", "演示西村", 3, C.LACK_SKILLS, M.PRODUCTION,
                  S.LIFTED, "5600.00", housing=G.A),
    DemoHousehold("DEMO-H005", "刘示范", "演示镇", "演示西村", 1, C.ILLNESS, M.MEDICAL,
                  S.NOT_LIFTED, "2400.00", housing=G.B, dibao=True),
    DemoHousehold("DEMO-H006", "陈演示", "样例乡", "样例南村", 4, C.LACK_FUNDS | C.LACK_SKILLS,
                  M.PRODUCTION, S.LIFTED, "6100.00", housing=G.A),
    DemoHousehold("DEMO-H007", "杨样例", "样例乡", "样例南村", 6, C.SCHOOLING | C.LACK_LAND,
                  M.EDUCATION, S.NOT_LIFTED, "2700.00", students=3, housing=G.B),
    DemoHousehold("DEMO-H008", "黄试点", "样例乡", "样例南村", 3, C.DISASTER, M.CASE_BY_CASE,
                  S.RETURNED, "2300.00", housing=G.C),
    DemoHousehold("DEMO-H009", "周示范", "样例乡", "样例北村", 2, C.LACK_LABOUR, M.PRODUCTION,
                  S.LIFTED, "4800.00", housing=G.A),
    DemoHousehold("DEMO-H010", "吴演示", "样例乡", "样例北村", 3, C.ILLNESS | C.DISABILITY,
                  M.SOCIAL_SECURITY, S.NOT_LIFTED, "1900.00", disabled=1, housing=G.B, dibao=True),
    DemoHousehold("DEMO-H011", "徐样例", "样例乡", "样例北村", 4, C.LACK_WATER | C.POOR_TRANSPORT,
                  M.ECOLOGY, S.NOT_LIFTED, "3000.00", students=1, housing=G.B),
    DemoHousehold("DEMO-H012", "孙试点", "试点镇", "试点前村", 5, C.LACK_FUNDS, M.PRODUCTION,
                  S.NOT_LIFTED, "3300.00", students=1, housing=G.A),
    DemoHousehold("DEMO-H013", "马示范", "试点镇", "试点前村", 3, C.SCHOOLING, M.EDUCATION,
                  S.LIFTED, "5200.00", students=1, housing=G.A),
    DemoHousehold("DEMO-H014", "朱演示", "试点镇", "试点前村", 2, C.LACK_MOTIVATION | C.LACK_SKILLS,
                  M.PRODUCTION, S.NOT_LIFTED, "2600.00", housing=G.B),
    DemoHousehold("DEMO-H015", "胡样例", "试点镇", "试点后村", 3, C.POOR_TRANSPORT | C.DISASTER,
                  M.RELOCATION, S.NOT_LIFTED, "2500.00", housing=G.D),
    DemoHousehold("DEMO-H016", "郭试点", "试点镇", "试点后村", 2, C.DISABILITY, M.SOCIAL_SECURITY,
                  S.NOT_LIFTED, "2000.00", disabled=2, housing=G.C, dibao=True),
    DemoHousehold("DEMO-H017", "何示范", "演示镇", "演示东村", 4, C.LACK_LAND, M.PRODUCTION,
                  S.LIFTED, "7300.00", students=1, housing=G.A),
    DemoHousehold("DEMO-H018", "高演示", "试点镇", "试点后村", 1, C.ILLNESS | C.LACK_LABOUR,
                  M.MEDICAL, S.RETURNED, "1800.00", housing=G.B, dibao=True),
    DemoHousehold("DEMO-H019", "林样例", "样例乡", "样例南村", 3, C.LACK_FUNDS, None,
                  S.NOT_LIFTED, None, housing=G.B),
    DemoHousehold("DEMO-H020", "罗试点", "试点镇", "试点后村", 2, C(0), None, S.NOT_LIFTED, None),
)

CADRES: tuple[DemoCadre, ...] = (
    DemoCadre("DEMO-C01", "赵督导", "示范县扶贫开发办公室", "主任", L.COUNTY, (CITY, COUNTY),
              phone="13000000101"),
    DemoCadre("DEMO-C02", "钱帮扶", "演示镇人民政府", "副镇长", L.TOWNSHIP, (CITY, COUNTY, "演示镇"),
              supervisor="DEMO-C01", phone="13000000102"),
    DemoCadre("DEMO-C03", "孙帮扶", "示范县农业农村局", "科员", L.COUNTY, (CITY, COUNTY),
              supervisor="DEMO-C01"),
    DemoCadre("DEMO-C04", "李书记", "样例南村村民委员会", "驻村第一书记", L.VILLAGE,
              (CITY, COUNTY, "样例乡", "样例南村"), supervisor="DEMO-C01"),
    DemoCadre("DEMO-C05", "周帮扶", "示范市人力资源和社会保障局", "科长", L.CITY, (CITY,),
              supervisor="DEMO-C01"),
)


@dataclass
class DemoSummary:
    """What the demo data set holds after loading (totals of demo rows, not only new ones)."""

    county_path: str = COUNTY_PATH
    county_id: int = 0
    townships: int = 0
    villages: int = 0
    households: int = 0
    cadres: int = 0
    pairings: int = 0
    active_pairings: int = 0
    milestones: int = 0
    overdue_milestones: int = 0
    visits: int = 0
    created: int = 0
    updated: int = 0
    persona_household_id: int = 0
    persona_cadre_id: int = 0
    household_ids: dict[str, int] = field(default_factory=dict, repr=False)
    cadre_ids: dict[str, int] = field(default_factory=dict, repr=False)

    def line(self) -> str:
        return (
            f"demo data in {self.county_path}: {self.townships} townships, {self.villages} villages, "
            f"{self.households} households, {self.cadres} cadres, {self.pairings} pairings "
            f"({self.active_pairings} active), {self.milestones} plan items "
            f"({self.overdue_milestones} overdue), {self.visits} visits "
            f"({self.created} rows created, {self.updated} updated)"
        )


def _at(day: date) -> datetime:
    """An aware UTC timestamp on the given day (mid-morning Beijing time)."""
    return datetime.combine(day, time(2, 0), tzinfo=UTC)


def _assign(obj: object, values: dict[str, object]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


async def load_demo_data(session: AsyncSession, today: date, rules: Rules | None = None) -> DemoSummary:
    """Create or refresh the demo county in the session's transaction and commit it
    (`rules`: the cadence rules for deadlines and next visits; default: the shipped ones)."""
    rules = rules if rules is not None else load_rules()
    summary = DemoSummary()
    regions = RegionRepository(session)
    county = await regions.ensure_chain([CITY, COUNTY])
    summary.county_id = county.id
    villages: dict[str, Region] = {}
    for township, names in TOWNSHIPS.items():
        for name in names:
            villages[name] = await regions.ensure_chain([CITY, COUNTY, township, name])
    summary.townships = len(TOWNSHIPS)
    summary.villages = len(villages)

    def count(created: bool, changed: bool) -> None:
        if created:
            summary.created += 1
        elif changed:
            summary.updated += 1

    # Households, keyed on 户编号.
    households: dict[str, Household] = {}
    existing = {
        h.reg_no: h
        for h in await session.scalars(
            select(Household).where(Household.reg_no.in_([d.reg_no for d in HOUSEHOLDS]))
        )
    }
    for spec in HOUSEHOLDS:
        row = existing.get(spec.reg_no)
        created = row is None
        if row is None:
            row = Household(reg_no=spec.reg_no)
            session.add(row)
        changed = _assign(
            row,
            {
                "head_name": spec.head_name,
                "village_id": villages[spec.village].id,
                "members": spec.members,
                "causes": spec.causes,
                "measure": spec.measure,
                "status": spec.status,
                "income_per_capita": Decimal(spec.income) if spec.income else None,
                "income_year": today.year - 1 if spec.income else None,
                "students": spec.students,
                "disabled": spec.disabled,
                "housing_grade": spec.housing,
                "dibao": spec.dibao,
                "phone": spec.phone,
                "id_hash": None,
                "id_last4": None,
            },
        )
        count(created, changed)
        households[spec.reg_no] = row
    await session.flush()

    # Cadres, keyed on 干部编号; supervisors are set after every cadre has an id.
    cadres: dict[str, Cadre] = {}
    cadre_state: dict[str, tuple[bool, bool]] = {}
    existing_cadres = {
        c.code: c
        for c in await session.scalars(select(Cadre).where(Cadre.code.in_([d.code for d in CADRES])))
    }
    for spec in CADRES:
        region = await regions.ensure_chain(list(spec.region))
        row = existing_cadres.get(spec.code)
        created = row is None
        if row is None:
            row = Cadre(code=spec.code)
            session.add(row)
        changed = _assign(
            row,
            {
                "name": spec.name,
                "unit": spec.unit,
                "post": spec.post,
                "level": spec.level,
                "phone": spec.phone,
                "region_id": region.id,
            },
        )
        cadres[spec.code] = row
        cadre_state[spec.code] = (created, changed)
    await session.flush()
    for spec in CADRES:
        supervisor_id = cadres[spec.supervisor].id if spec.supervisor else None
        created, changed = cadre_state[spec.code]
        changed = _assign(cadres[spec.code], {"supervisor_id": supervisor_id}) or changed
        count(created, changed)
    await session.flush()

    # Pairings, keyed on (household, cadre, open or ended).
    hh_ids = [h.id for h in households.values()]
    pairings = list(await session.scalars(select(Pairing).where(Pairing.household_id.in_(hh_ids))))
    for reg_no, code, start, end in PAIRINGS:
        hh, cadre = households[reg_no], cadres[code]
        is_open = end is None
        match = next(
            (
                p
                for p in pairings
                if p.household_id == hh.id and p.cadre_id == cadre.id and (p.end_date is None) == is_open
            ),
            None,
        )
        values = {
            "start_date": today + timedelta(days=start),
            "end_date": None if end is None else today + timedelta(days=end),
        }
        if match is not None:
            count(False, _assign(match, values))
            continue
        if is_open and any(p.household_id == hh.id and p.end_date is None for p in pairings):
            continue  # someone re-paired this household since: keep their pairing
        row = Pairing(household_id=hh.id, cadre_id=cadre.id, **values)
        session.add(row)
        pairings.append(row)
        count(True, False)
    await session.flush()

    # Plan items, keyed on (household, title) like the schema's unique constraint.
    milestones = {
        (m.household_id, m.title): m
        for m in await session.scalars(select(Milestone).where(Milestone.household_id.in_(hh_ids)))
    }
    for reg_no, category, title, due, done in MILESTONES:
        hh = households[reg_no]
        row = milestones.get((hh.id, title))
        created = row is None
        if row is None:
            row = Milestone(household_id=hh.id, title=title)
            session.add(row)
            milestones[(hh.id, title)] = row
        done_day = None if done is None else today + timedelta(days=done)
        changed = _assign(
            row,
            {
                "category": category,
                "due_date": today + timedelta(days=due),
                "completed_at": None if done_day is None else _at(done_day),
                "evidence_text": "【演示】已上传办理回执" if done_day else None,
            },
        )
        count(created, changed)
    await session.flush()

    # Visits, keyed on (cadre, household, notes): the demo notes are unique.
    visits = {
        (v.cadre_id, v.household_id, v.notes): v
        for v in await session.scalars(select(Visit).where(Visit.household_id.in_(hh_ids)))
    }
    for reg_no, code, offset, kind, confirmation, rating, notes in VISITS:
        hh, cadre = households[reg_no], cadres[code]
        row = visits.get((cadre.id, hh.id, notes))
        created = row is None
        if row is None:
            row = Visit(cadre_id=cadre.id, household_id=hh.id, notes=notes)
            session.add(row)
            visits[(cadre.id, hh.id, notes)] = row
        visited_on = today + timedelta(days=offset)
        confirmed = confirmation in (VisitConfirmation.CONFIRMED, VisitConfirmation.DENIED)
        changed = _assign(
            row,
            {
                "visited_on": visited_on,
                "kind": kind,
                "confirmation": confirmation,
                "rating": rating,
                "confirmed_at": _at(visited_on + timedelta(days=1)) if confirmed else None,
                "confirm_due_at": (
                    _at(visited_on + timedelta(days=rules.confirmation.answer_within_days))
                    if confirmation is not VisitConfirmation.NOT_ASKED
                    else None
                ),
                "flagged": confirmation in (VisitConfirmation.DENIED, VisitConfirmation.EXPIRED),
                "flagged_at": (
                    _at(visited_on + timedelta(days=rules.confirmation.answer_within_days))
                    if confirmation in (VisitConfirmation.DENIED, VisitConfirmation.EXPIRED)
                    else None
                ),
            },
        )
        count(created, changed)
    await session.flush()

    # Hardship requests, keyed on (household, text); deadlines in working days as the bot sets them.
    requests = {
        (r.household_id, r.text): r
        for r in await session.scalars(select(HardshipRequest).where(HardshipRequest.household_id.in_(hh_ids)))
    }
    open_cadre = {p.household_id: p.cadre_id for p in pairings if p.end_date is None}
    hardship = rules.hardship
    for reg_no, category, text, filed, acked, resolved, outcome in HARDSHIPS:
        hh = households[reg_no]
        row = requests.get((hh.id, text))
        created = row is None
        if row is None:
            row = HardshipRequest(household_id=hh.id, text=text)
            session.add(row)
        filed_at = _at(today + timedelta(days=filed))
        acked_at = None if acked is None else _at(today + timedelta(days=acked))
        changed = _assign(
            row,
            {
                "cadre_id": open_cadre.get(hh.id),
                "category": category,
                "created_at": filed_at,
                "ack_due_at": add_working_days(filed_at, hardship.acknowledge_working_days, DEMO_TZ),
                "acknowledged_at": acked_at,
                "outcome_due_at": add_working_days(
                    acked_at or filed_at,
                    hardship.outcome_working_days + (0 if acked_at else hardship.acknowledge_working_days),
                    DEMO_TZ,
                ),
                "resolved_at": None if resolved is None else _at(today + timedelta(days=resolved)),
                "outcome": outcome,
            },
        )
        count(created, changed)
    await session.flush()
    # next visit due of every demo pairing, as the bot keeps it after each visit
    await refresh_pairings(session, rules.visits, household_ids=hh_ids)

    summary.household_ids = {k: v.id for k, v in households.items()}
    summary.cadre_ids = {k: v.id for k, v in cadres.items()}
    summary.persona_household_id = households[PERSONA_HOUSEHOLD_REG_NO].id
    summary.persona_cadre_id = cadres[PERSONA_CADRE_CODE].id
    summary.households = len(households)
    summary.cadres = len(cadres)
    all_pairings = [p for p in pairings if p.household_id in set(hh_ids)]
    summary.pairings = len(all_pairings)
    summary.active_pairings = sum(1 for p in all_pairings if p.end_date is None)
    summary.milestones = len(milestones)
    summary.overdue_milestones = sum(1 for m in milestones.values() if m.is_overdue(today))
    summary.visits = len(visits)
    await session.commit()
    return summary


async def has_demo_data(session: AsyncSession) -> bool:
    """True when the demo persona's household exists."""
    found = await session.scalar(select(Household.id).where(Household.reg_no == PERSONA_HOUSEHOLD_REG_NO))
    return found is not None


async def is_empty(session: AsyncSession) -> bool:
    """True when the registry has no households and no cadres at all."""
    households = await session.scalar(select(func.count()).select_from(Household))
    cadres = await session.scalar(select(func.count()).select_from(Cadre))
    return not households and not cadres
