"""/topics: browse the policy by topic → a topic's sections (pages of 8) → a section's answer.

Navigation edits the one message (editMessageText); buttons carry topic ids and section
numbers only, checked against the current corpus on every press.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n

from bot.policy import render
from bot.policy.render import TopicCB
from bot.policy.service import PolicyService
from storage.models import Account

router = Router(name="topics")


@router.message(Command("topics"))
async def cmd_topics(message: Message, i18n: I18n, policy: PolicyService) -> None:
    await message.answer(
        render.topics_text(), reply_markup=render.topics_keyboard(policy.corpus.topics, i18n.current_locale)
    )


async def _edit(query: CallbackQuery, bot: Bot, account: Account, text: str, markup: InlineKeyboardMarkup) -> None:
    if query.message is None:
        return
    try:
        await bot.edit_message_text(
            text=text, chat_id=account.chat_id, message_id=query.message.message_id, reply_markup=markup
        )
    except TelegramBadRequest as exc:
        if "not modified" not in str(exc):
            raise


@router.callback_query(TopicCB.filter(F.action == "root"))
async def on_root(query: CallbackQuery, account: Account, i18n: I18n, bot: Bot, policy: PolicyService) -> None:
    await query.answer()
    markup = render.topics_keyboard(policy.corpus.topics, i18n.current_locale)
    await _edit(query, bot, account, render.topics_text(), markup)


@router.callback_query(TopicCB.filter(F.action.in_({"list", "sec"})))
async def on_topic(
    query: CallbackQuery,
    callback_data: TopicCB,
    account: Account,
    i18n: I18n,
    bot: Bot,
    policy: PolicyService,
) -> None:
    corpus = policy.corpus
    topic = next((t for t in corpus.topics if t.id == callback_data.topic), None)
    sections = corpus.sections_for_topic(callback_data.topic) if topic is not None else []
    page = callback_data.page
    valid = topic is not None and 0 <= page < render.page_count(len(sections))
    if valid and callback_data.action == "sec":
        section = corpus.sections.get(callback_data.n)
        valid = section is not None and any(s.number == section.number for s in sections)
    if not valid:
        await query.answer(render.stale_button_text(), show_alert=True)
        return
    await query.answer()
    locale = i18n.current_locale
    if callback_data.action == "list":
        text = render.topic_sections_text(topic, locale, len(sections), page)
        markup = render.topic_sections_keyboard(topic.id, sections, page)
    else:
        text = render.answer_text(section, locale)
        markup = render.topic_section_keyboard(topic.id, page, section.number)
    await _edit(query, bot, account, text, markup)
