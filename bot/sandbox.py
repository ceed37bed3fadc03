"""The sandbox: the real bot against the local Bot API emulator, chatted with from a terminal.

`fupin-bot sandbox` (and `fupin-bot run` without BOT_TOKEN) needs no Telegram account and
no network: it migrates a local database (SQLite `fupin-sandbox.db` by default), loads the
fictional demo county when the registry is empty, starts `bot.emulator` on 127.0.0.1,
creates demo personas there (a household, a cadre, an admin of the demo county and an
unbound guest), binds them by writing their `Account` rows, runs the unmodified bot by
long polling against the emulator, and reads chat lines from stdin.

Layers, so tests can drive each one:
- `prepare_database` — migrate, load demo data, bind the personas (no emulator);
- `Sandbox` — emulator + bot + control-API client, started and stopped together;
- `SandboxSession.handle_line(line) -> list[str]` — one terminal line in, output lines out;
- `run_terminal` — the stdin/stdout loop around a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import ConfigError, Settings, load_settings
from storage.enums import Role
from storage.models import Account, Cadre, Household, Region, utcnow

log = logging.getLogger(__name__)

SANDBOX_TOKEN = "7000000001:fupin-sandbox-local-emulator-token"
SANDBOX_BOT_USERNAME = "fupin_sandbox_bot"
SANDBOX_BOT_NAME = "精准扶贫服务助手（沙盒）"
DEFAULT_DATABASE_FILE = "fupin-sandbox.db"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{DEFAULT_DATABASE_FILE}"

# `:lang` shortcuts → the language_code Telegram clients send.
LANGUAGE_CODES = {"zh": "zh-hans", "ko": "ko", "en": "en"}

JsonDict = dict[str, Any]


class SandboxError(Exception):
    """The sandbox cannot start; `str()` is one console line."""


@dataclass(frozen=True)
class PersonaSpec:
    key: str
    user_id: int
    first_name: str
    username: str
    role: Role | None


PERSONAS: tuple[PersonaSpec, ...] = (
    PersonaSpec("household", 7100001, "张示范", "demo_household", Role.HOUSEHOLD),
    PersonaSpec("cadre", 7100002, "钱帮扶", "demo_cadre", Role.CADRE),
    PersonaSpec("admin", 7100003, "示范县扶贫办", "demo_admin", Role.ADMIN),
    PersonaSpec("guest", 7100004, "访客", "demo_guest", None),
)
PERSONA_KEYS = tuple(p.key for p in PERSONAS)


@dataclass
class PersonaBindings:
    """What the bound personas stand for, as shown in the banner."""

    household_id: int | None = None
    household_label: str = "—"
    cadre_id: int | None = None
    cadre_label: str = "—"
    admin_region_id: int | None = None
    admin_label: str = "—"
    demo_loaded: bool = False
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- database


def sqlite_file(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite"):
        return None
    raw = database_url.split(":///", 1)[1] if ":///" in database_url else ""
    raw = raw.split("?", 1)[0]
    return None if raw in ("", ":memory:") else Path(raw)


def is_own_database(database_url: str | None, bindings: PersonaBindings) -> bool:
    """Whether the sandbox runs on a database of its own: the default sandbox file, or one
    it just filled with the demo county (empty before, or --fresh). Only then does it start
    the notification engine: on a copy of a real registry the engine would deliver that
    database's outbox and scans to the emulator, failing rows and deactivating accounts."""
    if database_url is None or bindings.demo_loaded:
        return True
    path = sqlite_file(database_url)
    return path is not None and path.resolve() == Path(DEFAULT_DATABASE_FILE).resolve()


def remove_sqlite_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()


async def prepare_database(database_url: str, today: date, *, fresh: bool = False) -> PersonaBindings:
    """Migrate, load the demo county when the registry is empty (always with `fresh`),
    and bind the sandbox personas. Raises SandboxError with one line on failure."""
    from bot.demo import is_empty, load_demo_data
    from storage.db import create_engine, create_sessionmaker
    from storage.migrate import upgrade_async

    path = sqlite_file(database_url)
    if fresh and path is not None:
        remove_sqlite_file(path)
    try:
        await upgrade_async(database_url)
    except (OperationalError, DBAPIError, OSError) as exc:
        name = type(getattr(exc, "orig", None) or exc).__name__
        raise SandboxError(f"database unreachable: {name}: check --database-url") from None
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            loaded = False
            if fresh or await is_empty(session):
                await load_demo_data(session, today)
                loaded = True
            bindings = await _resolve_bindings(session)
            bindings.demo_loaded = loaded
            await bind_personas(session, bindings)
            await session.commit()
    except SQLAlchemyError as exc:
        name = type(getattr(exc, "orig", None) or exc).__name__
        raise SandboxError(f"preparing the sandbox database failed: {name}") from None
    finally:
        await engine.dispose()
    return bindings


async def _resolve_bindings(session: AsyncSession) -> PersonaBindings:
    from bot.demo import COUNTY_PATH, PERSONA_CADRE_CODE, PERSONA_HOUSEHOLD_REG_NO, has_demo_data
    from storage.repositories.regions import display_path

    b = PersonaBindings()
    if await has_demo_data(session):
        household = await session.scalar(
            select(Household).where(Household.reg_no == PERSONA_HOUSEHOLD_REG_NO)
        )
        cadre = await session.scalar(select(Cadre).where(Cadre.code == PERSONA_CADRE_CODE))
        region = await session.scalar(select(Region).where(Region.path == COUNTY_PATH))
    else:
        # A registry without the demo county: bind to its first records, admin of the province.
        household = await session.scalar(select(Household).order_by(Household.id).limit(1))
        cadre = await session.scalar(select(Cadre).order_by(Cadre.id).limit(1))
        region = None
        b.notes.append("this database has no demo county: personas are bound to its first records")
    if household is not None:
        b.household_id = household.id
        b.household_label = f"{household.head_name} ({household.reg_no})"
    if cadre is not None:
        b.cadre_id = cadre.id
        b.cadre_label = f"{cadre.name} ({cadre.code})"
    if region is not None:
        b.admin_region_id = region.id
        b.admin_label = f"admin of {display_path(region.path)}"
    else:
        b.admin_label = "admin of the whole province"
    return b


async def bind_personas(session: AsyncSession, bindings: PersonaBindings) -> None:
    """Write the personas' Account rows: roles as in `bindings`, guest unbound, language
    choice cleared (so `:lang` decides), every account active."""
    targets: dict[str, dict[str, Any]] = {
        "household": {"role": Role.HOUSEHOLD, "household_id": bindings.household_id},
        "cadre": {"role": Role.CADRE, "cadre_id": bindings.cadre_id},
        "admin": {"role": Role.ADMIN, "admin_region_id": bindings.admin_region_id},
        "guest": {"role": None},
    }
    if bindings.household_id is None:
        targets["household"] = {"role": None}
        bindings.notes.append("no household in the registry: the household persona is unbound")
    if bindings.cadre_id is None:
        targets["cadre"] = {"role": None}
        bindings.notes.append("no cadre in the registry: the cadre persona is unbound")
    for persona in PERSONAS:
        values = {"household_id": None, "cadre_id": None, "admin_region_id": None, **targets[persona.key]}
        account = await session.scalar(select(Account).where(Account.telegram_user_id == persona.user_id))
        if account is None:
            account = Account(telegram_user_id=persona.user_id, chat_id=persona.user_id)
            session.add(account)
        for key, value in values.items():
            setattr(account, key, value)
        account.chat_id = persona.user_id
        account.language = None
        account.is_active = True
        account.bind_failures = 0
        account.bind_blocked_until = None
        account.bound_at = utcnow() if values["role"] is not None else None
    await session.flush()


# ---------------------------------------------------------------------------- running


def sandbox_settings(base: Settings, database_url: str, api_url: str) -> Settings:
    """The bot's settings inside the sandbox: fake token, emulator URL, in-memory FSM."""
    values = base.model_dump()
    values.update(
        database_url=database_url,
        bot_token=SANDBOX_TOKEN,
        telegram_api_url=api_url,
        redis_url=None,
        webhook_url=None,
        bot_username=SANDBOX_BOT_USERNAME,
    )
    return load_settings(**values)


def check_database_url(database_url: str) -> str:
    """Validate and normalise a URL like DATABASE_URL; ConfigError with one line if bad."""
    try:
        return load_settings(database_url=database_url).database_url
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("DATABASE_URL", "--database-url")) from None


class Sandbox:
    """Emulator + bot (long polling) + control-API client, started and stopped together."""

    def __init__(self, settings: Settings, bindings: PersonaBindings) -> None:
        self.base_settings = settings
        self.bindings = bindings
        self.settings: Settings | None = None
        self.emulator: Any = None
        self.app: Any = None
        self.client: Any = None
        self._polling: asyncio.Task[None] | None = None
        self.background: Any = None
        self.notifications = False  # the notification engine runs (own database only)

    @classmethod
    async def start(
        cls, settings: Settings, database_url: str | None = None, *, fresh: bool = False
    ) -> Sandbox:
        url = check_database_url(database_url or DEFAULT_DATABASE_URL)
        today = datetime.now(settings.tz).date()
        bindings = await prepare_database(url, today, fresh=fresh)
        sandbox = cls(settings, bindings)
        sandbox.notifications = is_own_database(url if database_url else None, bindings)
        try:
            await sandbox._start(url)
        except BaseException:
            await sandbox.stop()
            raise
        return sandbox

    async def _start(self, database_url: str) -> None:
        from bot.app import build_application
        from bot.emulator import BotSeed, EmulatorClient, start_emulator
        from bot.runner import on_startup

        try:
            self.emulator = await start_emulator(
                "127.0.0.1", 0, bots=[BotSeed(SANDBOX_TOKEN, SANDBOX_BOT_USERNAME, SANDBOX_BOT_NAME)]
            )
        except OSError as exc:
            raise SandboxError(f"cannot start the Bot API emulator on 127.0.0.1: {exc.strerror}") from None
        self.settings = sandbox_settings(self.base_settings, database_url, self.emulator.base_url)
        self.client = EmulatorClient(self.emulator.base_url, SANDBOX_TOKEN)
        for persona in PERSONAS:
            await self.client.add_user(
                persona.user_id,
                persona.first_name,
                username=persona.username,
                language_code=LANGUAGE_CODES["zh"],
            )
        self.app = build_application(self.settings)
        await on_startup(self.app)
        self._polling = asyncio.create_task(
            self.app.dispatcher.start_polling(
                self.app.bot, handle_signals=False, close_bot_session=False, polling_timeout=5
            ),
            name="sandbox-polling",
        )
        # the notification engine too: reminders, digests and broadcasts reach the personas,
        # but only on the sandbox's own database (`is_own_database`)
        if not self.notifications:
            return
        from bot.background import Background

        self.background = Background(self.app)
        await self.background.start()

    def session(self, **kwargs: Any) -> SandboxSession:
        return SandboxSession(self.client, **kwargs)

    async def stop(self) -> None:
        """Stop the engine and polling, close the bot and the client, stop the emulator (safe to repeat)."""
        if self.background is not None:
            background, self.background = self.background, None
            await background.stop()
        if self._polling is not None:
            task, self._polling = self._polling, None
            if not task.done():
                try:
                    await self.app.dispatcher.stop_polling()
                except RuntimeError:  # not started yet
                    task.cancel()
                try:
                    await asyncio.wait_for(asyncio.shield(task), 5)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.app is not None:
            app, self.app = self.app, None
            await app.close()
        if self.client is not None:
            client, self.client = self.client, None
            await client.close()
        if self.emulator is not None:
            emulator, self.emulator = self.emulator, None
            await emulator.stop()

    def banner(self, database_url: str | None = None) -> list[str]:
        url = database_url or (self.settings.database_url if self.settings else "")
        b = self.bindings
        lines = [
            "fupin-bot sandbox: the real bot talking to a local Bot API emulator (nothing leaves this machine)",
            f"database: {url}" + (" (demo county loaded)" if b.demo_loaded else ""),
            f"personas: household = {b.household_label}; cadre = {b.cadre_label}; "
            f"admin = {b.admin_label}; guest = not bound",
            *[f"note: {note}" for note in b.notes],
            *([] if self.notifications else [
                "note: notifications are off (not the sandbox's own database): no reminders, "
                "digests or broadcasts are sent"
            ]),
            *HELP_LINES,
        ]
        return lines


@contextlib.asynccontextmanager
async def open_sandbox(
    settings: Settings, database_url: str | None = None, *, fresh: bool = False
) -> AsyncIterator[Sandbox]:
    sandbox = await Sandbox.start(settings, database_url, fresh=fresh)
    try:
        yield sandbox
    finally:
        await sandbox.stop()


# ---------------------------------------------------------------------------- session

HELP_LINES = [
    "Type a message as the current persona; the bot's replies are printed as they arrive.",
    "  #N               press button N of the latest bot message with buttons",
    "  :as PERSONA      switch persona: household, cadre, admin, guest (each has its own chat)",
    "  :lang zh|ko|en   set the persona's Telegram language (a choice made with /language wins)",
    "  :photo [CAPTION] send a small test photo",
    "  :help            this list",
    "  :quit            leave (also Ctrl-D or Ctrl-C)",
]


@dataclass
class PersonaState:
    spec: PersonaSpec
    language_code: str = LANGUAGE_CODES["zh"]
    seen_seq: int = 0
    has_chat: bool = False
    keyboard: JsonDict | None = None


class SandboxSession:
    """One terminal conversation: turns input lines into emulator actions and renders
    the bot's activity as plain lines. Independent of stdin/stdout (tests call it)."""

    def __init__(
        self,
        client: Any,
        *,
        persona: str = "household",
        reply_timeout: float = 5.0,
        settle: float = 0.4,
    ) -> None:
        self.client = client
        self.personas = {p.key: PersonaState(p) for p in PERSONAS}
        self.current = self.personas[persona]
        self.reply_timeout = reply_timeout
        self.settle = settle
        self.done = False
        self._lock = asyncio.Lock()

    @property
    def persona(self) -> str:
        return self.current.spec.key

    # -- input

    async def handle_line(self, line: str) -> list[str]:
        """Process one input line; returns the lines to print."""
        text = line.strip()
        if not text:
            return []
        async with self._lock:
            if text.startswith(":"):
                out = await self._command(text)
            elif text.startswith("#") and text[1:].strip().isdigit():
                out = await self._press(int(text[1:].strip()))
            else:
                out = await self._send_text(text)
            if not self.done:
                out += await self._others()
            return out

    async def poll(self) -> list[str]:
        """Bot activity not shown yet (e.g. notifications), for every persona."""
        if self._lock.locked():
            return []
        async with self._lock:
            out = await self._collect(self.current, first_timeout=0)
            return out + await self._others()

    async def warm_up(self, keys: tuple[str, ...] = ("household", "cadre", "admin")) -> None:
        """Bound users have started the bot before: send /start silently for them, so the
        bot can message them (notifications) from the first minute."""
        async with self._lock:
            for key in keys:
                state = self.personas[key]
                sent = await self.client.send_text(state.spec.user_id, "/start")
                state.has_chat = True
                await self._events(state, sent["seq"], self.reply_timeout)
                await self._collect(state, first_timeout=0)

    # -- commands

    async def _command(self, text: str) -> list[str]:
        name, _, arg = text[1:].partition(" ")
        name, arg = name.strip().lower(), arg.strip()
        if name in ("quit", "q", "exit"):
            self.done = True
            return ["bye"]
        if name in ("help", "h", "?"):
            return list(HELP_LINES)
        if name == "as":
            if arg not in self.personas:
                return [f"you are {self.persona}; personas: {', '.join(PERSONA_KEYS)}"]
            self.current = self.personas[arg]
            out = [f"now chatting as {arg} ({self.current.spec.first_name})"]
            return out + await self._collect(self.current, first_timeout=0)
        if name == "lang":
            code = LANGUAGE_CODES.get(arg.lower())
            if code is None:
                return ["usage: :lang zh|ko|en"]
            spec = self.current.spec
            await self.client.add_user(spec.user_id, spec.first_name, username=spec.username, language_code=code)
            self.current.language_code = code
            return [f"{self.persona}'s Telegram language is now {code}"]
        if name == "photo":
            sent = await self.client.send_photo(self.current.spec.user_id, sample_photo(), caption=arg or None)
            self.current.has_chat = True
            return await self._collect(self.current, first_timeout=self.reply_timeout, after=sent["seq"])
        return [f"unknown sandbox command :{name}; :help lists them"]

    async def _send_text(self, text: str) -> list[str]:
        from bot.emulator import EmulatorError

        try:
            sent = await self.client.send_text(self.current.spec.user_id, text)
        except EmulatorError as exc:
            return [f"(not sent: {exc.description})"]
        self.current.has_chat = True
        return await self._collect(self.current, first_timeout=self.reply_timeout, after=sent["seq"])

    async def _press(self, number: int) -> list[str]:
        from bot.emulator import EmulatorError, EmulatorTimeout

        state = self.current
        message = await self._latest_keyboard_message(state)
        if message is None:
            return ["no bot message with buttons in this chat"]
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        if not 1 <= number <= len(buttons):
            return [f"no button {number}: the latest message with buttons has {len(buttons)}"]
        button = buttons[number - 1]
        if "callback_data" not in button:
            target = button.get("url") or button.get("login_url", {}).get("url") or "?"
            return [f"button {number} ({button.get('text')}) opens a link: {target}"]
        try:
            pressed = await self.client.press(state.spec.user_id, message["message_id"], button["callback_data"])
        except EmulatorError as exc:
            return [f"(press failed: {exc.description})"]
        out: list[str] = []
        answered = False
        try:
            result = await self.client.callback_answer(pressed["callback_query_id"], timeout=self.reply_timeout)
            answered = True
            answer = result.get("answer") or {}
            if answer.get("text"):
                kind = "alert" if answer.get("show_alert") else "notice"
                out.append(f"[{kind}] {answer['text']}")
            if answer.get("url"):
                out.append(f"[opens] {answer['url']}")
        except EmulatorTimeout:
            out.append("(the bot did not answer the button press)")
        first = min(1.5, self.reply_timeout) if answered else 0
        return out + await self._collect(state, first_timeout=first, after=pressed["seq"])

    # -- observation

    async def _latest_keyboard_message(self, state: PersonaState) -> JsonDict | None:
        from bot.emulator import EmulatorError

        if not state.has_chat:
            return None
        try:
            messages = await self.client.messages(state.spec.user_id)
        except EmulatorError:
            return None
        for message in reversed(messages):
            markup = message.get("reply_markup") or {}
            if message.get("from_bot") and not message.get("deleted") and markup.get("inline_keyboard"):
                return message
        return None

    async def _events(self, state: PersonaState, after: int, wait: float, count: int = 1) -> list[JsonDict]:
        from bot.emulator import EmulatorError, EmulatorTimeout

        try:
            return await self.client.wait_replies(state.spec.user_id, after_seq=after, count=count, timeout=wait)
        except EmulatorTimeout as exc:
            return exc.events
        except EmulatorError:
            return []  # no chat with this user yet

    async def _collect(self, state: PersonaState, *, first_timeout: float, after: int | None = None) -> list[str]:
        """Wait up to `first_timeout` for the bot's reaction to the action at event `after`,
        then until it is quiet for `settle` seconds; render every event not shown before."""
        if not state.has_chat:
            return []
        anchor = state.seen_seq if after is None else after
        events = await self._events(state, anchor, first_timeout)
        if events:
            while True:
                more = await self._events(state, anchor, self.settle, count=len(events) + 1)
                if len(more) <= len(events):
                    break
                events = more
        if anchor != state.seen_seq:
            events = await self._events(state, state.seen_seq, 0)
        fresh = [e for e in events if e["seq"] > state.seen_seq]
        if not fresh:
            return ["(no reply from the bot yet)"] if after is not None and first_timeout > 0 else []
        out: list[str] = []
        for event in fresh:
            out += render_event(event, None if state is self.current else state.spec.key)
            state.seen_seq = max(state.seen_seq, event["seq"])
        return out + await self._keyboard_change(state)

    async def _keyboard_change(self, state: PersonaState) -> list[str]:
        from bot.emulator import EmulatorError

        try:
            info = await self.client.chat(state.spec.user_id)
        except EmulatorError:
            return []
        keyboard = info.get("keyboard")
        if keyboard == state.keyboard:
            return []
        state.keyboard = keyboard
        if not keyboard:
            return ["      (reply keyboard removed)"]
        rows = [" | ".join(str(b.get("text", "")) for b in row) for row in keyboard.get("keyboard", [])]
        return ["      keyboard: " + "  /  ".join(rows) + "   (type a button's text to press it)"]

    async def _others(self) -> list[str]:
        out: list[str] = []
        for state in self.personas.values():
            if state is not self.current and state.has_chat:
                out += await self._collect(state, first_timeout=0)
        return out


# ----------------------------------------------------------------------------- render

INDENT = "      "


def render_event(event: JsonDict, persona: str | None = None) -> list[str]:
    """Plain lines for one bot message or edit; `persona` set when it is not the current chat."""
    head = "bot"
    if persona:
        head += f" → {persona}"
    if event.get("event") == "edit":
        head += " (edited)"
    body = message_body(event)
    lines = body.splitlines() or [""]
    out = [f"{head}: {lines[0]}"] + [INDENT + line for line in lines[1:]]
    markup = event.get("reply_markup") or {}
    out += render_inline_keyboard(markup.get("inline_keyboard") or [])
    return out


def message_body(message: JsonDict) -> str:
    caption = message.get("caption") or ""
    if "text" in message:
        return str(message["text"])
    if message.get("photo"):
        file_id = message["photo"][-1].get("file_id", "?")
        return f"[photo file_id={file_id}] {caption}".rstrip()
    for kind in ("document", "video", "audio", "voice", "animation", "sticker"):
        media = message.get(kind)
        if media:
            name = media.get("file_name") or media.get("emoji") or ""
            label = f"{kind} {name}".strip()
            return f"[{label} file_id={media.get('file_id', '?')}] {caption}".rstrip()
    if message.get("location"):
        loc = message["location"]
        return f"[location {loc.get('latitude')}, {loc.get('longitude')}]"
    if message.get("contact"):
        return f"[contact {message['contact'].get('phone_number')}]"
    return "[message]"


def render_inline_keyboard(rows: list[list[JsonDict]]) -> list[str]:
    out: list[str] = []
    number = 0
    for row in rows:
        cells = []
        for button in row:
            number += 1
            label = str(button.get("text", ""))
            if "callback_data" not in button and button.get("url"):
                label += f" ↗ {button['url']}"
            cells.append(f"[{number}] {label}")
        out.append(INDENT + "  ".join(cells))
    return out


def sample_photo() -> bytes:
    """A tiny PNG for `:photo` (Pillow ships with qrcode[pil])."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 60, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------- terminal


def _start_stdin_reader(loop: asyncio.AbstractEventLoop, stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines from `stream` on a daemon thread (never blocks the loop or process exit);
    None marks end of input."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        try:
            for line in iter(stream.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError, RuntimeError):
            pass
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="sandbox-stdin", daemon=True).start()
    return queue


async def run_terminal(
    sandbox: Sandbox,
    *,
    stdin: TextIO | None = None,
    emit: Callable[[str], None] | None = None,
    poll_interval: float = 0.5,
) -> None:
    """The interactive loop: banner, then lines from stdin until :quit, EOF or Ctrl-C."""
    stdin = stdin or sys.stdin
    emit = emit or _print
    session = sandbox.session()
    await session.warm_up()
    echo = not _isatty(stdin)
    for line in sandbox.banner():
        emit(line)
    emit(f"You are {session.persona}.")
    loop = asyncio.get_running_loop()
    queue = _start_stdin_reader(loop, stdin)
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, stop.set)

    async def printer() -> None:
        while True:
            await asyncio.sleep(poll_interval)
            for out in await session.poll():
                emit(out)

    printer_task = asyncio.create_task(printer(), name="sandbox-printer")
    stop_wait = asyncio.create_task(stop.wait())
    try:
        while not session.done:
            get = asyncio.create_task(queue.get())
            await asyncio.wait({get, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not get.done():
                get.cancel()
                emit("bye")
                break
            line = get.result()
            if line is None:
                emit("bye")
                break
            if echo and line.strip():
                emit(f"{session.persona}> {line.strip()}")
            for out in await session.handle_line(line):
                emit(out)
    finally:
        for task in (printer_task, stop_wait):
            task.cancel()
        for task in (printer_task, stop_wait):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.remove_signal_handler(signal.SIGINT)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _print(line: str) -> None:
    try:
        print(line, flush=True)
    except BrokenPipeError:
        pass
