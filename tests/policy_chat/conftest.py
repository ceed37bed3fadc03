"""Fixtures for the chat side of policy answers: a small fixture corpus, the bot on it, people.

The corpus is built from the policy document itself (its 7 chapters and 40 sections,
verbatim) with short synthetic answers, and questions chosen for the tests; section (四十)
is padded to over 9,000 characters to exercise splitting of 原文.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

from bot.policy.seed import split_document
from bot.policy.service import PolicyService
from storage.enums import CadreLevel, HouseholdStatus, HousingGrade, PovertyCause, Role, SupportMeasure
from storage.models import Account, Cadre, Household, Pairing
from storage.repositories.regions import RegionRepository
from tests.e2e.conftest import app, emulator, tg  # noqa: F401

# The policy document lies in ../shared/seed beside the repository (as on CI); without it
# the fixture corpus falls back to the texts kept in the corpus files.
DOCUMENT: Path | None = Path(__file__).resolve().parents[2].parent / "shared/seed/000_43a4c4d0f0703f6b.txt"
if not DOCUMENT.exists():
    DOCUMENT = None

LONG_SECTION = 40

TOPICS = [
    ("production", "发展生产与就业", "생산·취업 지원", "Production and jobs"),
    ("relocation", "易地搬迁", "이주 지원", "Relocation"),
    ("ecology", "生态保护", "생태 보호", "Ecological protection"),
    ("education", "教育", "교육", "Education"),
    ("medical", "看病就医", "의료", "Medical care"),
    ("social_security", "低保与兜底", "최저생활보장", "Subsistence allowance"),
    ("case_by_case", "突发困难与一事一议", "갑작스러운 어려움", "Sudden hardship"),
    ("finance", "贷款与金融", "대출·금융", "Loans and finance"),
    ("housing", "住房与危房改造", "주택·위험주택 개조", "Housing repair"),
    ("water", "饮水与水利", "식수·수리", "Water"),
    ("power", "用电", "전기", "Electricity"),
    ("roads", "道路交通", "도로·교통", "Roads"),
    ("internet", "网络与电商", "인터넷·전자상거래", "Internet and e-commerce"),
    ("land", "土地", "토지", "Land"),
    ("agriculture", "农业产业", "농업·특산업", "Farming"),
    ("living_environment", "村容与文化", "마을 환경·문화", "Village life and culture"),
    ("cadres", "干部帮扶责任", "간부 지원 책임", "Cadres' duties"),
    ("assessment", "脱贫标准、考核与退出", "탈빈곤 기준·평가", "Standards, assessment and exit"),
    ("funds", "扶贫资金与监督", "지원 자금·감독", "Funds and oversight"),
    ("general", "总体要求", "총체적 요구", "General aims"),
]

# 'production' has 9 sections: two pages of 8 in /topics.
TAGS: dict[int, list[str]] = {
    1: ["general"], 2: ["general"], 3: ["assessment"], 4: ["assessment"], 5: ["general"],
    6: ["production"], 7: ["relocation"], 8: ["ecology"], 9: ["education"], 10: ["medical"],
    11: ["social_security"], 12: ["case_by_case"], 13: ["roads"], 14: ["water"], 15: ["power"],
    16: ["housing"], 17: ["living_environment"], 18: ["production", "agriculture"],
    19: ["production"], 20: ["living_environment"], 21: ["production", "internet"], 22: ["general"],
    23: ["cadres"], 24: ["cadres"], 25: ["production"], 26: ["production"], 27: ["assessment"],
    28: ["assessment"], 29: ["assessment"], 30: ["assessment"], 31: ["funds"],
    32: ["finance", "production"], 33: ["land", "production"], 34: ["funds"],
    35: ["production", "finance"], 36: ["cadres"], 37: ["cadres"], 38: ["general"], 39: ["cadres"],
    40: ["general"],
}

# Answers the tests check verbatim (the rest are generic, without figures).
ANSWERS: dict[int, dict[str, str]] = {
    32: {
        "zh_Hans": "符合条件的建档立卡贫困户可以申请5万元以下、3年以内的信用贷款，不用抵押、不用担保，用于发展生产，财政给贴息。",
        "ko": "조건에 맞는 빈곤가구는 5만 위안 이하, 3년 이내의 신용대출을 담보·보증 없이 받을 수 있으며 정부가 이자를 지원합니다.",
        "en": "Eligible registered poor households can get a credit loan of up to 50,000 yuan for up to 3 years, "
              "with no collateral or guarantor, for production; the government subsidises the interest.",
    },
    10: {
        "zh_Hans": "贫困人口参加新农合，个人缴费部分给予补贴，并全部纳入重特大疾病救助范围。",
        "ko": "빈곤 인구가 신농합에 가입하면 개인 납부분을 보조해 주고, 중대질병 구조 범위에 모두 포함합니다.",
        "en": "Poor people joining the rural cooperative medical scheme get their own contribution subsidised.",
    },
}

QUESTIONS: dict[int, dict[str, list[str]]] = {
    32: {
        "zh_Hans": ["贷款要抵押吗", "扶贫贷款能贷多少钱", "小额信贷要不要担保"],
        "ko": ["대출 받을 때 담보가 필요해요?", "빈곤가구 대출은 얼마까지 돼요?"],
        "en": ["Do I need collateral for a loan?", "How much can a poor household borrow?"],
    },
    10: {
        "zh_Hans": ["看病能报多少", "住院费用能报销吗", "新农合个人缴费有补贴吗"],
        "ko": ["병원비는 얼마나 환급돼요?", "입원비 보험 처리가 돼요?"],
        "en": ["How much of my hospital bill is covered?", "Is the medical insurance fee subsidised?"],
    },
    9: {
        "zh_Hans": ["娃上高中要交学费不", "孩子上学有补助吗"],
        "ko": ["아이 고등학교 학비를 내야 해요?"],
        "en": ["Does my child have to pay high school tuition?"],
    },
}

FILLER = (
    "宣传工作要讲清楚政策<b>要点</b>&细节，让群众听得懂、记得住。"
    "各地要把好经验好做法总结出来，及时推广；"
    "要用群众喜闻乐见的形式开展宣传，营造全社会关心支持脱贫攻坚的浓厚氛围！"
)


def _long_text(text: str) -> str:
    """The section's text + paragraphs, one of them a single paragraph of > 4,096 characters."""
    paragraphs = [text]
    paragraphs.append(FILLER * 60)  # ~5,000 characters without a paragraph break
    while sum(len(p) + 1 for p in paragraphs) < 9_200:
        paragraphs.append(FILLER * 8)
    return "\n".join(paragraphs)


def _seed_parts() -> tuple[str, list[dict], list[dict]]:
    if DOCUMENT is not None:
        chapters, sections = split_document(DOCUMENT.read_text(encoding="utf-8"))
        title = "关于全面推进脱贫攻坚的实施意见"
        return (
            title,
            [{"number": c.number, "label": c.label, "title": c.title, "intro": "\n".join(c.intro)}
             for c in chapters],
            [{"number": s.number, "label": s.label, "chapter": s.chapter, "title": s.title, "text": s.text}
             for s in sections],
        )
    data = Path(__file__).resolve().parents[2] / "bot" / "policy" / "data"
    raw = yaml.safe_load((data / "chapters.yaml").read_text(encoding="utf-8"))
    sections = []
    for path in sorted((data / "sections").glob("*.yaml")):
        s = yaml.safe_load(path.read_text(encoding="utf-8"))
        sections.append({k: s[k] for k in ("number", "label", "chapter", "title", "text")})
    return raw["document"], raw["chapters"], sections


def _dump(path: Path, data: object) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")


def write_fixture_corpus(directory: Path) -> Path:
    document, chapters, sections = _seed_parts()
    (directory / "sections").mkdir(parents=True, exist_ok=True)
    _dump(directory / "chapters.yaml", {"document": document, "chapters": chapters})
    _dump(
        directory / "topics.yaml",
        {"topics": [{"id": i, "zh_Hans": zh, "ko": ko, "en": en} for i, zh, ko, en in TOPICS]},
    )
    for s in sections:
        n, label, title = s["number"], s["label"], s["title"]
        text = _long_text(s["text"]) if n == LONG_SECTION else s["text"]
        answer = ANSWERS.get(n) or {
            "zh_Hans": f"这一条（{label}）讲的是{title}。",
            "ko": f"이 조항({label})은 「{title}」에 관한 내용입니다.",
            "en": f"This section ({label}) is about: {title}.",
        }
        questions = QUESTIONS.get(n) or {
            "zh_Hans": [f"{title}是怎么规定的"],
            "ko": [f"{title} 규정이 뭐예요"],
            "en": [f"What does the policy say about {title}"],
        }
        _dump(
            directory / "sections" / f"{n:02d}.yaml",
            {
                "number": n,
                "label": label,
                "chapter": s["chapter"],
                "title": title,
                "text": text,
                "tags": TAGS[n],
                "answer": answer,
                "questions": questions,
                "keywords": {"zh_Hans": [title], "ko": [title], "en": [title]},
                "related": [],
            },
        )
    return directory


@pytest.fixture(scope="session")
def fixture_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fixture_corpus(tmp_path_factory.mktemp("corpus") / "data")


@pytest.fixture(scope="session")
def shared_policy(fixture_corpus: Path) -> PolicyService:
    return PolicyService(fixture_corpus)


@pytest.fixture
def policy(shared_policy: PolicyService) -> PolicyService:
    """The service the bot uses (shared: building an engine takes a moment). Tests that
    reload or break the corpus override this with `private_policy`."""
    return shared_policy


@pytest.fixture
def policy_dir(fixture_corpus: Path, tmp_path: Path) -> Path:
    """A private copy of the fixture corpus (tests may break files in it)."""
    target = tmp_path / "policy-data"
    shutil.copytree(fixture_corpus, target)
    return target


@pytest.fixture
def private_policy(policy_dir: Path) -> PolicyService:
    return PolicyService(policy_dir)


# ------------------------------------------------------------------------------ people

HOUSEHOLD_USER = 3001  # bound household with a paired, bound cadre (zh)
HOUSEHOLD_KO_USER = 3002  # bound household, Korean interface, paired with the same cadre
CADRE_USER = 3101  # the cadre, Korean interface
LONELY_USER = 3003  # bound household without a pairing
ORPHAN_USER = 3004  # bound household whose cadre has no Telegram account
ADMIN_USER = 3201
PUBLIC_USER = 3301  # unbound


@dataclass
class People:
    household_id: int  # H0001, causes illness + schooling + lack funds, C-grade house, dibao
    household_ko_id: int
    lonely_household_id: int
    orphan_household_id: int
    cadre_id: int
    orphan_cadre_id: int


async def seed_people(sessionmaker) -> People:
    async with sessionmaker() as s:
        village = await RegionRepository(s).ensure_chain(["延边朝鲜族自治州", "龙井市", "东盛涌镇", "仁化村"])
        main = Household(
            reg_no="H0001", head_name="张<三>", village_id=village.id, members=4,
            causes=PovertyCause.ILLNESS | PovertyCause.SCHOOLING | PovertyCause.LACK_FUNDS,
            students=1, housing_grade=HousingGrade.C, dibao=True,
            measure=SupportMeasure.RELOCATION, status=HouseholdStatus.NOT_LIFTED,
        )
        korean = Household(reg_no="H0002", head_name="김영희", village_id=village.id)
        lonely = Household(reg_no="H0003", head_name="王五", village_id=village.id)
        orphan = Household(reg_no="H0004", head_name="赵六", village_id=village.id)
        cadre = Cadre(code="C001", name="刘干部", level=CadreLevel.COUNTY, region_id=village.id)
        orphan_cadre = Cadre(code="C002", name="陈干部", level=CadreLevel.TOWNSHIP, region_id=village.id)
        s.add_all([main, korean, lonely, orphan, cadre, orphan_cadre])
        await s.flush()
        start = date(2026, 1, 1)
        s.add_all([
            Pairing(cadre_id=cadre.id, household_id=main.id, start_date=start),
            Pairing(cadre_id=cadre.id, household_id=korean.id, start_date=start),
            Pairing(cadre_id=orphan_cadre.id, household_id=orphan.id, start_date=start),
            # an ended pairing does not count
            Pairing(cadre_id=cadre.id, household_id=lonely.id, start_date=start, end_date=date(2026, 6, 1)),
        ])
        s.add_all([
            Account(telegram_user_id=HOUSEHOLD_USER, chat_id=HOUSEHOLD_USER, role=Role.HOUSEHOLD,
                    household_id=main.id),
            Account(telegram_user_id=HOUSEHOLD_KO_USER, chat_id=HOUSEHOLD_KO_USER, role=Role.HOUSEHOLD,
                    household_id=korean.id, language="ko"),
            Account(telegram_user_id=LONELY_USER, chat_id=LONELY_USER, role=Role.HOUSEHOLD,
                    household_id=lonely.id),
            Account(telegram_user_id=ORPHAN_USER, chat_id=ORPHAN_USER, role=Role.HOUSEHOLD,
                    household_id=orphan.id),
            Account(telegram_user_id=CADRE_USER, chat_id=CADRE_USER, role=Role.CADRE, cadre_id=cadre.id,
                    language="ko"),
            Account(telegram_user_id=ADMIN_USER, chat_id=ADMIN_USER, role=Role.ADMIN),
        ])
        await s.commit()
        return People(main.id, korean.id, lonely.id, orphan.id, cadre.id, orphan_cadre.id)


@pytest.fixture
async def people(sessionmaker, tg) -> People:  # noqa: F811
    seeded = await seed_people(sessionmaker)
    await tg.add_user(HOUSEHOLD_USER, first_name="张", language_code="zh-hans")
    await tg.add_user(HOUSEHOLD_KO_USER, first_name="영희", language_code="ko")
    await tg.add_user(LONELY_USER, first_name="王", language_code="zh-hans")
    await tg.add_user(ORPHAN_USER, first_name="赵", language_code="zh-hans")
    await tg.add_user(CADRE_USER, first_name="류", language_code="ko")
    await tg.add_user(ADMIN_USER, first_name="管理员", language_code="zh-hans")
    await tg.add_user(PUBLIC_USER, first_name="Pub", language_code="zh-hans")
    await tg.ask(CADRE_USER, "/start")  # the bot can only write to people who opened a chat
    return seeded
