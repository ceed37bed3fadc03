"""A small policy corpus written to a temporary directory, for the corpus, engine and
service tests (bot/policy/corpus.py's format; four sections of the real document)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.policy.seed import int_to_cn

CHAPTERS = {
    1: "把打赢脱贫攻坚战作为重大政治任务",
    2: "总体要求",
    3: "落实精准扶贫方略,加快贫困人口精准脱贫",
    4: "着力强化行业扶贫,加快贫困地区经济社会发展",
    5: "组织动员全社会参与脱贫攻坚",
    6: "强化脱贫攻坚保障机制",
    7: "加强组织领导",
}

TOPICS = [
    {"id": "education", "zh_Hans": "教育", "ko": "교육", "en": "Education"},
    {"id": "medical", "zh_Hans": "看病就医", "ko": "의료", "en": "Medical care"},
    {"id": "finance", "zh_Hans": "贷款与金融", "ko": "대출·금융", "en": "Loans and finance"},
    {"id": "housing", "zh_Hans": "住房与危房改造", "ko": "주택", "en": "Housing repair"},
]

SYNONYMS = {
    "zh_Hans": [
        ["娃", "孩子", "子女", "学生"],
        ["看病", "就医", "医疗"],
        ["贷款", "借钱", "信贷"],
        ["房子漏雨", "危房", "破房子"],
    ],
    "ko": [["학비", "등록금", "학잡비"], ["대출", "융자"]],
    "en": [["loan", "credit", "borrow"], ["tuition", "school fee"]],
}


def section(which: int, **overrides: Any) -> dict[str, Any]:
    """A valid section mapping for one of the fixture sections (9, 10, 16, 32), changed."""
    data = dict(SECTIONS[which])
    data.update(overrides)
    return data


SECTIONS: dict[int, dict[str, Any]] = {
    9: {
        "number": 9,
        "label": "九",
        "chapter": 3,
        "title": "发展教育脱贫一批",
        "text": "(九)发展教育脱贫一批。加快普及高中阶段教育,率先在贫困地区对建档立卡的学生实施普通高中免除学杂费。"
        "贫困家庭子女就读职业院校实现应补尽补。对国家扶贫开发工作8个重点县乡村教师发放生活补助。",
        "tags": ["education"],
        "answer": {
            "zh_Hans": "建档立卡的学生上普通高中免除学杂费；贫困家庭子女上职业院校应补尽补。",
            "ko": "등록 빈곤 가구 학생은 일반 고등학교 학잡비가 면제됩니다.",
            "en": "Registered poor students pay no tuition or miscellaneous fees at ordinary high school.",
        },
        "questions": {
            "zh_Hans": ["娃上高中要交学费不", "高中学杂费能免吗", "上职校有补助吗"],
            "ko": ["아이가 고등학교에 다니는데 학비를 내야 하나요?", "학잡비가 면제되나요?"],
            "en": ["Does my child have to pay tuition at high school?", "Is vocational school subsidised?"],
        },
        "keywords": {
            "zh_Hans": ["学费", "学杂费", "高中", "职业院校"],
            "ko": ["학비", "고등학교"],
            "en": ["tuition", "high school", "vocational school"],
        },
        "related": [10],
    },
    10: {
        "number": 10,
        "label": "十",
        "chapter": 3,
        "title": "医疗保险和医疗救助脱贫一批",
        "text": "(十)医疗保险和医疗救助脱贫一批。对贫困人口参加新农合个人缴费部分给予补贴,"
        "适当提高贫困人口新农合住院费用报销比例和大病保险报销比例。",
        "tags": ["medical"],
        "answer": {
            "zh_Hans": "贫困人口参加新农合，个人缴费部分给补贴；住院费用和大病保险的报销比例适当提高。",
            "ko": "빈곤 인구가 신농합에 가입하면 개인 보험료를 보조하고 입원비 보상 비율을 높입니다.",
            "en": "Poor people get a subsidy for the rural cooperative medical insurance premium, and "
            "reimbursement rates for hospital stays are raised.",
        },
        "questions": {
            "zh_Hans": ["看病能报多少", "住院报销比例是多少", "新农合要交钱不"],
            "ko": ["병원비는 얼마나 보상받을 수 있나요?", "입원비 보상 비율이 몇 퍼센트인가요?"],
            "en": ["How much of my hospital bill is reimbursed?", "Do I pay the medical insurance premium?"],
        },
        "keywords": {
            "zh_Hans": ["看病", "住院", "报销", "新农合"],
            "ko": ["병원비", "입원"],
            "en": ["hospital", "reimbursement", "medical insurance"],
        },
        "related": [],
    },
    16: {
        "number": 16,
        "label": "十六",
        "chapter": 4,
        "title": "优先实施贫困家庭危房改造",
        "text": "(十六)优先实施贫困家庭危房改造。到2018年年底,完成建档立卡中的6.87万贫困户C、D级危房改造。"
        "对符合农村危房改造条件但无能力改造的特困户提供保障性住房。",
        "tags": ["housing"],
        "answer": {
            "zh_Hans": "到2018年年底完成6.87万贫困户C、D级危房改造；无能力改造的特困户提供保障性住房。",
            "ko": "2018년 말까지 빈곤 가구 6만 8,700가구의 C·D급 위험주택을 개조합니다.",
            "en": "By the end of 2018, C and D grade dangerous houses of 68,700 poor households are repaired.",
        },
        "questions": {
            "zh_Hans": ["房子漏雨了政府管不管", "危房改造有补助吗"],
            "ko": ["집 지붕에서 비가 새요", "위험주택 개조 보조금이 있나요?"],
            "en": [
                "My roof leaks, will the government fix it?",
                "Is there help to repair a dangerous house?",
            ],
        },
        "keywords": {
            "zh_Hans": ["危房", "房子", "漏雨"],
            "ko": ["위험주택", "집수리"],
            "en": ["dangerous house", "roof"],
        },
        "related": [],
    },
    32: {
        "number": 32,
        "label": "三十二",
        "chapter": 6,
        "title": "创新金融扶贫机制",
        "text": "(三十二)创新金融扶贫机制。落实国家财政给予90%的贷款贴息,专项用于易地扶贫搬迁。"
        "对符合条件的建档立卡贫困户提供5万元以下、3年以内免抵押免担保的信用贷款,用于发展生产,由财政提供贴息补助。",
        "tags": ["finance"],
        "answer": {
            "zh_Hans": "符合条件的建档立卡贫困户可以申请5万元以下、3年以内免抵押免担保的信用贷款，财政贴息。",
            "ko": "조건에 맞는 빈곤 가구는 5만 위안 이하, 3년 이내의 무담보 신용대출을 받을 수 있습니다.",
            "en": "Eligible registered poor households can get credit loans of up to 50,000 yuan for up to "
            "3 years with no collateral and no guarantor.",
        },
        "questions": {
            "zh_Hans": ["贷款要抵押吗", "扶贫贷款能贷多少", "贷款利息谁出"],
            "ko": ["대출받을 때 담보가 필요한가요?", "대출 이자는 누가 내나요?"],
            "en": ["Do I need collateral for a poverty-relief loan?", "Who pays the interest on the loan?"],
        },
        "keywords": {
            "zh_Hans": ["贷款", "抵押", "担保", "贴息"],
            "ko": ["대출", "담보"],
            "en": ["loan", "collateral", "guarantor"],
        },
        "related": [16],
    },
}


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def write_corpus(root: Path, sections: dict[int, dict[str, Any]] | None = None) -> Path:
    """Write a valid fixture corpus under root/data and return that directory."""
    directory = root / "data"
    (directory / "sections").mkdir(parents=True, exist_ok=True)
    chapters = [{"number": n, "label": int_to_cn(n), "title": t, "intro": ""} for n, t in CHAPTERS.items()]
    (directory / "chapters.yaml").write_text(
        dump({"document": "关于全面推进脱贫攻坚的实施意见", "chapters": chapters}), encoding="utf-8"
    )
    (directory / "topics.yaml").write_text(dump({"topics": TOPICS}), encoding="utf-8")
    (directory / "synonyms.yaml").write_text(dump(SYNONYMS), encoding="utf-8")
    for number, data in (SECTIONS if sections is None else sections).items():
        write_section(directory, number, data)
    return directory


def write_section(directory: Path, number: int, data: dict[str, Any] | str) -> Path:
    path = directory / "sections" / f"{number:02d}.yaml"
    path.write_text(data if isinstance(data, str) else dump(data), encoding="utf-8")
    return path
