"""Normalisation, language detection and tokenisation for policy retrieval.

Everything here is pure and deterministic, never raises on odd input (empty strings,
emoji, HTML-like markup, 4000 characters, pinyin, digits) and is fast enough to run per
question: a query is truncated to `MAX_QUERY_CHARS` characters after normalisation.

Tokens live in separate namespaces so that the engine can weight them differently:

    看病        a word (jieba for Chinese, particle-stripped word for Korean, stem for English)
    ~看病       a character bigram (Chinese, Korean)
    ^病         a single character (Chinese; Korean one-syllable words are words)
    =zh_Hans:7  a synonym group (bot/policy/data/synonyms.yaml), added when a member occurs
    #50000      a number (the value, with 万/만/thousand multipliers applied)
"""

from __future__ import annotations

import functools
import html
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

LANGUAGES = ("zh_Hans", "ko", "en")
MAX_QUERY_CHARS = 300

WORD, BIGRAM, UNIGRAM, SYNONYM, NUMBER = "", "~", "^", "=", "#"

# --------------------------------------------------------------------------- normalisation

_TAG_RE = re.compile(r"<[^<>]{0,200}>")
_DIGIT_GROUP_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SPACE_RE = re.compile(r"\s+")

_converter = None
_converter_lock = threading.Lock()


def _t2s(text: str) -> str:
    global _converter
    if _converter is None:
        with _converter_lock:
            if _converter is None:
                import opencc

                _converter = opencc.OpenCC("t2s")
    return _converter.convert(text)


def is_han(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F


def is_hangul(ch: str) -> bool:
    o = ord(ch)
    return 0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F


def is_latin(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or (ch.isalpha() and ord(ch) < 0x0250)


def _keep(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or ch in "%."


def normalize(text: str, *, limit: int | None = None) -> str:
    """Text for matching: markup and emoji removed, NFKC, simplified Chinese, lower case.

    Punctuation and symbols become spaces ('%' and '.' survive for numbers); runs of
    whitespace collapse to one space. `limit` truncates the result (queries).
    """
    if not text:
        return ""
    if limit is not None:
        text = text[: limit * 4]  # bound the work on huge inputs before the real cut
    text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)  # lone surrogates
    text = html.unescape(_TAG_RE.sub(" ", text))
    text = unicodedata.normalize("NFKC", text)
    if any(is_han(ch) for ch in text):
        text = _t2s(text)
    text = _DIGIT_GROUP_RE.sub("", text.lower())
    text = "".join(ch if _keep(ch) else " " for ch in text)
    text = _SPACE_RE.sub(" ", text).strip()
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip()
    return text


def script_counts(text: str) -> tuple[int, int, int]:
    """(Han, Hangul, Latin letters) in `text`."""
    han = hangul = latin = 0
    for ch in text:
        if is_han(ch):
            han += 1
        elif is_hangul(ch):
            hangul += 1
        elif is_latin(ch):
            latin += 1
    return han, hangul, latin


def detect_language(text: str) -> str:
    """zh_Hans, ko or en by the dominant script (a Latin word counts like one character
    per three letters); ties and text without letters → zh_Hans."""
    han, hangul, latin = script_counts(text)
    weights = {"zh_Hans": han, "ko": hangul, "en": latin / 3}
    best = max(weights.values())
    if best == 0 or weights["zh_Hans"] == best:
        return "zh_Hans"
    return "ko" if weights["ko"] == best else "en"


# --------------------------------------------------------------------------- numbers

_NUM_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(万|萬|만|亿|억|千|천|thousand|million|k\b)?")
_MULT = {
    "万": 10_000,
    "萬": 10_000,
    "만": 10_000,
    "亿": 100_000_000,
    "억": 100_000_000,
    "千": 1000,
    "천": 1000,
    "thousand": 1000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "k": 1000,
}


def _fmt_number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def number_tokens(text: str) -> list[str]:
    out = []
    for m in _NUM_RE.finditer(text):
        value = float(m.group(1)) * _MULT.get(m.group(2) or "", 1)
        out.append(NUMBER + _fmt_number(value))
    return out


# --------------------------------------------------------------------------- stop words

ZH_STOP = frozenset(
    """的 了 吗 呢 吧 啊 呀 哦 嘛 么 啥 我 你 他 她 它 我们 你们 他们 咱 咱们 俺 俺们 是 在 和 与 及 或 就 都 也 还 又
    这 那 这个 那个 这些 那些 这样 那样 怎么 怎么样 怎样 什么 为什么 如何 哪 哪里 哪些 多少 几 能 能不能 可以 可不可以
    会 会不会 要 要不要 想 得 地 着 过 把 被 给 让 对 从 向 到 吧 请问 请 问 一下 一个 有 有没有 没有 没 不 不是 是不是
    吗 嘛 呗 咋 咋办 怎么办 办 谁 为 以 之 其 等 上 下 里 中 些 个 很 太 还是 家 现在 如果 的话 自己 人家 您 好 一 知道
    告诉 有关 关于 政策 规定 国家 政府 问题 已经 一直 真的 特别 非常 比较 就是 可是 但是 因为 所以 然后 而且 还能 一般
    咋整 咋回事 咋样 是啥 啥样 行不行 管不管 给不给 能否 是否 需要 应该 必须 还要 还有 或者 一些 这里 那里 时候 以后
    之后 以前 之前 的时候 那么 这么 其实 到底 究竟 啊呀 呢吗 听说 据说 都是 是的 可能 大概 打听 想问 问问 请教
    咋搞 咋弄 咋处理 咋了 行不行 不行 一下子 下子 俺家 俺的 木有 谁管 找谁 哪个 有人管 没人管 好不好 对不对 算不算""".split()
)
ZH_STOP_CHARS = frozenset(w for w in ZH_STOP if len(w) == 1)
# function characters that jieba glues to a content character in colloquial questions
# (想建, 学个, 能查, 是从, 没钱); not 会/要/上/有, which make real words (开会, 要钱, 上班)
ZH_GLUE = frozenset("想个能是还就都也又把被给让从向对为以其些很太您俺咱没")


def zh_glued(word: str) -> bool:
    """A two-character word of one glue character and one content character."""
    return (
        len(word) == 2
        and (word[0] in ZH_GLUE) != (word[1] in ZH_GLUE)
        and not (word[0] in ZH_STOP_CHARS and word[1] in ZH_STOP_CHARS)
    )


# function characters that never make a content bigram (~的钱, ~贫的, ~咋办, ~俺家)
ZH_PARTICLES = frozenset("的了吗呢吧啊呀哦嘛么什啥咋呗俺您我你他她它谁哪")

EN_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being am do does did
    doing have has had having i me my we our us you your he him his she her it its they them their this that
    these those there here what which who whom whose when where why how can could will would shall should may
    might must not no yes so than then too very just about any some all each more most other such only own same
    into over under again further once up down out off also get got gets getting please tell know want need
    anything something thing things much many there's it's i'm don't dont doesn doesnt isn isnt aren arent
    cant cannot won wont would'nt hi hello thanks thank ok okay policy policies government
    i'd i've i'll we're we've they're you're let's ever yet really actually quite rather maybe perhaps probably
    because while whether until though although unless however anyway someone anyone everyone somebody anybody
    everything happen happens happened happening make makes made making come comes came coming go goes went gone
    going put puts let lets say says said ask asks asked asking try tries tried trying seem seems seemed become
    becomes became like sure kind sort
    whatever whoever whenever wherever myself ourselves yourself yourselves themselves still anymore every
    through during supposed exactly""".split()
)

# Korean particles and endings stripped (crudely) from the end of a word, longest first.
# Those that are also common word endings (이 in 아이, 가 in 평가) only when two syllables stay.
_KO_SAFE = """에서는 에서도 에게서 한테서 으로는 으로도 이라도 이라면 입니까 습니까 습니다 인가요 있나요 없나요 되나요
    하나요 주나요 받나요 할까요 일까요 는데요 은데요 인데요 는데 은데 으면 려면 이에요 예요 에요 해요 했어요 해도 하면 이나요 나요 까요
    에서 에게 한테 으로 부터 까지 마다 처럼 보다 이랑 하고 께서 에는 에도 으론 은 는 을 를 에 와 과""".split()
_KO_AMBIGUOUS = "이나 이 가 의 도 만 로 요 랑 나".split()
KO_STOP = frozenset(
    """수 때 것 거 좀 뭐 뭔 뭘 무엇 어떻게 어떤 얼마 얼마나 언제 어디 어디서 왜 누가 누구 있나요 있어요 있습니까 있나 있을까요
    없나요 없어요 되나요 돼요 되요 하나요 해요 합니까 할 수 받을 받나요 받아요 해야 하나요 저 제 저희 우리 내 나 너 그 이 저는
    제가 우리는 우리집 좀요 주세요 알려 알려주세요 싶어요 싶은데 정책 문의 질문 너무 정말 진짜 그냥 아직 이미 다시 계속
    혹시 그럼 그러면 그런데 근데 그래서 그리고 또 또는 아니면 그게 이게 저게 거기 여기 그거 이거 저거 무슨 어느 하는 하면
    해서 했는데 하고 되는 되면 돼서 있는 없는 있으면 없으면 같은 같아요 많이 조금 다 모두 꼭 혹은 받으려면 하려면
    되나 되는지 하는지 있는지 없는지 건가요 거예요 건지 겁니까 것인가요
    있슴까 있슴다 없슴까 없슴다 함까 함다 됨까 됨다 했슴까 했슴다 합니까 합니다 됩니까 됩니다 좋슴까 좋아요
    도와줌까 도와주 도와주나요 도와줘요 어찌 뭘로 뭐가 뭐뭐 어떡함까 어떡해요 어떡하나요 말해야""".split()
)

KO_SUFFIXES = tuple(sorted(((x, 1) for x in _KO_SAFE), key=lambda t: -len(t[0]))) + tuple(
    sorted(((x, 2) for x in _KO_AMBIGUOUS), key=lambda t: -len(t[0]))
)


_HANGUL_BASE = 0xAC00
_JONG_M, _JONG_B = 16, 17  # final ㅁ, ㅂ of a Hangul syllable


def _jong(ch: str) -> int:
    o = ord(ch) - _HANGUL_BASE
    return o % 28 if 0 <= o < 11172 else -1


def _without_jong(ch: str) -> str:
    return chr(ord(ch) - _jong(ch))


def _strip_ko_formal(word: str) -> str:
    """Formal endings written on the verb's last syllable: 합니까/합니다 → 하, and the
    Yanbian forms 함까/됨까/있슴까/받슴다/걱정임다 → 하/되/있/받/걱정이."""
    if len(word) >= 3 and word.endswith(("니까", "니다")) and _jong(word[-3]) == _JONG_B:
        return word[:-3] + _without_jong(word[-3])
    if len(word) >= 2 and word[-1] in "까다" and _jong(word[-2]) == _JONG_M:
        if word[-2] == "슴" and len(word) >= 3:
            return word[:-2]
        if word[-1] == "까" or len(word) >= 3:
            return word[:-2] + _without_jong(word[-2])
    return word


_KO_LIGHT = ("시키", "하게", "해서", "해야", "했", "하", "되", "해", "돼")


def _strip_ko(word: str) -> str:
    formal = _strip_ko_formal(word)
    if formal != word:
        # a one-syllable verb stem (오 of 옵니까, 사 of 삼까) matches far too much
        if len(formal) < 2:
            return word
        word = formal
    for suffix, keep in KO_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: -len(suffix)]
            break
    # a noun with a light verb: 보장되 → 보장, 하소연하 → 하소연, 정비해 → 정비
    for light in _KO_LIGHT:
        if word.endswith(light) and len(word) - len(light) >= 2:
            return word[: -len(light)]
    return word


_VOWELS = "aeiou"


def stem_en(word: str) -> str:
    """A deliberately crude English stemmer (plural, -ing, -ed, -ly); stable on its own
    output is not required: documents and queries go through the same function."""
    w = word
    if len(w) <= 3 or w.isdigit():
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("es") and len(w) > 4 and w[-3] in "sxz":
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # getting → get, planned → plan
            elif len(w) == 3 and w[0] not in _VOWELS and w[1] in _VOWELS and w[2] not in _VOWELS + "wxy":
                w += "e"  # giving → give, moved → move, caring → care (like their base forms)
            break
    if w.endswith("ly") and len(w) > 5:
        w = w[:-2]
    if w.endswith("y") and len(w) > 3:
        w = w[:-1] + "i"  # subsidy/subsidies → subsidi
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]  # insurance/insured → insur…
    return w


# --------------------------------------------------------------------------- synonyms


@dataclass(frozen=True)
class SynonymTable:
    """Synonym groups per language; a member found in a text adds the group's token."""

    groups: Mapping[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        compiled: dict[str, list[tuple[str, tuple[str, ...], tuple[str, ...]]]] = {}
        for lang, groups in self.groups.items():
            rows = []
            for i, members in enumerate(groups):
                norm = tuple(m for m in (normalize(x) for x in members) if m)
                if lang == "en":
                    norm = tuple(" ".join(stem_en(w) for w in m.split()) for m in norm)
                long = tuple(m for m in norm if len(m) >= 2 or lang == "en")
                short = tuple(m for m in norm if len(m) < 2 and lang != "en")
                rows.append((f"{SYNONYM}{lang}:{i}", long, short))
            compiled[lang] = rows
        object.__setattr__(self, "_compiled", compiled)

    def groups_of(self, lang: str, word: str, hits: Sequence[str]) -> tuple[str, ...]:
        """Of the group tokens `hits` (found in a question), those that `word` belongs to:
        a member is part of the word, or the word is part of a member (or, in English, a
        word of a member phrase)."""
        out = []
        hit_set = set(hits)
        for token, long, short in self._compiled.get(lang, ()):
            if token not in hit_set:
                continue
            if lang == "en":
                if any(word in m.split() for m in long):
                    out.append(token)
            elif any(m in word or (len(word) >= 2 and word in m) for m in long + short):
                out.append(token)
        return tuple(out)

    def tokens(self, lang: str, text: str, *, query: bool) -> list[str]:
        """Group tokens for `text` (normalised; for English, stemmed words joined by
        spaces). One-character members only count in queries: in documents a single
        character is far too often part of an unrelated word (路 in 思路)."""
        out = []
        padded = f" {text} "
        for token, long, short in self._compiled.get(lang, ()):
            if lang == "en":
                hit = any(f" {m} " in padded for m in long)
            else:
                hit = any(m in text for m in long) or (query and any(m in text for m in short))
            if hit:
                out.append(token)
        return out


EMPTY_SYNONYMS = SynonymTable()


@dataclass(frozen=True)
class CueTable:
    """Out-of-scope cues per language (bot/policy/data/out_of_scope.yaml): words that mark a
    question as being about something the document does not cover (pensions, passports,
    credit cards…). Each cue is (phrase, unless-words): it fires when the phrase occurs in a
    question and none of its unless-words does. Chinese and Korean match anywhere in the
    normalised text; English matches whole stemmed words (cars = car)."""

    cues: Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        compiled: list[tuple[str, str, bool, tuple[str, ...]]] = []
        for lang, cues in self.cues.items():
            english = lang == "en"

            def prep(word: str, english: bool = english) -> str:
                text = normalize(word)
                return " ".join(en_words(text)) if english else text

            for phrase, unless in cues:
                p = prep(phrase)
                if p:
                    compiled.append((phrase, p, english, tuple(u for u in map(prep, unless) if u)))
        object.__setattr__(self, "_compiled", tuple(compiled))

    def find(self, text: str) -> tuple[str, ...]:
        """The cues (as written in the file) that fire for normalised question `text`."""
        compiled = self._compiled  # type: ignore[attr-defined]
        if not compiled:
            return ()
        padded = f" {' '.join(en_words(text))} "
        out = []
        for phrase, p, english, unless in compiled:
            if english:
                hit = f" {p} " in padded and not any(f" {u} " in padded for u in unless)
            else:
                hit = p in text and not any(u in text for u in unless)
            if hit:
                out.append(phrase)
        return tuple(out)

    def find_homophones(self, text: str) -> tuple[str, ...]:
        """The Chinese cues that fire for `text` read as toneless pinyin: a cue typed with a
        homophone of the input method (养老禁, 天汽) counts like the cue itself."""
        han = [p for p in self._compiled if not p[2] and all(map(is_han, p[1]))]  # type: ignore[attr-defined]
        if not han or not any(map(is_han, text)):
            return ()
        padded = f" {char_pinyin_key(text)} "
        out = []
        for phrase, p, _, unless in han:
            if f" {char_pinyin_key(p)} " in padded and not any(u in text for u in unless):
                out.append(phrase)
        return tuple(out)


EMPTY_CUES = CueTable()


# --------------------------------------------------------------------------- tokenisation

_jieba = None
_jieba_lock = threading.Lock()
_DOMAIN_WORDS = (
    "建档立卡 低保 五保 新农合 大病保险 医疗救助 危房改造 易地搬迁 一事一议 护林员 两后生 贴息 学杂费 兜底 包保 摘帽 "
    "小额贷款 信用贷款 免抵押 免担保 光伏 电商 网店 硬化路 自来水 饮水安全 低电压 农家书屋 留守儿童 临时救助 驻村 "
    "第一书记 分红 入股 折股量化 增减挂钩 因病致贫 因学致贫 重特大疾病 护林 退耕还林 生态补偿 公益林 合作社 养老院 "
    "旱厕 水厕 改厕 厕所 臭水沟 水泵 扶贫款"
).split()


def _jieba_instance():
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import rjieba

                j = rjieba.Jieba()
                for w in _DOMAIN_WORDS:
                    j.add_word(w, None, None)
                _jieba = j
    return _jieba


_RUN_RE = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[\uac00-\ud7a3]+|[a-z\u00c0-\u024f]+|\d+(?:\.\d+)?"
)


def _bigrams(run: str) -> list[str]:
    return [BIGRAM + run[i : i + 2] for i in range(len(run) - 1)]


def zh_tokens(text: str) -> list[str]:
    """Chinese tokens of normalised text: jieba words (search mode), bigrams, characters."""
    runs = [r for r in _RUN_RE.findall(text) if is_han(r[0])]
    if not runs:
        return []
    out: list[str] = []
    for w in _jieba_instance().cut_for_search(" ".join(runs)):
        w = w.strip()
        if w and is_han(w[0]) and w not in ZH_STOP:
            out.append(w)
    for run in runs:
        out.extend(b for b in _bigrams(run) if not ZH_PARTICLES.intersection(b))
        out.extend(UNIGRAM + ch for ch in run if ch not in ZH_STOP_CHARS)
    return out


def ko_tokens(text: str) -> list[str]:
    """Korean tokens: each word, the word without its particle or ending, Hangul bigrams."""
    out: list[str] = []
    for run in _RUN_RE.findall(text):
        if not is_hangul(run[0]):
            continue
        stem = _strip_ko(run)
        out.append(run)
        if stem != run:
            out.append(stem)
        out.extend(_bigrams(run))
    return out


def en_words(text: str) -> list[str]:
    """Stemmed English words without stop words (also used for synonym matching)."""
    out = []
    for run in _RUN_RE.findall(text):
        if is_latin(run[0]) and run not in EN_STOP and len(run) > 1:
            out.append(stem_en(run))
    return out


# --------------------------------------------------------------------------- homophones


@functools.lru_cache(maxsize=65536)
def pinyin_key(word: str) -> str:
    """The toneless pinyin of a Chinese word ('低保' → 'di bao'), for homophone typos of
    pinyin input methods (抵保, 底保 → 低保). pypinyin reads a known word as a phrase (银行 →
    yin hang) and anything else character by character; heteronyms are ignored. Characters
    without a reading are kept as they are."""
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(word, style=Style.NORMAL, errors="default"))


@functools.lru_cache(maxsize=65536)
def _char_pinyin(ch: str) -> str:
    return pinyin_key(ch)


def char_pinyin_key(text: str) -> str:
    """Like `pinyin_key`, character by character (no phrase readings): cheap enough for every
    character bigram of a large index."""
    return " ".join(_char_pinyin(ch) for ch in text)


def tokens_for(
    lang: str, text: str, synonyms: SynonymTable = EMPTY_SYNONYMS, *, query: bool = False
) -> list[str]:
    """All tokens of normalised `text` for the index of `lang` (numbers included)."""
    if lang == "zh_Hans":
        toks = zh_tokens(text)
        syn = synonyms.tokens(lang, text, query=query)
    elif lang == "ko":
        toks = ko_tokens(text)
        syn = synonyms.tokens(lang, text, query=query)
    else:
        toks = en_words(text)
        syn = synonyms.tokens(lang, " ".join(en_words(text)), query=query)
    return toks + syn + number_tokens(text)


@dataclass(frozen=True)
class Unit:
    """A content word of a question, for coverage: the forms that stand for it in an index
    (the word, its stem), its parts (bigrams or its character) and its synonym groups."""

    surface: str
    forms: tuple[str, ...]
    parts: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Query:
    """A question prepared for matching."""

    raw: str
    text: str  # normalised
    language: str  # detected
    tokens: Mapping[str, tuple[str, ...]]  # per index language, de-duplicated
    content: int  # content units: Han/Hangul characters, Latin words' letters / 3 rounded up
    units: Mapping[str, tuple[Unit, ...]] = field(default_factory=dict)  # per index language

    @property
    def empty(self) -> bool:
        return not any(self.tokens.values())


def _zh_units(text: str, synonyms: SynonymTable, hits: Sequence[str]) -> list[Unit]:
    runs = [r for r in _RUN_RE.findall(text) if is_han(r[0])]
    out: list[Unit] = []
    for w in _jieba_instance().cut(" ".join(runs)):
        w = w.strip()
        if not w or not is_han(w[0]) or w in ZH_STOP:
            continue
        parts = tuple(_bigrams(w)) if len(w) > 2 else ((UNIGRAM + w,) if len(w) == 1 else ())
        if zh_glued(w):
            # 想建, 学个, 能查: a content character glued to a function one by jieba
            parts = (UNIGRAM + (w[1] if w[0] in ZH_GLUE else w[0]),)
        out.append(Unit(w, (w,), parts, synonyms.groups_of("zh_Hans", w, hits)))
    return out


def _ko_units(text: str, synonyms: SynonymTable, hits: Sequence[str]) -> list[Unit]:
    out: list[Unit] = []
    for run in _RUN_RE.findall(text):
        if not is_hangul(run[0]):
            continue
        stem = _strip_ko(run)
        if run in KO_STOP or stem in KO_STOP:
            continue
        forms = (run, stem) if stem != run else (run,)
        out.append(Unit(run, forms, tuple(_bigrams(run)), synonyms.groups_of("ko", stem, hits)))
    return out


def _en_units(words: Sequence[str], synonyms: SynonymTable, hits: Sequence[str]) -> list[Unit]:
    return [Unit(w, (w,), (), synonyms.groups_of("en", w, hits)) for w in dict.fromkeys(words)]


def prepare_query(question: str, synonyms: SynonymTable = EMPTY_SYNONYMS) -> Query:
    """Normalise, detect the language and tokenise `question` for every script it uses."""
    text = normalize(question or "", limit=MAX_QUERY_CHARS)
    language = detect_language(text)
    han, hangul, _ = script_counts(text)
    tokens: dict[str, tuple[str, ...]] = {}
    units: dict[str, tuple[Unit, ...]] = {}
    if han:
        tokens["zh_Hans"] = _dedupe(tokens_for("zh_Hans", text, synonyms, query=True))
        units["zh_Hans"] = tuple(_zh_units(text, synonyms, tokens["zh_Hans"]))
    if hangul:
        tokens["ko"] = _dedupe(tokens_for("ko", text, synonyms, query=True))
        units["ko"] = tuple(_ko_units(text, synonyms, tokens["ko"]))
    latin_words = en_words(text)
    if latin_words:
        tokens["en"] = _dedupe(tokens_for("en", text, synonyms, query=True))
        units["en"] = tuple(_en_units(latin_words, synonyms, tokens["en"]))
    content = sum(1 for ch in text if is_han(ch) and ch not in ZH_STOP_CHARS) + hangul
    content += sum(-(-len(w) // 3) for w in latin_words)  # each word rounded up: 'dibao' is 2
    return Query(question, text, language, tokens, content, units)


def _dedupe(tokens: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tokens))


def token_kind(token: str) -> str:
    return token[0] if token and token[0] in (BIGRAM, UNIGRAM, SYNONYM, NUMBER) else WORD


# --------------------------------------------------------------------------- figures

_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_NUM_RE = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")
_CN_MEASURE = "年个元户人次岁项级条所名种天月周倍公里亩批县村乡镇州市类成万亿"
_EN_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "hundred": 100,
}
_EN_NUMBER_RE = re.compile(r"\b(" + "|".join(_EN_NUMBER_WORDS) + r")\b")
_EN_SCALE = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_EN_SCALED_RE = re.compile(
    r"\b(?:(" + "|".join(_EN_NUMBER_WORDS) + r"|a|an)\s+)?(hundred|thousand|million|billion)\b"
)
_ARABIC_RE = re.compile(
    r"(\d+(?:\.\d+)?)\s*(万|萬|만|亿|억|千|천|thousand|million|billion)?(?:\s*(\d+(?:\.\d+)?)\s*(천|千)?(?![\d.]|\s*(?:万|萬|만)))?"
)
# references to sections are not figures: 'section 32', '제32항', '（三十二）', '第三十二条'
_REFERENCE_RE = re.compile(
    r"(?:sections?|items?|parts?)\s+\d+(?:\s*(?:,|and|&|or)\s*\d+)*|제\s*\d+\s*(?:조|항|절|부분|번)|\d+\s*번\s*항목"
    r"|[（(][一二三四五六七八九十]+[）)]|第[一二三四五六七八九十百]+[条项部分章节]",
    re.IGNORECASE,
)


def cn_number(text: str) -> int | None:
    """'三十二' → 32, '两千' → 2000, '5万' is not handled here, '二〇一八' → 2018."""
    if not text:
        return None
    if not any(ch in _CN_UNIT or ch in _CN_BIG for ch in text):
        if len(text) == 1:
            return _CN_DIGIT.get(text)
        return (
            int("".join(str(_CN_DIGIT[ch]) for ch in text)) if all(ch in _CN_DIGIT for ch in text) else None
        )
    total = section = digit = 0
    for ch in text:
        if ch in _CN_DIGIT:
            digit = _CN_DIGIT[ch]
        elif ch in _CN_UNIT:
            section += (digit or 1) * _CN_UNIT[ch]
            digit = 0
        elif ch in _CN_BIG:
            total += ((section + digit) or 1) * _CN_BIG[ch]
            section = digit = 0
    return total + section + digit


def _value(number: str, mult: str | None) -> Decimal:
    value = Decimal(number) * _MULT.get(mult or "", 1)
    return value.normalize() if value != value.to_integral() else Decimal(int(value))


def figures(text: str, *, document: bool = False) -> set[Decimal]:
    """The numeric values a text states: '5万元' and '5만 위안' and '50,000 yuan' → 50000,
    '90%' → 90, '7.4万户' → 74000, '6만 8,700' → 68700, years as they are. Chinese numerals
    count when followed by a measure word (三年, 八个) or when they contain 十; in a
    `document` every Chinese numeral counts (the test is lenient on the document's side).
    English number words (three, eight) count; references to sections do not."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _DIGIT_GROUP_RE.sub("", text)
    text = _REFERENCE_RE.sub(" ", text)
    out: set[Decimal] = set()
    for m in _ARABIC_RE.finditer(text):
        first = _value(m.group(1), m.group(2))
        out.add(first)
        if m.group(3) is not None:
            second = _value(m.group(3), m.group(4))
            if m.group(2) in ("万", "萬", "만", "亿", "억") and second < _MULT[m.group(2)]:
                out.discard(first)
                out.add(first + second)  # 6만 8700 → 68700, 7万4千 → 74000
            else:
                out.add(second)
    for m in _CN_NUM_RE.finditer(text):
        word = m.group(0)
        before = text[max(0, m.start() - 2) : m.start()].rstrip()
        if before and before[-1].isdigit():
            continue  # the 万 of 5万, counted with its number above
        if not document:
            after = text[m.end() : m.end() + 1]
            has_unit = any(ch in _CN_UNIT or ch in _CN_BIG for ch in word)
            if word == "一" or not ((has_unit and len(word) >= 2) or (after and after in _CN_MEASURE)):
                continue  # 一些, 这一条, 统一, 十分, 三农: words, not figures
        value = cn_number(word)
        if value is not None:
            out.add(Decimal(value))
    lower = text.lower()
    for m in _EN_SCALED_RE.finditer(lower):  # ten thousand, a million
        if m.group(1) is None and re.search(r"\d\s*$", lower[: m.start()]):
            continue  # the million of 1.2 million, counted above
        out.add(Decimal(_EN_NUMBER_WORDS.get(m.group(1) or "", 1) * _EN_SCALE[m.group(2)]))
    for m in _EN_NUMBER_RE.finditer(_EN_SCALED_RE.sub(" ", lower)):
        out.add(Decimal(_EN_NUMBER_WORDS[m.group(1)]))
    return out
