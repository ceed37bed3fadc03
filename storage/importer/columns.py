"""Column specifications of the four import kinds: Chinese headers of real registry
exports, English aliases, whether a column is required, and documentation strings.

`Presence`:
- REQUIRED: the header must be present and every cell filled;
- REQUIRED_HEADER: the header must be present, a cell may be empty (meaning documented);
- OPTIONAL: the header may be missing (existing values are then left as they are) and a
  cell may be empty.

Headers are matched after `normalize_header`: whitespace, brackets and 、 are removed and
English is lower-cased, so '县(市、区)', '县（市区）' and '县市区' are the same header, and
'Reg No', 'reg-no' and 'reg_no' are the same alias.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Presence(StrEnum):
    REQUIRED = "required"
    REQUIRED_HEADER = "required_header"
    OPTIONAL = "optional"


@dataclass(frozen=True)
class Column:
    key: str  # field name in the parsed record
    header: str  # the Chinese header of real exports
    alias: str  # the English alias
    presence: Presence
    fmt: str  # human description of the format (for docs/import-formats.md)
    example: str
    alternatives: tuple[str, ...] = ()  # other headers seen in exports

    @property
    def header_required(self) -> bool:
        return self.presence is not Presence.OPTIONAL

    @property
    def value_required(self) -> bool:
        return self.presence is Presence.REQUIRED


@dataclass(frozen=True)
class KindSpec:
    kind: str
    title: str
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    ignored_headers: tuple[str, ...] = ("序号", "no", "编号序号")

    def by_key(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def lookup(self) -> dict[str, Column]:
        """Normalized header/alias → column."""
        table: dict[str, Column] = {}
        for col in self.columns:
            for name in (col.header, col.alias, col.key, *col.alternatives):
                table[normalize_header(name)] = col
        return table


_STRIP_RE = re.compile(r"[\s()（）【】\[\]、*＊:：]+")


def normalize_header(raw: object) -> str:
    text = "" if raw is None else str(raw)
    text = text.replace("\ufeff", "").strip().lower()
    text = _STRIP_RE.sub("", text)
    return text.replace("-", "_").replace(".", "")


_CITY = Column(
    "city", "市州", "city", Presence.REQUIRED,
    "city-level division of Jilin (see the list below) or one that exists in the database",
    "白山市", ("市(州)", "市/州", "市"),
)
_COUNTY = Column(
    "county", "县市区", "county", Presence.REQUIRED,
    "county, county-level city or district; created on first use", "示例县",
    ("县(市、区)", "县(市区)", "县区", "县"),
)

HOUSEHOLDS = KindSpec(
    "households",
    "Households (建档立卡贫困户)",
    (
        Column("reg_no", "户编号", "reg_no", Presence.REQUIRED,
               "registry number, up to 32 characters, unique", "EX2206990001",
               ("户码", "贫困户编号")),
        Column("head_name", "户主姓名", "head_name", Presence.REQUIRED,
               "name of the head of household, up to 64 characters", "张示例", ("户主",)),
        Column("id_number", "身份证号", "id_number", Presence.OPTIONAL,
               "18-character national ID number of the head (GB 11643 check digit, X allowed); "
               "stored only as a keyed hash and the last 4 characters",
               "220699196803150014", ("身份证号码", "户主身份证号", "证件号码")),
        Column("phone", "联系电话", "phone", Presence.OPTIONAL,
               "mobile or landline number (digits, optional +, -, spaces)", "13900000001",
               ("电话", "手机号", "联系方式")),
        _CITY,
        _COUNTY,
        Column("township", "乡镇", "township", Presence.REQUIRED,
               "township (乡/镇/街道); created on first use", "示例镇", ("乡(镇)", "乡镇街道")),
        Column("village", "行政村", "village", Presence.REQUIRED,
               "administrative village; created on first use", "示例一村", ("村",)),
        Column("members", "家庭人口", "members", Presence.REQUIRED,
               "household size, integer ≥ 1", "3", ("家庭人口数", "人口数")),
        Column("causes", "致贫原因", "causes", Presence.REQUIRED,
               "one or more causes separated by 、 or , or ，", "因病、缺资金",
               ("主要致贫原因",)),
        Column("measure", "帮扶措施", "measure", Presence.REQUIRED_HEADER,
               "one of the seven batches (七个一批); empty = not decided yet", "发展生产",
               ("主要帮扶措施",)),
        Column("income_per_capita", "人均纯收入", "income_per_capita", Presence.REQUIRED_HEADER,
               "yuan per person and year, ≥ 0, up to 2 decimals; thousands separators and a "
               "trailing 元 are accepted; empty = unknown",
               "3,560.50元", ("人均纯收入(元)", "年人均纯收入", "人均纯收入元")),
        Column("income_year", "收入年度", "income_year", Presence.REQUIRED_HEADER,
               "year of the income figure (1990-2100); empty = unknown", "2025", ("年度",)),
        Column("status", "脱贫状态", "status", Presence.REQUIRED,
               "未脱贫, 已脱贫 or 返贫", "未脱贫", ("贫困户状态", "状态")),
        Column("students", "在校学生数", "students", Presence.REQUIRED_HEADER,
               "integer ≥ 0; empty = 0", "1", ("在校生人数", "在校生数")),
        Column("disabled", "残疾人数", "disabled", Presence.REQUIRED_HEADER,
               "integer ≥ 0; empty = 0", "0", ("残疾人口数",)),
        Column("housing_grade", "危房等级", "housing_grade", Presence.REQUIRED_HEADER,
               "A, B, C or D (C and D are dilapidated); empty = not assessed", "C",
               ("住房等级", "房屋等级")),
        Column("dibao", "享受低保", "dibao", Presence.REQUIRED_HEADER,
               "是 or 否 (also yes/no, true/false, 1/0); empty = 否", "否",
               ("是否享受低保", "低保")),
    ),
    ("reg_no",),
)

CADRES = KindSpec(
    "cadres",
    "Cadres (帮扶干部)",
    (
        Column("code", "干部编号", "code", Presence.REQUIRED,
               "cadre number, up to 32 characters, unique", "EXGB001", ("干部代码",)),
        Column("name", "姓名", "name", Presence.REQUIRED, "name, up to 64 characters", "孙示例",
               ("干部姓名",)),
        Column("unit", "单位", "unit", Presence.REQUIRED_HEADER,
               "employer unit, up to 128 characters; empty allowed", "示例县乡村振兴局",
               ("工作单位", "所在单位")),
        Column("post", "职务", "post", Presence.REQUIRED_HEADER,
               "post, up to 64 characters; empty allowed", "局长"),
        Column("level", "级别", "level", Presence.REQUIRED,
               "省, 市, 县, 乡 or 村 (a trailing 级 is accepted: 县级)", "县", ("干部级别", "层级")),
        Column("phone", "联系电话", "phone", Presence.REQUIRED_HEADER,
               "mobile or landline number; empty allowed", "13800000001",
               ("电话", "手机号", "联系方式")),
        _CITY,
        _COUNTY,
        Column("supervisor_code", "上级编号", "supervisor_code", Presence.OPTIONAL,
               "干部编号 of the supervising cadre: in the same file (also further down) or "
               "already in the database; empty = none", "EXGB001", ("上级干部编号",)),
        Column("leader_village", "联系点", "leader_village", Presence.OPTIONAL,
               "the village a unit leader must visit (visit-cadence rules), as 市州/县市区/乡镇/行政村 "
               "(吉林省/ in front is accepted); the village must already be in the database "
               "(import households first); empty = none", "白山市/示例县/示例镇/示例一村",
               ("联系村", "帮扶联系点")),
    ),
    ("code",),
)

PAIRINGS = KindSpec(
    "pairings",
    "Pairings (结对帮扶)",
    (
        Column("cadre_code", "干部编号", "cadre_code", Presence.REQUIRED,
               "干部编号 of a cadre in the database", "EXGB003"),
        Column("reg_no", "户编号", "reg_no", Presence.REQUIRED,
               "户编号 of a household in the database", "EX2206990001", ("户码",)),
        Column("start_date", "开始日期", "start_date", Presence.REQUIRED,
               "date: 2026-03-01, 2026/3/1, 2026.3.1, 2026年3月1日 or an Excel date cell",
               "2025-01-06", ("结对日期", "帮扶开始日期")),
    ),
    ("cadre_code", "reg_no", "start_date"),
)

MILESTONES = KindSpec(
    "milestones",
    "Milestones (帮扶计划事项)",
    (
        Column("reg_no", "户编号", "reg_no", Presence.REQUIRED,
               "户编号 of a household in the database", "EX2206990001", ("户码",)),
        Column("title", "事项", "title", Presence.REQUIRED,
               "the plan item, up to 200 characters; unique per household", "危房改造竣工验收",
               ("帮扶事项", "计划事项")),
        Column("category", "类别", "category", Presence.REQUIRED,
               "a milestone category label (see below)", "住房安全", ("事项类别",)),
        Column("due_date", "截止日期", "due_date", Presence.REQUIRED,
               "date, same formats as 开始日期", "2026年9月30日", ("完成时限", "截止时间")),
        Column("status", "状态", "status", Presence.REQUIRED_HEADER,
               "未完成 or 已完成 (also open/done); empty = 未完成", "未完成", ("完成情况",)),
    ),
    ("reg_no", "title"),
)

SPECS: dict[str, KindSpec] = {s.kind: s for s in (HOUSEHOLDS, CADRES, PAIRINGS, MILESTONES)}
KINDS: tuple[str, ...] = tuple(SPECS)


# The city-level divisions (市州) of Jilin accepted in 市州 columns: the nine cities and
# prefectures plus the units the policy document lists next to them (长白山管委会 for the
# 长白山 development area, and the directly administered 梅河口市 and 公主岭市). Any city
# that already exists in the regions table is accepted too.
JILIN_CITIES: tuple[str, ...] = (
    "长春市", "吉林市", "四平市", "辽源市", "通化市", "白山市", "松原市", "白城市",
    "延边朝鲜族自治州", "长白山管委会", "梅河口市", "公主岭市",
)
CITY_ALIASES: dict[str, str] = {
    **{name.removesuffix("市"): name for name in JILIN_CITIES if name.endswith("市") and name != "吉林市"},
    "延边州": "延边朝鲜族自治州",
    "延边": "延边朝鲜族自治州",
    "长白山开发区": "长白山管委会",
    "长白山保护开发区": "长白山管委会",
    "长白山管理委员会": "长白山管委会",
    "长白山保护开发区管理委员会": "长白山管委会",
}
