"""Bot API method semantics of the emulator.

:class:`BotApi` receives one bot request (token, method name, raw params),
checks it against the spec, logs it in the world's call log and runs the
method's handler.  Handlers mirror Telegram's behaviour and error texts
("Bad Request: message is too long", 429 flood waits with ``retry_after``,
403 for blocked users, ...).  Spec-known methods without a handler answer
400 "Bad Request: method not supported by emulator".
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from .formatting import EntityParseError, FormattedText, UnsupportedParseModeError, format_text, utf16_len
from .media import MEDIA_KINDS, ImageProcessError, PhotoVariant, photo_variants
from .spec import ApiSpec, UploadedFile, Violation, check_params
from .state import BotAccount, MessageRecord, PrivateChat, SlidingWindow, StoredFile, WebhookConfig, World

__all__ = ["ApiResponse", "BotApi", "BotApiError", "CallContext", "implemented_methods"]

JsonDict = dict[str, Any]

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
COPYABLE_FIELDS = (
    "text",
    "entities",
    "photo",
    "document",
    "audio",
    "video",
    "animation",
    "voice",
    "sticker",
    "caption",
    "caption_entities",
    "location",
    "contact",
)
MEDIA_EXTRA_PARAMS = ("duration", "width", "height", "performer", "title", "emoji")
MAX_TEXT, MAX_CAPTION, MAX_CALLBACK_TEXT, MAX_BUTTONS = 4096, 1024, 200, 100
MAX_PHOTO_SIZE = 10 * 1024 * 1024


class BotApiError(Exception):
    """An error answer of the Bot API (``ok: false``)."""

    def __init__(self, error_code: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


def flood_wait(retry_after: int) -> BotApiError:
    return BotApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


@dataclass(frozen=True)
class ApiResponse:
    """HTTP status and JSON body of a Bot API answer."""

    status: int
    body: JsonDict

    @classmethod
    def success(cls, result: Any) -> ApiResponse:
        return cls(200, {"ok": True, "result": result})

    @classmethod
    def failure(cls, error: BotApiError) -> ApiResponse:
        body: JsonDict = {"ok": False, "error_code": error.error_code, "description": error.description}
        if error.parameters:
            body["parameters"] = error.parameters
        return cls(error.error_code, body)


class WebhookHooks(Protocol):
    """Notified when a bot's webhook configuration changes (to start/stop delivery)."""

    def webhook_changed(self, bot: BotAccount) -> None: ...


class _NoHooks:
    def webhook_changed(self, bot: BotAccount) -> None:
        return None


@dataclass
class CallContext:
    """Everything a method handler needs."""

    world: World
    bot: BotAccount
    params: JsonDict
    hooks: WebhookHooks = field(default_factory=_NoHooks)

    def get(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value is None else value


Handler = Callable[[CallContext], Awaitable[Any]]
_HANDLERS: dict[str, Handler] = {}


def _method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[name] = handler
        return handler

    return register


def implemented_methods() -> list[str]:
    """Canonical names of the Bot API methods the emulator implements."""
    return sorted(_HANDLERS)


class BotApi:
    """Entry point for bot requests: authenticate, spec-check, log, dispatch."""

    def __init__(self, world: World, spec: ApiSpec, hooks: WebhookHooks | None = None) -> None:
        self.world = world
        self.spec = spec
        self.hooks: WebhookHooks = hooks or _NoHooks()

    async def call(self, token: str, method_name: str, raw: Mapping[str, Any]) -> ApiResponse:
        canonical = self.spec.canonical_name(method_name)
        method = self.spec.method(canonical) if canonical else None
        check = check_params(self.spec, method, raw) if method else None
        params = check.params if check else {}
        spec_errors = (
            [str(v) for v in check.violations] if check else ([] if canonical else ["method not in spec"])
        )
        record = self.world.log_call(
            token,
            canonical or method_name,
            _loggable(params if check else raw),
            spec_errors,
            check.unknown_params if check else [],
        )
        try:
            result = await self._dispatch(token, canonical, check.violations if check else [], params)
            response = ApiResponse.success(result)
        except BotApiError as error:
            response = ApiResponse.failure(error)
        record.status = response.status
        record.description = response.body.get("description")
        return response

    async def _dispatch(
        self, token: str, canonical: str | None, violations: list[Violation], params: JsonDict
    ) -> Any:
        bot = self.world.bots.get(token)
        if bot is None:
            raise BotApiError(401, "Unauthorized")
        if canonical is None:
            raise BotApiError(404, "Not Found")
        if violations:
            raise bad_request(_describe_violation(self.spec, canonical, violations[0]))
        handler = _HANDLERS.get(canonical)
        if handler is None:
            raise bad_request("method not supported by emulator")
        return await handler(CallContext(self.world, bot, params, self.hooks))


def _describe_violation(spec: ApiSpec, method_name: str, violation: Violation) -> str:
    """Telegram-like wording for a spec violation."""
    name = violation.param
    if violation.kind == "missing":
        method = spec.method(method_name)
        spec_field = method.field(name) if method else None
        if name == "text":
            return "message text is empty"
        if spec_field is not None and "InputFile" in spec_field.types:
            return f"there is no {name} in the request"
        return f"{name} is empty" if name.endswith("_id") else f"{name} is required"
    if name == "reply_markup":
        return "can't parse reply keyboard markup JSON object"
    if name in ("entities", "caption_entities"):
        return "can't parse entities JSON object"
    return f"can't parse {name}: {violation.detail}"


def _loggable(params: Mapping[str, Any]) -> JsonDict:
    return {
        key: value.describe() if isinstance(value, UploadedFile) else copy.deepcopy(value)
        for key, value in params.items()
    }


# ------------------------------------------------------------------------ helpers


def _resolve_chat(ctx: CallContext, param: str = "chat_id", *, check_blocked: bool = True) -> PrivateChat:
    chat_id = ctx.params.get(param)
    chat = ctx.world.find_chat(ctx.bot, chat_id) if isinstance(chat_id, int) else None
    if chat is None:
        raise bad_request("chat not found")
    if check_blocked and chat.blocked:
        raise BotApiError(403, "Forbidden: bot was blocked by the user")
    return chat


def _admit_send(ctx: CallContext, chat: PrivateChat) -> None:
    """Apply forced floods and rate limits to a message send."""
    forced = chat.forced_flood
    if forced is not None:
        forced.remaining -= 1
        if forced.remaining <= 0:
            chat.forced_flood = None
        raise flood_wait(forced.retry_after)
    limit = ctx.bot.per_chat_rate_limit
    if not limit:
        chat.window = None
    elif chat.window is None or chat.window.limit != limit:
        chat.window = SlidingWindow(limit)
    now = time.monotonic()
    windows = [w for w in (ctx.bot.global_window, chat.window) if w is not None]
    for window in windows:
        retry_after = window.retry_after(now)
        if retry_after is not None:
            raise flood_wait(retry_after)
    for window in windows:
        window.hit(now)


def _format(ctx: CallContext, text_param: str, entities_param: str) -> FormattedText | None:
    text = ctx.params.get(text_param)
    if text is None:
        return None
    try:
        return format_text(text, ctx.params.get("parse_mode"), ctx.params.get(entities_param))
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from error
    except UnsupportedParseModeError as error:
        raise bad_request(f"unsupported parse_mode {error}") from error


def _text_content(ctx: CallContext) -> JsonDict:
    formatted = _format(ctx, "text", "entities")
    if formatted is None or not formatted.text:
        raise bad_request("message text is empty")
    if utf16_len(formatted.text) > MAX_TEXT:
        raise bad_request("message is too long")
    return _with_entities({"text": formatted.text}, "entities", formatted.entities)


def _caption_content(ctx: CallContext) -> JsonDict:
    formatted = _format(ctx, "caption", "caption_entities")
    if formatted is None or not formatted.text:
        return {}
    if utf16_len(formatted.text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    content = _with_entities({"caption": formatted.text}, "caption_entities", formatted.entities)
    if ctx.params.get("show_caption_above_media"):
        content["show_caption_above_media"] = True
    return content


def _with_entities(content: JsonDict, key: str, entities: list[JsonDict]) -> JsonDict:
    if entities:
        content[key] = entities
    return content


def _validate_inline_keyboard(rows: list[list[JsonDict]]) -> None:
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            _validate_inline_button(button)


def _validate_inline_button(button: JsonDict) -> None:
    if not str(button.get("text", "")).strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [
        name
        for name in INLINE_ACTIONS
        if button.get(name) is not None and not (name == "pay" and button[name] is False)
    ]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used "
            f"(got {', '.join(actions)})"
        )
    if "callback_data" in actions and not 1 <= len(str(button["callback_data"]).encode("utf-8")) <= 64:
        raise bad_request("BUTTON_DATA_INVALID")
    if "url" in actions:
        url = str(button["url"])
        if not url.strip() or any(char.isspace() for char in url):
            raise bad_request("BUTTON_URL_INVALID")


def _validate_reply_keyboard(rows: list[list[JsonDict]]) -> None:
    for row in rows:
        for button in row:
            if not str(button.get("text", "")).strip():
                raise bad_request("can't parse keyboard button: Text must be non-empty")


def _reply_markup(ctx: CallContext, inline_only: bool = False) -> tuple[JsonDict | None, JsonDict | None]:
    """Split reply_markup into (inline markup for the Message, reply keyboard for the user)."""
    markup = ctx.params.get("reply_markup")
    if markup is None:
        return None, None
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
        return {"inline_keyboard": copy.deepcopy(markup["inline_keyboard"])}, None
    if inline_only:
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "keyboard" in markup:
        _validate_reply_keyboard(markup["keyboard"])
    return None, copy.deepcopy(markup)


def _apply_keyboard(chat: PrivateChat, markup: JsonDict | None) -> None:
    if markup is None:
        return
    if "keyboard" in markup:
        chat.keyboard = markup
    elif markup.get("remove_keyboard"):
        chat.keyboard = None


def _reply_to(ctx: CallContext, chat: PrivateChat) -> JsonDict:
    parameters = ctx.params.get("reply_parameters")
    if not parameters:
        return {}
    replied = chat.live_message(int(parameters["message_id"]))
    if replied is None:
        if parameters.get("allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")
    message = replied.api()
    message.pop("reply_to_message", None)
    return {"reply_to_message": message}


def _finish_send(
    ctx: CallContext, chat: PrivateChat, content: JsonDict, inline: JsonDict | None, keyboard: JsonDict | None
) -> JsonDict:
    if inline is not None:
        content["reply_markup"] = inline
    if ctx.params.get("protect_content"):
        content["has_protected_content"] = True
    record = chat.add_message(True, content, reply_keyboard=keyboard)
    _apply_keyboard(chat, keyboard)
    return record.api()


# --------------------------------------------------------------- bot & updates


@_method("getMe")
async def get_me(ctx: CallContext) -> JsonDict:
    return ctx.bot.get_me()


@_method("logOut")
async def log_out(ctx: CallContext) -> bool:
    return True


@_method("close")
async def close(ctx: CallContext) -> bool:
    return True


@_method("getUpdates")
async def get_updates(ctx: CallContext) -> list[JsonDict]:
    bot = ctx.bot
    if bot.webhook is not None:
        raise BotApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    allowed = ctx.params.get("allowed_updates")
    if allowed is not None:
        bot.allowed_updates = list(allowed) or None
    if "offset" in ctx.params:
        bot.confirm_updates(ctx.params["offset"])
    limit = min(max(ctx.get("limit", 100), 1), 100)
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.updates_notifier.notify()  # wakes an older long poll, which then reports a conflict
    await bot.updates_notifier.wait_for(
        lambda: bool(bot.pending_updates) or bot.poll_generation != generation or ctx.world.closed,
        max(ctx.get("timeout", 0), 0),
    )
    if ctx.world.closed:
        return []
    if bot.poll_generation != generation:
        raise BotApiError(
            409,
            "Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running",
        )
    return copy.deepcopy(bot.pending_updates[:limit])


@_method("setWebhook")
async def set_webhook(ctx: CallContext) -> bool:
    url = ctx.params["url"].strip()
    if not url:
        return await delete_webhook(ctx)
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if ctx.world.options.allow_http_webhooks else ("https",)
    if parts.scheme not in allowed_schemes:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if not parts.hostname:
        raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
    secret = ctx.params.get("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = ctx.get("max_connections", 40)
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    if ctx.params.get("drop_pending_updates"):
        ctx.bot.pending_updates.clear()
    allowed = ctx.params.get("allowed_updates")
    ctx.bot.webhook = WebhookConfig(
        url, secret, max_connections, list(allowed) if allowed else None, ctx.params.get("ip_address")
    )
    ctx.bot.updates_notifier.notify()
    ctx.hooks.webhook_changed(ctx.bot)
    return True


@_method("deleteWebhook")
async def delete_webhook(ctx: CallContext) -> bool:
    if ctx.params.get("drop_pending_updates"):
        ctx.bot.pending_updates.clear()
    ctx.bot.webhook = None
    ctx.bot.updates_notifier.notify()
    ctx.hooks.webhook_changed(ctx.bot)
    return True


@_method("getWebhookInfo")
async def get_webhook_info(ctx: CallContext) -> JsonDict:
    bot, webhook = ctx.bot, ctx.bot.webhook
    info: JsonDict = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending_updates),
    }
    if webhook is not None:
        info["max_connections"] = webhook.max_connections
        optional = {
            "ip_address": webhook.ip_address,
            "allowed_updates": webhook.allowed_updates,
            "last_error_date": webhook.last_error_date,
            "last_error_message": webhook.last_error_message,
        }
        info.update({key: value for key, value in optional.items() if value is not None})
    return info


# ------------------------------------------------------------- bot settings


def _commands_key(ctx: CallContext) -> tuple[str, str]:
    scope = ctx.params.get("scope") or {"type": "default"}
    language = ctx.get("language_code", "")
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("invalid language code specified")
    return json.dumps(scope, sort_keys=True, ensure_ascii=False), language


@_method("setMyCommands")
async def set_my_commands(ctx: CallContext) -> bool:
    commands = ctx.params["commands"]
    if len(commands) > 100:
        raise bad_request("too many commands specified")
    for command in commands:
        if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(command["description"].strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = _commands_key(ctx)
    if commands:
        ctx.bot.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
    else:
        ctx.bot.commands.pop(key, None)
    return True


@_method("getMyCommands")
async def get_my_commands(ctx: CallContext) -> list[JsonDict]:
    return copy.deepcopy(ctx.bot.commands.get(_commands_key(ctx), []))


@_method("deleteMyCommands")
async def delete_my_commands(ctx: CallContext) -> bool:
    ctx.bot.commands.pop(_commands_key(ctx), None)
    return True


def _profile_setter(param: str, limit: int) -> Handler:
    async def setter(ctx: CallContext) -> bool:
        value = ctx.get(param, "")
        if len(value) > limit:
            raise bad_request(f"{param} is too long")
        ctx.bot.profile[(param, ctx.get("language_code", ""))] = value
        return True

    return setter


def _profile_getter(param: str) -> Handler:
    async def getter(ctx: CallContext) -> JsonDict:
        profile = ctx.bot.profile
        language = ctx.get("language_code", "")
        value = profile.get((param, language)) or profile.get((param, ""))
        if value is None and param == "name":
            value = ctx.bot.first_name
        return {param: value or ""}

    return getter


for _param, _limit, _suffix in (
    ("name", 64, "Name"),
    ("description", 512, "Description"),
    ("short_description", 120, "ShortDescription"),
):
    _method(f"setMy{_suffix}")(_profile_setter(_param, _limit))
    _method(f"getMy{_suffix}")(_profile_getter(_param))


# ------------------------------------------------------------------ messages


@_method("sendMessage")
async def send_message(ctx: CallContext) -> JsonDict:
    chat = _resolve_chat(ctx)
    content = _text_content(ctx)
    inline, keyboard = _reply_markup(ctx)
    reply = _reply_to(ctx, chat)
    _admit_send(ctx, chat)
    return _finish_send(ctx, chat, {**reply, **content}, inline, keyboard)


@dataclass
class _FileSource:
    """A resolved file parameter: a fresh upload, a known file_id or an (unfetched) URL."""

    upload: UploadedFile | None = None
    known: StoredFile | None = None
    url: str | None = None
    variants: list[PhotoVariant] | None = None


def _file_source(ctx: CallContext, kind: str) -> _FileSource:
    value = ctx.params[kind]
    if isinstance(value, UploadedFile):
        if len(value.data) > ctx.world.options.max_upload_size or (
            kind == "photo" and len(value.data) > MAX_PHOTO_SIZE
        ):
            raise BotApiError(413, "Request Entity Too Large")
        if kind == "document" and not value.data:
            raise bad_request("file must be non-empty")
        if kind != "photo":
            return _FileSource(upload=value)
        try:
            return _FileSource(upload=value, variants=photo_variants(value.data))
        except ImageProcessError as error:
            raise bad_request("IMAGE_PROCESS_FAILED") from error
    if value.startswith(("http://", "https://")):
        return _FileSource(url=value)
    known = ctx.world.files.get(value)
    if known is None or known.kind != kind or known.api_object is None:
        raise bad_request("wrong file identifier/HTTP URL specified")
    return _FileSource(known=known)


def _store_source(ctx: CallContext, kind: str, source: _FileSource) -> Any:
    world = ctx.world
    if source.known is not None:
        return copy.deepcopy(source.known.api_object)
    if source.upload is not None:
        data, file_name, mime = source.upload.data, source.upload.filename, None
    else:
        url = str(source.url)
        data, file_name, mime = b"", urlsplit(url).path.rsplit("/", 1)[-1] or None, None
    if kind == "photo":
        return world.store_photo(data, source.variants or [PhotoVariant(data, 0, 0)])
    if source.upload is not None and source.upload.content_type not in ("", "application/octet-stream"):
        mime = source.upload.content_type
    extra = {key: ctx.params.get(key) for key in MEDIA_EXTRA_PARAMS if key in ctx.params}
    return world.store_media(kind, data, file_name, mime, **extra)


async def _send_file_message(ctx: CallContext, kind: str) -> JsonDict:
    chat = _resolve_chat(ctx)
    source = _file_source(ctx, kind)
    caption = _caption_content(ctx) if kind != "sticker" else {}
    inline, keyboard = _reply_markup(ctx)
    reply = _reply_to(ctx, chat)
    _admit_send(ctx, chat)
    media = _store_source(ctx, kind, source)
    return _finish_send(ctx, chat, {**reply, kind: media, **caption}, inline, keyboard)


def _file_sender(kind: str) -> Handler:
    async def sender(ctx: CallContext) -> JsonDict:
        return await _send_file_message(ctx, kind)

    return sender


_method("sendPhoto")(_file_sender("photo"))
for _kind in MEDIA_KINDS:
    _method(f"send{_kind.capitalize()}")(_file_sender(_kind))


@_method("sendLocation")
async def send_location(ctx: CallContext) -> JsonDict:
    chat = _resolve_chat(ctx)
    latitude, longitude = float(ctx.params["latitude"]), float(ctx.params["longitude"])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong location")
    inline, keyboard = _reply_markup(ctx)
    reply = _reply_to(ctx, chat)
    _admit_send(ctx, chat)
    location: JsonDict = {"latitude": latitude, "longitude": longitude}
    location.update(
        {
            key: ctx.params[key]
            for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius")
            if key in ctx.params
        }
    )
    return _finish_send(ctx, chat, {**reply, "location": location}, inline, keyboard)


@_method("sendChatAction")
async def send_chat_action(ctx: CallContext) -> bool:
    chat = _resolve_chat(ctx)
    if ctx.params["action"] not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.last_action = ctx.params["action"]
    return True


def _source_message(ctx: CallContext, verb: str) -> MessageRecord:
    source_chat = _resolve_chat(ctx, "from_chat_id", check_blocked=False)
    record = source_chat.live_message(ctx.params["message_id"])
    if record is None:
        raise bad_request(f"message to {verb} not found")
    if record.data.get("has_protected_content"):
        raise bad_request(f"message has protected content and can't be {verb}ed")
    return record


def _copyable(record: MessageRecord) -> JsonDict:
    return {key: copy.deepcopy(record.data[key]) for key in COPYABLE_FIELDS if key in record.data}


@_method("forwardMessage")
async def forward_message(ctx: CallContext) -> JsonDict:
    record = _source_message(ctx, "forward")
    chat = _resolve_chat(ctx)
    _admit_send(ctx, chat)
    origin = {"type": "user", "sender_user": record.data["from"], "date": record.data["date"]}
    return _finish_send(ctx, chat, {"forward_origin": origin, **_copyable(record)}, None, None)


@_method("copyMessage")
async def copy_message(ctx: CallContext) -> JsonDict:
    record = _source_message(ctx, "copy")
    chat = _resolve_chat(ctx)
    content = _copyable(record)
    if "caption" in ctx.params and "text" not in content:
        content = {k: v for k, v in content.items() if k not in ("caption", "caption_entities")}
        content.update(_caption_content(ctx))
    inline, keyboard = _reply_markup(ctx)
    reply = _reply_to(ctx, chat)
    _admit_send(ctx, chat)
    return {"message_id": _finish_send(ctx, chat, {**reply, **content}, inline, keyboard)["message_id"]}


# ------------------------------------------------------------------ editing


def _editable_message(ctx: CallContext) -> tuple[PrivateChat, MessageRecord]:
    if ctx.params.get("inline_message_id"):
        raise bad_request("inline messages are not supported by emulator")
    if ctx.params.get("chat_id") is None:
        raise bad_request("chat_id is empty")
    if ctx.params.get("message_id") is None:
        raise bad_request("message identifier is not specified")
    chat = _resolve_chat(ctx)
    record = chat.live_message(ctx.params["message_id"])
    if record is None:
        raise bad_request("message to edit not found")
    if not record.from_bot:
        raise bad_request("message can't be edited")
    return chat, record


def _apply_edit(chat: PrivateChat, record: MessageRecord, new: JsonDict) -> JsonDict:
    """Apply an edit where ``None``/empty values remove the field; reject no-op edits."""
    if all((record.data.get(key) or None) == (value or None) for key, value in new.items()):
        raise bad_request(NOT_MODIFIED)
    chat.edit_message(
        record, {k: v for k, v in new.items() if v}, removed=tuple(k for k, v in new.items() if not v)
    )
    return record.api()


@_method("editMessageText")
async def edit_message_text(ctx: CallContext) -> JsonDict:
    chat, record = _editable_message(ctx)
    content = _text_content(ctx)
    inline, _ = _reply_markup(ctx, inline_only=True)
    if "text" not in record.data:
        raise bad_request("there is no text in the message to edit")
    return _apply_edit(
        chat, record, {"text": content["text"], "entities": content.get("entities"), "reply_markup": inline}
    )


@_method("editMessageCaption")
async def edit_message_caption(ctx: CallContext) -> JsonDict:
    chat, record = _editable_message(ctx)
    content = _caption_content(ctx)
    inline, _ = _reply_markup(ctx, inline_only=True)
    if "text" in record.data:
        raise bad_request("there is no caption in the message to edit")
    return _apply_edit(
        chat,
        record,
        {
            "caption": content.get("caption"),
            "caption_entities": content.get("caption_entities"),
            "reply_markup": inline,
        },
    )


@_method("editMessageReplyMarkup")
async def edit_message_reply_markup(ctx: CallContext) -> JsonDict:
    chat, record = _editable_message(ctx)
    inline, _ = _reply_markup(ctx, inline_only=True)
    return _apply_edit(chat, record, {"reply_markup": inline})


@_method("deleteMessage")
async def delete_message(ctx: CallContext) -> bool:
    chat = _resolve_chat(ctx, check_blocked=False)
    record = chat.live_message(ctx.params["message_id"])
    if record is None:
        raise bad_request("message to delete not found")
    chat.delete_message(record)
    return True


@_method("answerCallbackQuery")
async def answer_callback_query(ctx: CallContext) -> bool:
    callback = ctx.world.callbacks.get(ctx.params["callback_query_id"])
    if (
        callback is None
        or callback.token != ctx.bot.token
        or callback.answered
        or time.monotonic() - callback.created_at > ctx.world.options.callback_query_ttl
    ):
        raise bad_request(QUERY_TOO_OLD)
    if len(ctx.get("text", "")) > MAX_CALLBACK_TEXT:
        raise bad_request("MESSAGE_TOO_LONG")
    callback.answered = True
    callback.answer = {
        key: ctx.params[key] for key in ("text", "show_alert", "url", "cache_time") if key in ctx.params
    }
    callback.notifier.notify()
    return True


# -------------------------------------------------------------- files & chats


@_method("getFile")
async def get_file(ctx: CallContext) -> JsonDict:
    stored = ctx.world.files.get(ctx.params["file_id"])
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > ctx.world.options.max_download_size:
        raise bad_request("file is too big")
    return stored.as_file()


@_method("getChat")
async def get_chat(ctx: CallContext) -> JsonDict:
    chat = _resolve_chat(ctx, check_blocked=False)
    gifts = dict.fromkeys(
        ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
        True,
    )
    return {
        **chat.user.as_chat(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": gifts,
    }
