"""A dialog survives a bot restart: the cadre's reply dialog (handlers/cadre_questions.py)
is opened, the bot process is stopped and built again on the same database, and the
cadre's next text still goes to the household as the reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select

from bot.app import Application, build_application
from bot.emulator.client import EmulatorClient
from bot.fsm_storage import SqlStorage
from bot.runner import on_startup
from handlers.cadre_questions import CadreReply
from storage.models import CadreQuestion, FsmRecord
from tests.conftest import TEST_TOKEN
from tests.work.people import CADRE_USER, H1_USER, USERS


class Bot:
    """Start and stop the real bot (polling the emulator) as often as a test needs."""

    def __init__(self, settings, emulator, policy) -> None:
        self.settings = settings.model_copy(update={"telegram_api_url": emulator.base_url})
        self.policy = policy
        self.app: Application | None = None
        self._polling: asyncio.Task | None = None

    async def start(self) -> Application:
        self.app = build_application(self.settings, policy=self.policy)
        await on_startup(self.app)
        self._polling = asyncio.create_task(
            self.app.dispatcher.start_polling(
                self.app.bot, handle_signals=False, close_bot_session=False, polling_timeout=1
            )
        )
        return self.app

    async def stop(self) -> None:
        if self.app is None:
            return
        await self.app.dispatcher.stop_polling()
        await asyncio.wait_for(self._polling, timeout=10)
        await self.app.close()
        self.app = None


@pytest.fixture
async def restartable(settings, emulator, shipped_policy) -> AsyncIterator[Bot]:
    bot = Bot(settings, emulator, shipped_policy)
    yield bot
    await bot.stop()


async def test_reply_dialog_survives_a_restart(restartable: Bot, emulator, people, sessionmaker) -> None:
    app = await restartable.start()
    assert isinstance(app.dispatcher.storage, SqlStorage)
    async with EmulatorClient(emulator.base_url, TEST_TOKEN) as tg:
        for user in (CADRE_USER, H1_USER):
            name, language = USERS[user]
            await tg.add_user(user, first_name=name, language_code=language)
            await tg.ask(user, "/start")
        async with sessionmaker() as s:
            question = CadreQuestion(household_id=people.h1, cadre_id=people.cadre, question="低保怎么申请？")
            s.add(question)
            await s.commit()
        key = StorageKey(bot_id=app.bot.id, chat_id=CADRE_USER, user_id=CADRE_USER)
        await app.dispatcher.storage.set_state(key, CadreReply.waiting)
        await app.dispatcher.storage.update_data(key, {"cadre_question": question.id})

        await restartable.stop()  # the process ends mid-dialog
        app = await restartable.start()  # a new process on the same database

        assert await app.dispatcher.storage.get_state(key) == CadreReply.waiting.state
        before = (await tg.messages(H1_USER))[-1]["message_id"]
        [confirmation] = await tg.ask(CADRE_USER, "请带户口本到村委会办理。")
        assert "已把您的回复发送给" in confirmation["text"]
        [to_household] = await tg.wait_replies(H1_USER, after_message_id=before)
        assert "请带户口本到村委会办理。" in to_household["text"]

        async with sessionmaker() as s:
            answered = await s.get(CadreQuestion, question.id)
            assert answered.answer == "请带户口本到村委会办理。"
            assert (await s.scalars(select(FsmRecord))).all() == []  # the dialog ended: row deleted
        assert [c for c in await tg.calls() if not c["spec_ok"]] == []


async def test_cancel_after_restart(restartable: Bot, emulator, people) -> None:
    app = await restartable.start()
    async with EmulatorClient(emulator.base_url, TEST_TOKEN) as tg:
        name, language = USERS[CADRE_USER]
        await tg.add_user(CADRE_USER, first_name=name, language_code=language)
        await tg.ask(CADRE_USER, "/start")
        key = StorageKey(bot_id=app.bot.id, chat_id=CADRE_USER, user_id=CADRE_USER)
        await app.dispatcher.storage.set_state(key, CadreReply.waiting)
        await restartable.stop()
        app = await restartable.start()
        [reply] = await tg.ask(CADRE_USER, "/cancel")
        assert await app.dispatcher.storage.get_state(key) is None
        assert reply["text"] == "已取消回复。"  # the reply dialog's own cancel message
