"""Chat texts and keyboards of policy answers: the one place they are worded.

Everything returned here is ready for parse_mode HTML: corpus and user text is escaped,
fixed texts go through gettext (Chinese msgids). Callback data never carries user text:
answers reference the logged question by id (`QuestionCB`), browsing references sections
and topics by their corpus ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.policy.benefits import Benefit, Reason

if TYPE_CHECKING:
    from bot.policy.corpus import Section, Topic

MESSAGE_LIMIT = 4096  # Telegram's limit on a message's text (UTF-16 code units, after parsing)
PAGE_SIZE = 8  # sections per page in /topics
BUTTON_LABEL_LIMIT = 32  # characters of a section button's label (longer titles end in …)


# --------------------------------------------------------------------- callback data


class QuestionCB(CallbackData, prefix="pq"):
    """A button under the answer to a logged question: up / down / ask (my cadre)."""

    action: str
    id: int


class SectionCB(CallbackData, prefix="ps"):
    """orig: the section's original text; show: its answer (from /benefits and the
    "may be related" buttons under answers and refusals)."""

    action: str
    n: int


class TopicCB(CallbackData, prefix="pt"):
    """/topics navigation: root (topic list), list (a topic's sections, page), sec (a section)."""

    action: str
    topic: str = ""
    page: int = 0
    n: int = 0


class CadreReplyCB(CallbackData, prefix="cq"):
    """回复 under a question forwarded to a cadre; `id` is the cadre_questions row."""

    id: int


# ---------------------------------------------------------------------- small texts


def section_heading(section: Section) -> str:
    """'（九）发展教育脱贫一批': the document's numbering and title (not translated: it is the citation)."""
    return f"（{section.label}）{section.title}"


def citation(section: Section) -> str:
    return _("依据：{source}").format(source=escape(section.source))


def answer_text(section: Section, locale: str) -> str:
    """The plain-language answer in the user's language, then the citation line."""
    return f"{escape(section.answer_for(locale).strip())}\n\n{citation(section)}"


def refusal_text(document_title: str, *, can_ask_cadre: bool, has_suggestions: bool = False) -> str:
    head = _("抱歉，《{document}》中没有找到与您的问题相关的规定，我无法给您准确的答复。").format(
        document=escape(document_title)
    )
    if has_suggestions:
        head += "\n\n" + _("下面这些条款可能与您的问题有关，可以点开看看。")
    if can_ask_cadre:
        step = _("您可以点下面的按钮，把问题转给您的帮扶干部。")
    else:
        step = _("建议您向所在村的村委会或乡镇政府咨询。也可以发送 /topics 按主题查看政策。")
    return f"{head}\n\n{step}"


def not_a_question_text() -> str:
    return _(
        "请用文字把您的问题说具体一些，例如：“看病能报销多少？”“孩子上学有补助吗？”\n"
        "也可以发送 /topics 按主题查看政策。"
    )


def stale_button_text() -> str:
    return _("这个按钮已失效，请重新发送命令。")


def feedback_thanks_text() -> str:
    return _("谢谢您的反馈！")


# ------------------------------------------------------------------------ keyboards


def ask_cadre_button(question_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("问我的帮扶干部"), callback_data=QuestionCB(action="ask", id=question_id).pack()
    )


def suggestion_rows(sections: Iterable[Section]) -> list[list[InlineKeyboardButton]]:
    """One button per "may be related" section; it opens the section's answer."""
    return [
        [
            InlineKeyboardButton(
                text=_clip_label("📄 " + section_heading(section)),
                callback_data=SectionCB(action="show", n=section.number).pack(),
            )
        ]
        for section in sections
    ]


def _clip_label(text: str, limit: int = BUTTON_LABEL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def answer_keyboard(
    question_id: int, section_number: int, *, can_ask_cadre: bool, related: Sequence[Section] = ()
) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(text=_("原文"), callback_data=SectionCB(action="orig", n=section_number).pack()),
            InlineKeyboardButton(text="👍", callback_data=QuestionCB(action="up", id=question_id).pack()),
            InlineKeyboardButton(text="👎", callback_data=QuestionCB(action="down", id=question_id).pack()),
        ]
    ]
    rows.extend(suggestion_rows(related))
    if can_ask_cadre:
        rows.append([ask_cadre_button(question_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def refusal_keyboard(
    question_id: int, *, can_ask_cadre: bool, suggestions: Sequence[Section] = ()
) -> InlineKeyboardMarkup | None:
    rows = suggestion_rows(suggestions)
    if can_ask_cadre:
        rows.append([ask_cadre_button(question_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def section_keyboard(section_number: int) -> InlineKeyboardMarkup:
    """Under an answer shown outside a question (from /benefits): just 原文."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("原文"), callback_data=SectionCB(action="orig", n=section_number).pack())]
        ]
    )


# ------------------------------------------------------------------ original text


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_SENTENCE_END = re.compile(r"[。！？；!?;]|\.(?=\s)")
_SOFT_BREAK = re.compile(r"[，、,：:\s]")


def _fit(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split plain text into pieces of at most `limit` UTF-16 code units.

    Cuts at the last paragraph break that fits, else after the last sentence end, else at
    a comma or space, else (one endless word) at the limit. Paragraph breaks at a cut are
    dropped (Telegram trims them anyway); nothing else is lost or changed, so the pieces
    joined back (with the dropped newlines) are the text. Escape each piece afterwards, so
    a cut can never fall inside an HTML entity.
    """
    pieces: list[str] = []
    rest = text.strip("\n")
    while utf16_len(rest) > limit:
        window = rest[: _fit(rest, limit)]
        floor = len(window) // 4  # do not produce tiny pieces when a better cut exists
        cut = window.rfind("\n")
        if cut > floor:
            pieces.append(window[:cut])
            rest = rest[cut + 1 :]
            continue
        ends = [m.end() for m in _SENTENCE_END.finditer(window)]
        ends = [e for e in ends if e > floor]
        if not ends:
            ends = [m.end() for m in _SOFT_BREAK.finditer(window) if m.end() > floor]
        cut = ends[-1] if ends else len(window)
        pieces.append(window[:cut])
        rest = rest[cut:]
    if rest.strip():
        pieces.append(rest)
    return [p for p in pieces if p.strip()]


def original_messages(section: Section) -> list[str]:
    """The section's full original text as one or more HTML-safe messages."""
    return [escape(piece, quote=False) for piece in split_text(section.text)]


def plain_messages(text: str) -> list[str]:
    """Any plain text (user-written included) as HTML-safe messages within the limit."""
    return [escape(piece, quote=False) for piece in split_text(text)]


# ----------------------------------------------------------------------- /topics


def topics_text() -> str:
    return _("请选择您想了解的主题：")


def topics_keyboard(topics: Iterable[Topic], locale: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for topic in topics:
        kb.button(text=topic.label(locale), callback_data=TopicCB(action="list", topic=topic.id))
    kb.adjust(2)
    return kb.as_markup()


def page_count(total: int) -> int:
    return max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)


def topic_sections_text(topic: Topic, locale: str, total: int, page: int) -> str:
    if total == 0:
        return _("主题：{topic}\n这个主题下暂时没有条目。").format(topic=escape(topic.label(locale)))
    text = _("主题：{topic}\n请选择条目：").format(topic=escape(topic.label(locale)))
    pages = page_count(total)
    if pages > 1:
        text += "\n" + _("第 {page}/{pages} 页").format(page=page + 1, pages=pages)
    return text


def topic_sections_keyboard(topic_id: str, sections: Sequence[Section], page: int) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    start = page * PAGE_SIZE
    for section in sections[start : start + PAGE_SIZE]:
        data = TopicCB(action="sec", topic=topic_id, page=page, n=section.number).pack()
        rows.append([InlineKeyboardButton(text=section_heading(section), callback_data=data)])
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        data = TopicCB(action="list", topic=topic_id, page=page - 1).pack()
        nav.append(InlineKeyboardButton(text=_("‹ 上一页"), callback_data=data))
    if start + PAGE_SIZE < len(sections):
        data = TopicCB(action="list", topic=topic_id, page=page + 1).pack()
        nav.append(InlineKeyboardButton(text=_("下一页 ›"), callback_data=data))
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(text=_("« 返回"), callback_data=TopicCB(action="root").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def topic_section_keyboard(topic_id: str, page: int, section_number: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("原文"), callback_data=SectionCB(action="orig", n=section_number).pack()
                ),
                InlineKeyboardButton(
                    text=_("« 返回"), callback_data=TopicCB(action="list", topic=topic_id, page=page).pack()
                ),
            ]
        ]
    )


# ---------------------------------------------------------------------- /benefits


def reason_text(reason: Reason) -> str:
    texts = {
        Reason.RETURNED: _("您家登记为返贫户"),
        Reason.ILLNESS: _("致贫原因有因病"),
        Reason.DISABILITY: _("家中有残疾人或因残致贫"),
        Reason.SCHOOLING: _("家中有在校学生或因学致贫"),
        Reason.DISASTER: _("致贫原因有因灾"),
        Reason.DIBAO: _("您家享受低保"),
        Reason.HOUSING: _("住房被评为C级或D级危房"),
        Reason.MEASURE_PRODUCTION: _("帮扶措施为发展生产"),
        Reason.MEASURE_RELOCATION: _("帮扶措施为易地搬迁"),
        Reason.MEASURE_ECOLOGY: _("帮扶措施为生态保护"),
        Reason.MEASURE_EDUCATION: _("帮扶措施为发展教育"),
        Reason.MEASURE_MEDICAL: _("帮扶措施为医疗救助"),
        Reason.MEASURE_SOCIAL_SECURITY: _("帮扶措施为社会保障兜底"),
        Reason.MEASURE_CASE_BY_CASE: _("帮扶措施为一事一议"),
        Reason.LACK_MEANS: _("致贫原因有缺土地、缺资金、缺技术或缺劳力"),
        Reason.LACK_WATER: _("致贫原因有缺水"),
        Reason.POOR_TRANSPORT: _("致贫原因有交通条件落后"),
        Reason.LIFTED: _("您家已标注为已脱贫，这一条讲脱贫退出的标准、程序和退出后的政策"),
        Reason.STANDARD: _("所有人都适用的脱贫标准：家庭人均纯收入达到2010年不变价2300元"),
    }
    return texts[reason]


def benefits_text(benefits: Sequence[Benefit], sections: Mapping[int, Section]) -> str:
    """`sections`: number → Section of the current corpus (missing numbers are skipped)."""
    lines = [_("根据您家的建档立卡信息，以下政策可能与您有关：")]
    index = 0
    for benefit in benefits:
        section = sections.get(benefit.section)
        if section is None:
            continue
        index += 1
        reasons = _("；").join(reason_text(r) for r in benefit.reasons)
        lines.append("")
        lines.append(f"{index}. {escape(section_heading(section))}")
        lines.append(_("原因：{reasons}").format(reasons=escape(reasons)))
    lines.append("")
    lines.append(_("点下面的按钮查看每条政策的说明。具体能否享受、怎么申请，请以当地政府部门的规定为准，也可以问您的帮扶干部。"))
    return "\n".join(lines)


def benefits_keyboard(
    benefits: Sequence[Benefit], sections: Mapping[int, Section]
) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    for benefit in benefits:
        section = sections.get(benefit.section)
        if section is not None:
            kb.button(text=section_heading(section), callback_data=SectionCB(action="show", n=section.number))
    kb.adjust(1)
    markup = kb.as_markup()
    return markup if markup.inline_keyboard else None


def benefits_unbound_text() -> str:
    return _(
        "这个功能根据建档立卡信息列出您家可能享受的政策，只对已绑定的建档立卡户开放。\n"
        "如果您是建档立卡户，请向您的帮扶干部或村委会索取邀请链接，打开链接即可绑定。"
    )


# ----------------------------------------------------------- forwarding to the cadre


def cadre_question_text(head_name: str, reg_no: str, question: str) -> str:
    """What the cadre receives (rendered in the cadre's locale by the caller)."""
    return _("{name}（{reg_no}）问：{question}").format(
        name=escape(head_name), reg_no=escape(reg_no), question=escape(question)
    )


def cadre_question_keyboard(cadre_question_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=_("回复"), callback_data=CadreReplyCB(id=cadre_question_id).pack())]
        ]
    )


def household_reply_plain(answer: str, question: str) -> str:
    """What the household receives, as PLAIN text (split and escape with `plain_messages`)."""
    return _("您的帮扶干部回复：{answer}").format(answer=answer) + "\n\n" + _("（您的问题：{question}）").format(
        question=question
    )


def forwarded_text(cadre_name: str) -> str:
    return _("已把您的问题转给您的帮扶干部{name}，收到回复后会通知您。").format(name=escape(cadre_name))


def forwarded_toast_text() -> str:
    return _("已转给帮扶干部")


def already_forwarded_text() -> str:
    return _("这个问题已经转给您的帮扶干部了，请耐心等待回复。")


def cadre_unreachable_text() -> str:
    return _("您的帮扶干部暂时无法通过本机器人联系。建议您直接联系帮扶干部，或向所在村的村委会咨询。")


def no_cadre_text() -> str:
    return _("您家目前没有结对的帮扶干部。建议您向所在村的村委会或乡镇政府咨询。")


def reply_prompt_text(head_name: str, reg_no: str, question: str) -> str:
    return (
        cadre_question_text(head_name, reg_no, question)
        + "\n\n"
        + _("请输入您的回复，发送后会转给该户。发送 /cancel 取消。")
    )


def reply_sent_text(head_name: str) -> str:
    return _("已把您的回复发送给{name}。").format(name=escape(head_name))


def reply_saved_not_delivered_text() -> str:
    return _("回复已保存，但暂时无法送达该户（对方可能没有绑定或已停用机器人）。")


def reply_already_answered_text() -> str:
    return _("这个问题已经回复过了。")


def reply_cancelled_text() -> str:
    return _("已取消回复。")


def reply_text_only_text() -> str:
    return _("请用文字输入回复，或发送 /cancel 取消。")


# -------------------------------------------------------------------- /reload_policy


def reload_ok_text(count: int) -> str:
    return _("政策库已重新加载：{count} 节").format(count=count)


def reload_failed_text(error: str, count: int) -> str:
    return (
        _("政策库加载失败：{error}").format(error=escape(error))
        + "\n"
        + _("仍在使用上一次成功加载的政策库（{count} 节）。").format(count=count)
    )
