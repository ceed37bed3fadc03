"""Application assembly: Settings → Bot (session on TELEGRAM_API_URL) → Dispatcher."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.access import AccessMiddleware
from bot.config import ConfigError, Settings
from bot.fsm_storage import CommitBeforeSending, FsmSessionMiddleware, SqlStorage
from bot.i18n import create_i18n
from bot.middlewares import DbSessionMiddleware, LocaleMiddleware
from bot.observability import UpdateMetricsMiddleware
from bot.policy.corpus import CorpusError
from bot.policy.service import PolicyService
from storage.db import create_engine, create_sessionmaker


def create_bot(settings: Settings, token: str | None = None) -> Bot:
    token = token or settings.bot_token
    if not token:
        raise ValueError("BOT_TOKEN is required to create a bot")
    # connections: the sender's sends in flight plus room for the handlers' replies
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url), limit=settings.send_concurrency + 36
    )
    session.middleware(CommitBeforeSending())  # what an update wrote is committed before the user sees a reply
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def create_fsm_storage(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> BaseStorage:
    """Where dialog (FSM) state lives: Redis when REDIS_URL is set, else the database's
    `fsm_records` table (bot/fsm_storage.py). Either way a dialog survives a restart."""
    if settings.redis_url:
        return RedisStorage.from_url(settings.redis_url)
    if sessionmaker is None:
        raise ValueError("without REDIS_URL the FSM storage needs the database sessionmaker")
    return SqlStorage(sessionmaker)


def create_dispatcher(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    i18n: I18n,
    storage: BaseStorage | None = None,
    policy: PolicyService | None = None,
) -> Dispatcher:
    from handlers import setup_routers

    storage = storage if storage is not None else create_fsm_storage(settings, sessionmaker)
    # One update at a time per chat: a dialog step never races the next one from the same
    # user (a double press, two devices). Redis locks across processes; otherwise in-process.
    isolation = storage.create_isolation() if isinstance(storage, RedisStorage) else SimpleEventIsolation()
    dp = Dispatcher(storage=storage, events_isolation=isolation)
    dp["settings"] = settings
    dp["policy"] = policy if policy is not None else load_policy()
    dp["sessionmaker"] = sessionmaker
    dp["i18n"] = i18n
    dp.update.outer_middleware(UpdateMetricsMiddleware())  # handler latency and outcome (/metrics)
    dp.update.outer_middleware(DbSessionMiddleware(sessionmaker))
    dp.update.outer_middleware(FsmSessionMiddleware())  # SqlStorage writes in the update's transaction
    dp.update.outer_middleware(AccessMiddleware())
    LocaleMiddleware(i18n).setup(dp)
    dp.include_router(setup_routers())
    return dp


@dataclass
class Application:
    """Everything one bot process needs; built by `build_application`, closed by `close`."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    i18n: I18n
    bot: Bot
    dispatcher: Dispatcher

    _closed: bool = False

    async def close(self) -> None:
        """Release the bot session, FSM storage and engine (safe to call twice)."""
        if self._closed:
            return
        self._closed = True
        await self.dispatcher.storage.close()
        await self.bot.session.close()
        await self.engine.dispose()


def load_policy() -> PolicyService:
    """The policy corpus and engine, loaded once per process; a bad corpus stops start-up
    with one line (ConfigError: path:line: problem), printed by the CLI."""
    try:
        return PolicyService()
    except CorpusError as exc:
        raise ConfigError(f"policy corpus: {exc}") from None


def build_application(
    settings: Settings, token: str | None = None, policy: PolicyService | None = None
) -> Application:
    policy = policy if policy is not None else load_policy()
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    i18n = create_i18n(settings.default_locale)
    bot = create_bot(settings, token)
    dp = create_dispatcher(settings, sessionmaker, i18n, policy=policy)
    return Application(settings, engine, sessionmaker, i18n, bot, dp)
