"""In-memory world of the Bot API emulator: bots, human users, private chats,
messages (with edit history), pending updates, uploaded files, callback queries
and the call log.

Everything here is plain data plus small asyncio waiting helpers; the HTTP layer
(:mod:`bot.emulator.server`) and the Bot API method semantics
(:mod:`bot.emulator.methods`) operate on a :class:`World`.  All chats are
private chats between one bot and one human user; the chat id equals the user id.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .formatting import bot_command_entities
from .media import MEDIA_KINDS, PhotoVariant, guess_extension, guess_mime, photo_variants

__all__ = [
    "BotAccount",
    "CallRecord",
    "CallbackRecord",
    "ChatEvent",
    "EmulatorOptions",
    "HumanUser",
    "MessageRecord",
    "Notifier",
    "PrivateChat",
    "SlidingWindow",
    "StoredFile",
    "WebhookConfig",
    "World",
    "WorldError",
]

JsonDict = dict[str, Any]

#: Update kinds Telegram does not deliver unless explicitly listed in allowed_updates.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_TOKEN = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
_FILE_ID_PREFIX = {
    "photo": "AgAC",
    "document": "BQAC",
    "voice": "AwAC",
    "sticker": "CAAC",
    "video": "BAAC",
    "audio": "CQAC",
    "animation": "CgAC",
}


class WorldError(Exception):
    """A control-API request that cannot be satisfied (maps to an HTTP status)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def unix_now() -> int:
    return int(time.time())


class Notifier:
    """Lets coroutines wait until a predicate over mutable state becomes true."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], bool], seconds: float) -> bool:
        """Wait up to ``seconds`` for ``predicate()``; return its final value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(seconds, 0.0)
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self._event.wait()
            except TimeoutError:
                return predicate()
        return True


class SlidingWindow:
    """At most ``limit`` hits per ``period`` seconds."""

    def __init__(self, limit: int, period: float = 1.0) -> None:
        self.limit = limit
        self.period = period
        self._hits: deque[float] = deque()

    def retry_after(self, now: float) -> int | None:
        """Whole seconds to wait before the next hit is allowed, or ``None`` if allowed now."""
        while self._hits and self._hits[0] <= now - self.period:
            self._hits.popleft()
        if len(self._hits) < self.limit:
            return None
        return max(1, math.ceil(self._hits[0] + self.period - now))

    def hit(self, now: float) -> None:
        self._hits.append(now)


@dataclass
class EmulatorOptions:
    """Behaviour switches of an emulator instance."""

    global_rate_limit: int | None = None
    """Messages per second per bot (``None`` = unlimited; Telegram's broadcast limit is ~30)."""
    per_chat_rate_limit: int | None = None
    """Messages per second per chat (``None`` = unlimited; Telegram advises 1)."""
    callback_query_ttl: float = 15.0
    """Seconds after which answerCallbackQuery reports the query as too old."""
    webhook_retry_delay: float = 1.0
    webhook_timeout: float = 10.0
    allow_http_webhooks: bool = True
    """Real Telegram requires HTTPS; the emulator accepts http:// (local bots) unless disabled."""
    max_download_size: int = 20 * 1024 * 1024
    max_upload_size: int = 50 * 1024 * 1024
    max_call_log: int = 10_000
    """Oldest call-log entries are dropped beyond this many."""


@dataclass
class HumanUser:
    """A human Telegram user driven through the control API."""

    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def as_user(self) -> JsonDict:
        data: JsonDict = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    def as_chat(self) -> JsonDict:
        data: JsonDict = {"id": self.user_id, "type": "private", "first_name": self.first_name}
        for key in ("last_name", "username"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class StoredFile:
    """File content kept in memory, addressable by file_id and file_path."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str
    kind: str
    file_name: str | None = None
    api_object: JsonDict | list[JsonDict] | None = None
    """The Bot API object sent with this file (PhotoSize list for photos), for file_id reuse."""

    def as_file(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def as_media(self) -> JsonDict:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": len(self.data)}


@dataclass
class MessageRecord:
    """A message in a private chat with its Bot API representation and edit history."""

    message_id: int
    from_bot: bool
    data: JsonDict
    created_seq: int
    deleted: bool = False
    edit_history: list[JsonDict] = field(default_factory=list)
    reply_keyboard: JsonDict | None = None

    def api(self) -> JsonDict:
        """The Bot API ``Message`` object (a copy)."""
        return copy.deepcopy(self.data)

    def view(self) -> JsonDict:
        """Control-API view: the Message plus emulator bookkeeping."""
        view = self.api()
        view.update(
            from_bot=self.from_bot, deleted=self.deleted, edit_history=copy.deepcopy(self.edit_history)
        )
        if self.reply_keyboard is not None:
            view["reply_keyboard"] = copy.deepcopy(self.reply_keyboard)
        return view


@dataclass
class ChatEvent:
    """Something that happened in a chat: a new message, an edit, a deletion, a button press."""

    seq: int
    kind: str
    from_bot: bool
    message: JsonDict

    def view(self) -> JsonDict:
        return {**copy.deepcopy(self.message), "event": self.kind, "seq": self.seq, "from_bot": self.from_bot}


@dataclass
class ForcedFlood:
    """Remaining forced 429 answers for a chat."""

    remaining: int
    retry_after: int


@dataclass
class WebhookConfig:
    """What setWebhook stored, plus delivery diagnostics for getWebhookInfo."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class BotAccount:
    """A bot served by the emulator, with its update queue and per-bot settings."""

    token: str
    user_id: int
    username: str
    first_name: str
    global_rate_limit: int | None = None
    per_chat_rate_limit: int | None = None
    commands: dict[tuple[str, str], list[JsonDict]] = field(default_factory=dict)
    profile: dict[tuple[str, str], str] = field(default_factory=dict)
    webhook: WebhookConfig | None = None
    webhook_deliveries: list[JsonDict] = field(default_factory=list)
    pending_updates: list[JsonDict] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: list[str] | None = None
    poll_generation: int = 0
    updates_notifier: Notifier = field(default_factory=Notifier)
    global_window: SlidingWindow | None = None

    def as_user(self) -> JsonDict:
        return {"id": self.user_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def get_me(self) -> JsonDict:
        return {
            **self.as_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def set_rate_limits(self, global_per_second: int | None, per_chat_per_second: int | None) -> None:
        self.global_rate_limit = global_per_second
        self.per_chat_rate_limit = per_chat_per_second
        self.global_window = SlidingWindow(global_per_second) if global_per_second else None

    def confirm_updates(self, offset: int) -> None:
        """getUpdates ``offset`` semantics: drop confirmed updates (negative = keep the last N)."""
        if offset < 0:
            del self.pending_updates[: max(len(self.pending_updates) + offset, 0)]
        else:
            self.pending_updates[:] = [u for u in self.pending_updates if u["update_id"] >= offset]

    def accepts(self, kind: str) -> bool:
        allowed = self.webhook.allowed_updates if self.webhook else self.allowed_updates
        return kind in allowed if allowed else kind not in DEFAULT_EXCLUDED_UPDATES


@dataclass
class PrivateChat:
    """The private chat between a bot and a user: history, events and per-chat switches."""

    bot: BotAccount
    user: HumanUser
    next_seq: Callable[[], int]
    messages: dict[int, MessageRecord] = field(default_factory=dict)
    events: list[ChatEvent] = field(default_factory=list)
    next_message_id: int = 1
    blocked: bool = False
    forced_flood: ForcedFlood | None = None
    keyboard: JsonDict | None = None
    last_action: str | None = None
    window: SlidingWindow | None = None
    notifier: Notifier = field(default_factory=Notifier)

    @property
    def chat_id(self) -> int:
        return self.user.user_id

    @property
    def chat_instance(self) -> str:
        return str((self.bot.user_id * 1_000_003 + self.user.user_id) % 10**19)

    def sender(self, from_bot: bool) -> JsonDict:
        return self.bot.as_user() if from_bot else self.user.as_user()

    def add_message(
        self, from_bot: bool, content: JsonDict, reply_keyboard: JsonDict | None = None
    ) -> MessageRecord:
        """Append a message; ``content`` holds the Message fields beyond id/date/chat/from."""
        message_id = self.next_message_id
        self.next_message_id += 1
        data = {
            "message_id": message_id,
            "from": self.sender(from_bot),
            "chat": self.user.as_chat(),
            "date": unix_now(),
            **content,
        }
        record = MessageRecord(message_id, from_bot, data, created_seq=0, reply_keyboard=reply_keyboard)
        self.messages[message_id] = record
        record.created_seq = self._event("message", from_bot, record)
        return record

    def edit_message(
        self, record: MessageRecord, changes: JsonDict, removed: tuple[str, ...] = ()
    ) -> MessageRecord:
        """Apply an edit by the bot, keeping the previous version in ``edit_history``."""
        previous = {
            key: copy.deepcopy(record.data[key])
            for key in ("text", "entities", "caption", "caption_entities", "reply_markup", "edit_date")
            if key in record.data
        }
        record.edit_history.append(previous)
        for key in removed:
            record.data.pop(key, None)
        record.data.update(copy.deepcopy(changes))
        record.data["edit_date"] = unix_now()
        self._event("edit", True, record)
        return record

    def delete_message(self, record: MessageRecord) -> None:
        record.deleted = True
        self._event("delete", True, record)

    def add_press_event(self, record: MessageRecord, data: str) -> int:
        """Record that the user pressed a button of ``record``; returns the event seq."""
        seq = self.next_seq()
        self.events.append(ChatEvent(seq, "callback", False, {**record.api(), "callback_data": data}))
        self.notifier.notify()
        return seq

    def live_message(self, message_id: int) -> MessageRecord | None:
        record = self.messages.get(message_id)
        return None if record is None or record.deleted else record

    def bot_events_after(self, seq: int) -> list[ChatEvent]:
        return [e for e in self.events if e.seq > seq and e.from_bot and e.kind in ("message", "edit")]

    def baseline_seq(self, after_message_id: int | None) -> int:
        record = self.messages.get(after_message_id) if after_message_id else None
        return record.created_seq if record else 0

    def _event(self, kind: str, from_bot: bool, record: MessageRecord) -> int:
        seq = self.next_seq()
        self.events.append(ChatEvent(seq, kind, from_bot, record.api()))
        self.notifier.notify()
        return seq


@dataclass
class CallbackRecord:
    """A callback query created by a button press, and the bot's answer to it."""

    callback_query_id: str
    token: str
    user_id: int
    message_id: int
    data: str
    created_at: float = field(default_factory=time.monotonic)
    answered: bool = False
    answer: JsonDict | None = None
    notifier: Notifier = field(default_factory=Notifier)

    def view(self) -> JsonDict:
        return {
            "callback_query_id": self.callback_query_id,
            "user_id": self.user_id,
            "message_id": self.message_id,
            "data": self.data,
            "answered": self.answered,
            "answer": copy.deepcopy(self.answer),
        }


@dataclass
class CallRecord:
    """One Bot API request as seen by the emulator (for tests to inspect)."""

    seq: int
    time: float
    token: str
    method: str
    params: JsonDict
    spec_ok: bool
    spec_errors: list[str]
    unknown_params: list[str]
    status: int = 200
    description: str | None = None

    def view(self) -> JsonDict:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "params": copy.deepcopy(self.params),
            "spec_ok": self.spec_ok,
            "spec_errors": list(self.spec_errors),
            "unknown_params": list(self.unknown_params),
            "status": self.status,
            "ok": self.status == 200,
            "description": self.description,
        }


class World:
    """All emulator state; one instance per running emulator."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        self.options = options or EmulatorOptions()
        self.bots: dict[str, BotAccount] = {}
        self.closed = False
        self._clear()

    def _clear(self) -> None:
        self.users: dict[int, HumanUser] = {}
        self.chats: dict[tuple[str, int], PrivateChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.calls: list[CallRecord] = []
        self._seq = itertools.count(1)
        self._file_counter = itertools.count(1)
        self._call_counter = itertools.count(1)

    def reset(self) -> None:
        """Forget users, chats, files, callbacks and calls; keep bots but reset their state."""
        bots = [(b.token, b.username, b.first_name) for b in self.bots.values()]
        self.bots = {}
        self._clear()
        for token, username, first_name in bots:
            self.add_bot(token, username, first_name)

    def close(self) -> None:
        """Mark the world as shutting down and wake every waiter (long polls, waits)."""
        self.closed = True
        for bot in self.bots.values():
            bot.updates_notifier.notify()
        for chat in self.chats.values():
            chat.notifier.notify()
        for callback in self.callbacks.values():
            callback.notifier.notify()

    def next_seq(self) -> int:
        return next(self._seq)

    # ------------------------------------------------------------------ bots/users

    def add_bot(self, token: str, username: str, first_name: str | None = None) -> BotAccount:
        """Register (or re-register) a bot; the bot's user id is the token's numeric prefix."""
        match = _TOKEN.match(token)
        if match is None:
            raise WorldError("token must look like '<digits>:<secret>'")
        if not re.fullmatch(r"[A-Za-z0-9_]{5,32}", username) or not username.lower().endswith("bot"):
            raise WorldError("bot username must be 5-32 characters [A-Za-z0-9_] ending in 'bot'")
        bot = BotAccount(token, int(match.group(1)), username, first_name or username)
        bot.set_rate_limits(self.options.global_rate_limit, self.options.per_chat_rate_limit)
        self.bots[token] = bot
        return bot

    def get_bot(self, token: str) -> BotAccount:
        bot = self.bots.get(token)
        if bot is None:
            raise WorldError("unknown bot token", status=404)
        return bot

    def upsert_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> HumanUser:
        if user_id <= 0:
            raise WorldError("user_id must be a positive integer")
        if any(bot.user_id == user_id for bot in self.bots.values()):
            raise WorldError("user_id collides with a bot id")
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = HumanUser(user_id, first_name)
        user.first_name, user.last_name = first_name, last_name
        user.username, user.language_code = username, language_code
        return user

    def get_user(self, user_id: int) -> HumanUser:
        user = self.users.get(user_id)
        if user is None:
            raise WorldError(f"unknown user {user_id}; create it with POST /_emu/users", status=404)
        return user

    # ----------------------------------------------------------------------- chats

    def find_chat(self, bot: BotAccount, chat_id: int) -> PrivateChat | None:
        return self.chats.get((bot.token, chat_id))

    def open_chat(self, bot: BotAccount, user: HumanUser) -> PrivateChat:
        chat = self.chats.get((bot.token, user.user_id))
        if chat is None:
            chat = PrivateChat(bot, user, self.next_seq)
            self.chats[(bot.token, user.user_id)] = chat
        return chat

    def get_chat(self, bot: BotAccount, user_id: int) -> PrivateChat:
        chat = self.find_chat(bot, user_id)
        if chat is None:
            raise WorldError(f"user {user_id} has no chat with this bot yet", status=404)
        return chat

    # ----------------------------------------------------------------------- files

    def store_file(
        self, kind: str, data: bytes, file_name: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        number = next(self._file_counter)
        folder = MEDIA_KINDS[kind].folder if kind in MEDIA_KINDS else "photos"
        extension = (
            re.sub(r"[^A-Za-z0-9]", "", file_name.rsplit(".", 1)[-1])[:10]
            if file_name and "." in file_name
            else ""
        )
        extension = extension or guess_extension(mime_type) or ("jpg" if kind == "photo" else "bin")
        stored = StoredFile(
            file_id=f"{_FILE_ID_PREFIX.get(kind, 'BQAC')}AgAD{number:06d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"AQAD{number:06d}{secrets.token_hex(2)}",
            file_path=f"{folder}/file_{number}.{extension}",
            data=data,
            mime_type=mime_type or guess_mime(file_name),
            kind=kind,
            file_name=file_name,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def store_photo(self, data: bytes, variants: list[PhotoVariant] | None = None) -> list[JsonDict]:
        """Store a photo's size variants; returns the ``Array of PhotoSize`` (largest last).

        Raises :class:`~bot.emulator.media.ImageProcessError` for undecodable data.
        """
        sizes = []
        for variant in variants if variants is not None else photo_variants(data):
            stored = self.store_file("photo", variant.data, mime_type="image/jpeg")
            sizes.append({**stored.as_media(), "width": variant.width, "height": variant.height})
        for size in sizes:
            self.files[size["file_id"]].api_object = sizes
        return sizes

    def store_media(
        self, kind: str, data: bytes, file_name: str | None = None, mime_type: str | None = None, **extra: Any
    ) -> JsonDict:
        """Store a non-photo media file; returns its Bot API object (Document, Voice, ...)."""
        spec = MEDIA_KINDS[kind]
        mime = mime_type or guess_mime(file_name, spec.default_mime)
        stored = self.store_file(kind, data, file_name, mime)
        media: JsonDict = {**stored.as_media(), **dict(spec.extra)}
        if kind != "sticker":
            media["mime_type"] = mime
        if spec.keeps_file_name and file_name:
            media["file_name"] = file_name
        media.update({key: value for key, value in extra.items() if value is not None})
        stored.api_object = media
        return media

    # --------------------------------------------------------------------- updates

    def enqueue_update(self, bot: BotAccount, kind: str, payload: JsonDict) -> JsonDict | None:
        """Queue an update for getUpdates/webhook; ``None`` if allowed_updates filters it out."""
        if not bot.accepts(kind):
            return None
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.pending_updates.append(update)
        bot.updates_notifier.notify()
        return update

    # -------------------------------------------------------------- user actions

    def user_sends(
        self, bot: BotAccount, user: HumanUser, content: JsonDict, reply_to_message_id: int | None = None
    ) -> tuple[MessageRecord, JsonDict | None]:
        """The user sends a message to the bot (opening the chat if needed)."""
        chat = self.open_chat(bot, user)
        if chat.blocked:
            raise WorldError("the user has blocked the bot; unblock first (POST /_emu/block)", status=409)
        content = dict(content)
        if isinstance(content.get("text"), str):
            content.setdefault("entities", bot_command_entities(content["text"]))
            if not content["entities"]:
                del content["entities"]
        if reply_to_message_id is not None:
            replied = chat.live_message(reply_to_message_id)
            if replied is None:
                raise WorldError(f"message {reply_to_message_id} not found in this chat")
            content["reply_to_message"] = _without_reply(replied.api())
        record = chat.add_message(False, content)
        return record, self.enqueue_update(bot, "message", record.api())

    def user_presses(
        self, bot: BotAccount, user: HumanUser, message_id: int, data: str, *, forged: bool = False
    ) -> tuple[CallbackRecord, int, JsonDict | None]:
        """The user presses an inline button with ``data`` on a bot message.

        ``forged``: skip the check that such a button exists, as a modified client can
        send any callback data (1-64 bytes) for any bot message; bots must not trust it.
        """
        chat = self.get_chat(bot, user.user_id)
        record = chat.live_message(message_id)
        if record is None or not record.from_bot:
            raise WorldError(f"bot message {message_id} not found in this chat")
        buttons = (record.data.get("reply_markup") or {}).get("inline_keyboard", [])
        if forged:
            if not 1 <= len(data.encode("utf-8")) <= 64:
                raise WorldError("callback_data must be 1-64 bytes")
        elif not any(button.get("callback_data") == data for row in buttons for button in row):
            raise WorldError("no inline button with this callback_data on the message's current keyboard")
        query_id = f"{bot.user_id % 10**6}{secrets.randbelow(10**12):012d}"
        callback = CallbackRecord(query_id, bot.token, user.user_id, message_id, data)
        self.callbacks[query_id] = callback
        seq = chat.add_press_event(record, data)
        payload = {
            "id": query_id,
            "from": user.as_user(),
            "message": record.api(),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        return callback, seq, self.enqueue_update(bot, "callback_query", payload)

    def set_blocked(self, bot: BotAccount, user: HumanUser, blocked: bool) -> JsonDict | None:
        """Block/unblock the bot; emits a my_chat_member update like Telegram."""
        chat = self.open_chat(bot, user)
        if chat.blocked == blocked:
            return None
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")

        def member(status: str) -> JsonDict:
            data: JsonDict = {"status": status, "user": bot.as_user()}
            if status == "kicked":
                data["until_date"] = 0
            return data

        payload = {
            "chat": user.as_chat(),
            "from": user.as_user(),
            "date": unix_now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        return self.enqueue_update(bot, "my_chat_member", payload)

    # ------------------------------------------------------------------- call log

    def log_call(
        self, token: str, method: str, params: JsonDict, spec_errors: list[str], unknown_params: list[str]
    ) -> CallRecord:
        record = CallRecord(
            next(self._call_counter),
            time.time(),
            token,
            method,
            params,
            not spec_errors,
            spec_errors,
            unknown_params,
        )
        self.calls.append(record)
        del self.calls[: -self.options.max_call_log]
        return record


def _without_reply(message: JsonDict) -> JsonDict:
    message.pop("reply_to_message", None)
    return message
