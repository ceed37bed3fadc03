"""aiohttp application of the Telegram Bot API emulator.

Serves three route groups on one port:

* Bot API: ``GET|POST /bot{token}/{method}`` (JSON, urlencoded or multipart
  bodies, exactly what aiogram's ``AiohttpSession`` sends) and file downloads at
  ``GET /file/bot{token}/{file_path}``;
* control API under ``/_emu/`` (JSON in, ``{"ok": true, "result": ...}`` out)
  used by tests and the sandbox to act as human users and inspect the world;
* nothing else (404).

:func:`start_emulator` runs it in-process on a free port; ``python -m bot.emulator``
runs it standalone.

Control routes (``token`` in the JSON body for POST, in the query for GET):

=======  =====================================  ==============================================
POST     /_emu/bots                             {token, username, first_name?} → getMe object
GET      /_emu/bots                             registered bots
POST     /_emu/users                            {user_id, first_name, last_name?, username?,
                                                language_code?} → User (create or update)
POST     /_emu/send                             {token, user_id, one of text | photo (base64) |
                                                document (base64, file_name?, mime_type?) |
                                                voice (base64, duration?) | sticker (emoji or
                                                {emoji, data?}) | location {latitude, longitude}
                                                | contact {phone_number, ...}, caption?,
                                                reply_to_message_id?} → message + update_id, seq
POST     /_emu/press                            {token, user_id, message_id, callback_data, forged?}
                                                → {callback_query_id, update_id, seq}
GET      /_emu/chats/{user_id}                  chat state (blocked, keyboard, last_action, ...)
GET      /_emu/chats/{user_id}/messages         ?after_message_id= history with from_bot,
                                                deleted, edit_history
POST     /_emu/wait                             {token, user_id, after_message_id? | after_seq?,
                                                count=1, timeout=5} → {events, complete}
GET      /_emu/callbacks/{id}                   callback query + the bot's answer
POST     /_emu/callbacks/{id}/wait              {timeout=5} → same, once answered (or timeout)
POST     /_emu/block                            {token, user_id, blocked=true}
POST     /_emu/ratelimit                        {token, global_per_second?, per_chat_per_second?,
                                                user_id?, count=1, retry_after=1}
GET      /_emu/calls                            ?token=&method= Bot API call log
GET      /_emu/commands                         stored setMyCommands per scope/language
GET      /_emu/updates, /_emu/webhook           pending updates; webhook config + deliveries
POST     /_emu/reset                            forget everything but the registered bots
GET      /_emu/health                           spec version/source, bot count
=======  =====================================  ==============================================
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .media import ImageProcessError
from .methods import ApiResponse, BotApi
from .spec import ApiSpec, UploadedFile, load_spec
from .state import BotAccount, EmulatorOptions, ForcedFlood, HumanUser, World, WorldError
from .webhook import WebhookDispatcher

__all__ = ["BotSeed", "Emulator", "RunningEmulator", "create_app", "start_emulator"]

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
ControlHandler = Callable[["Emulator", web.Request], Awaitable[Any]]

MAX_USER_TEXT = 4096


@dataclass(frozen=True)
class BotSeed:
    """A bot to register at start-up."""

    token: str
    username: str
    first_name: str | None = None


BotLike = BotSeed | Mapping[str, str] | tuple[str, ...]


def _seed(bot: BotLike) -> BotSeed:
    if isinstance(bot, BotSeed):
        return bot
    if isinstance(bot, Mapping):
        return BotSeed(bot["token"], bot["username"], bot.get("first_name"))
    return BotSeed(*bot)


class Emulator:
    """World + spec + Bot API dispatcher + webhook delivery, and the aiohttp app serving them.

    Keyword ``option_overrides`` are fields of :class:`~bot.emulator.state.EmulatorOptions`
    (e.g. ``global_rate_limit=30``, ``per_chat_rate_limit=1``, ``callback_query_ttl=15``).
    """

    def __init__(
        self,
        bots: Iterable[BotLike] = (),
        *,
        spec: ApiSpec | None = None,
        spec_path: str | None = None,
        options: EmulatorOptions | None = None,
        **option_overrides: Any,
    ) -> None:
        self.spec = spec or load_spec(spec_path)
        self.world = World(dataclasses.replace(options or EmulatorOptions(), **option_overrides))
        self.webhooks = WebhookDispatcher(self.world, self._webhook_call)
        self.api = BotApi(self.world, self.spec, self.webhooks)
        for bot in bots:
            seed = _seed(bot)
            self.world.add_bot(seed.token, seed.username, seed.first_name)

    async def _webhook_call(self, token: str, method: str, params: Mapping[str, Any]) -> ApiResponse:
        return await self.api.call(token, method, params)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.world.options.max_upload_size + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        for method, path, handler in _CONTROL_ROUTES:
            app.router.add_route(method, f"/_emu{path}", _control(self, handler))
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def close(self) -> None:
        self.world.close()
        await self.webhooks.close()

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.close()

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        try:
            raw = await _read_params(request)
        except ValueError:
            return _api_json(
                ApiResponse(
                    400,
                    {"ok": False, "error_code": 400, "description": "Bad Request: can't parse request body"},
                )
            )
        response = await self.api.call(request.match_info["token"], request.match_info["method"], raw)
        logger.debug("bot api %s -> %s", request.match_info["method"], response.status)
        return _api_json(response)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self.world.bots:
            return _api_json(
                ApiResponse(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            )
        stored = self.world.files_by_path.get(request.match_info["path"])
        if stored is None:
            return _api_json(ApiResponse(404, {"ok": False, "error_code": 404, "description": "Not Found"}))
        return web.Response(body=stored.data, content_type=stored.mime_type)


def _api_json(response: ApiResponse) -> web.Response:
    return web.json_response(response.body, status=response.status)


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Merge query string and body (JSON, urlencoded or multipart) into one raw param dict."""
    params: dict[str, Any] = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[key] = UploadedFile(value.filename, value.content_type, value.file.read())
            else:
                params[key] = value
    return params


# ----------------------------------------------------------------- control API


def _control(emulator: Emulator, handler: ControlHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def wrapped(request: web.Request) -> web.Response:
        try:
            result = await handler(emulator, request)
        except WorldError as error:
            return web.json_response({"ok": False, "description": str(error)}, status=error.status)
        except (KeyError, TypeError, ValueError) as error:
            detail = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            return web.json_response({"ok": False, "description": f"bad request: {detail}"}, status=400)
        return web.json_response({"ok": True, "result": result})

    return wrapped


async def _body(request: web.Request) -> JsonDict:
    if not request.body_exists:
        return {}
    body = await request.json()
    if not isinstance(body, dict):
        raise ValueError("JSON body must be an object")
    return body


def _bot(emulator: Emulator, request: web.Request, body: Mapping[str, Any] | None = None) -> BotAccount:
    token = (body or {}).get("token") or request.query.get("token")
    if not token:
        raise WorldError("token is required")
    return emulator.world.get_bot(str(token))


def _bot_user(
    emulator: Emulator, request: web.Request, body: Mapping[str, Any]
) -> tuple[BotAccount, HumanUser]:
    return _bot(emulator, request, body), emulator.world.get_user(int(body["user_id"]))


async def _register_bot(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    bot = emulator.world.add_bot(str(body["token"]), str(body["username"]), body.get("first_name"))
    return bot.get_me()


async def _list_bots(emulator: Emulator, request: web.Request) -> list[JsonDict]:
    return [bot.get_me() for bot in emulator.world.bots.values()]


async def _upsert_user(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    user = emulator.world.upsert_user(
        int(body["user_id"]),
        str(body["first_name"]),
        body.get("last_name"),
        body.get("username"),
        body.get("language_code"),
    )
    return user.as_user()


async def _list_users(emulator: Emulator, request: web.Request) -> list[JsonDict]:
    return [user.as_user() for user in emulator.world.users.values()]


def _decode(value: Any, field: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as error:
        raise WorldError(f"{field} must be base64-encoded bytes") from error


def _user_content(world: World, user: HumanUser, body: Mapping[str, Any]) -> JsonDict:
    """Message fields for what a user sends through POST /_emu/send."""
    caption = {"caption": body["caption"]} if body.get("caption") else {}
    if "text" in body:
        text = str(body["text"])
        if not text.strip() or len(text.encode("utf-16-le")) // 2 > MAX_USER_TEXT:
            raise WorldError("text must be 1-4096 characters")
        return {"text": text}
    if "photo" in body:
        try:
            return {"photo": world.store_photo(_decode(body["photo"], "photo")), **caption}
        except ImageProcessError as error:
            raise WorldError("photo is not a decodable image") from error
    if "document" in body:
        media = world.store_media(
            "document",
            _decode(body["document"], "document"),
            body.get("file_name") or "document.bin",
            body.get("mime_type"),
        )
        return {"document": media, **caption}
    if "voice" in body:
        data = _decode(body["voice"], "voice") if body["voice"] else b""
        return {
            "voice": world.store_media(
                "voice", data, mime_type="audio/ogg", duration=int(body.get("duration", 1))
            )
        }
    if "sticker" in body:
        return {"sticker": _sticker(world, body["sticker"])}
    if "location" in body:
        location = body["location"]
        return {
            "location": {"latitude": float(location["latitude"]), "longitude": float(location["longitude"])}
        }
    if "contact" in body:
        contact = body["contact"]
        return {
            "contact": {
                "phone_number": str(contact["phone_number"]),
                "first_name": contact.get("first_name") or user.first_name,
                **({"last_name": contact["last_name"]} if contact.get("last_name") else {}),
                "user_id": int(contact.get("user_id", user.user_id)),
            }
        }
    raise WorldError("nothing to send: give text, photo, document, voice, sticker, location or contact")


def _sticker(world: World, value: Any) -> JsonDict:
    spec = (
        value if isinstance(value, Mapping) else {"emoji": str(value) if value not in (None, True) else "👍"}
    )
    data = _decode(spec["data"], "sticker.data") if spec.get("data") else b""
    return world.store_media("sticker", data, emoji=spec.get("emoji", "👍"))


async def _send(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    bot, user = _bot_user(emulator, request, body)
    content = _user_content(emulator.world, user, body)
    reply_to = body.get("reply_to_message_id")
    record, update = emulator.world.user_sends(bot, user, content, int(reply_to) if reply_to else None)
    return {**record.view(), "update_id": update["update_id"] if update else None, "seq": record.created_seq}


async def _press(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    bot, user = _bot_user(emulator, request, body)
    callback, seq, update = emulator.world.user_presses(
        bot, user, int(body["message_id"]), str(body["callback_data"]), forged=bool(body.get("forged"))
    )
    return {
        "callback_query_id": callback.callback_query_id,
        "update_id": update["update_id"] if update else None,
        "seq": seq,
    }


async def _chat_messages(emulator: Emulator, request: web.Request) -> list[JsonDict]:
    chat = emulator.world.get_chat(_bot(emulator, request), int(request.match_info["user_id"]))
    after = int(request.query.get("after_message_id", 0))
    return [record.view() for message_id, record in sorted(chat.messages.items()) if message_id > after]


async def _chat_info(emulator: Emulator, request: web.Request) -> JsonDict:
    chat = emulator.world.get_chat(_bot(emulator, request), int(request.match_info["user_id"]))
    return {
        "chat_id": chat.chat_id,
        "user": chat.user.as_user(),
        "blocked": chat.blocked,
        "keyboard": chat.keyboard,
        "last_action": chat.last_action,
        "last_message_id": chat.next_message_id - 1,
        "last_seq": chat.events[-1].seq if chat.events else 0,
    }


async def _wait(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    chat = emulator.world.get_chat(_bot(emulator, request, body), int(body["user_id"]))
    after_seq = body.get("after_seq")
    baseline = int(after_seq) if after_seq is not None else chat.baseline_seq(body.get("after_message_id"))
    count = int(body.get("count", 1))
    complete = await chat.notifier.wait_for(
        lambda: len(chat.bot_events_after(baseline)) >= count or emulator.world.closed,
        float(body.get("timeout", 5)),
    )
    events = chat.bot_events_after(baseline)
    return {"events": [event.view() for event in events], "complete": complete and len(events) >= count}


def _callback(emulator: Emulator, request: web.Request) -> Any:
    callback = emulator.world.callbacks.get(request.match_info["callback_query_id"])
    if callback is None:
        raise WorldError("unknown callback query id", status=404)
    return callback


async def _get_callback(emulator: Emulator, request: web.Request) -> JsonDict:
    return _callback(emulator, request).view()


async def _wait_callback(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    callback = _callback(emulator, request)
    await callback.notifier.wait_for(
        lambda: callback.answered or emulator.world.closed, float(body.get("timeout", 5))
    )
    return callback.view()


async def _block(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    bot, user = _bot_user(emulator, request, body)
    blocked = bool(body.get("blocked", True))
    update = emulator.world.set_blocked(bot, user, blocked)
    return {"blocked": blocked, "update_id": update["update_id"] if update else None}


async def _ratelimit(emulator: Emulator, request: web.Request) -> JsonDict:
    body = await _body(request)
    bot = _bot(emulator, request, body)
    if "global_per_second" in body or "per_chat_per_second" in body:
        bot.set_rate_limits(
            body.get("global_per_second", bot.global_rate_limit),
            body.get("per_chat_per_second", bot.per_chat_rate_limit),
        )
    forced = None
    if body.get("user_id") is not None:
        chat = emulator.world.get_chat(bot, int(body["user_id"]))
        count, retry_after = int(body.get("count", 1)), int(body.get("retry_after", 1))
        chat.forced_flood = ForcedFlood(count, max(retry_after, 1)) if count > 0 else None
        forced = {"user_id": chat.chat_id, "count": count, "retry_after": retry_after}
    return {
        "global_per_second": bot.global_rate_limit,
        "per_chat_per_second": bot.per_chat_rate_limit,
        "forced": forced,
    }


async def _calls(emulator: Emulator, request: web.Request) -> list[JsonDict]:
    token = request.query.get("token")
    method = request.query.get("method", "").lower()
    return [
        call.view()
        for call in emulator.world.calls
        if (token is None or call.token == token) and (not method or call.method.lower() == method)
    ]


async def _commands(emulator: Emulator, request: web.Request) -> list[JsonDict]:
    bot = _bot(emulator, request)
    return [
        {"scope": json.loads(scope), "language_code": language, "commands": commands}
        for (scope, language), commands in bot.commands.items()
    ]


async def _updates(emulator: Emulator, request: web.Request) -> list[JsonDict]:
    return list(_bot(emulator, request).pending_updates)


async def _webhook(emulator: Emulator, request: web.Request) -> JsonDict:
    bot = _bot(emulator, request)
    config = dataclasses.asdict(bot.webhook) if bot.webhook else None
    if config:
        config["has_secret_token"] = bool(config.pop("secret_token"))
    return {"config": config, "deliveries": list(bot.webhook_deliveries)}


async def _reset(emulator: Emulator, request: web.Request) -> bool:
    await emulator.webhooks.close()
    emulator.world.reset()
    return True


async def _health(emulator: Emulator, request: web.Request) -> JsonDict:
    spec = emulator.spec
    return {
        "spec_version": spec.version,
        "spec_source": str(spec.source),
        "spec_is_subset": spec.is_subset,
        "bots": len(emulator.world.bots),
    }


_CONTROL_ROUTES: list[tuple[str, str, ControlHandler]] = [
    ("GET", "/health", _health),
    ("POST", "/bots", _register_bot),
    ("GET", "/bots", _list_bots),
    ("POST", "/users", _upsert_user),
    ("GET", "/users", _list_users),
    ("POST", "/send", _send),
    ("POST", "/press", _press),
    ("GET", "/chats/{user_id}", _chat_info),
    ("GET", "/chats/{user_id}/messages", _chat_messages),
    ("POST", "/wait", _wait),
    ("GET", "/callbacks/{callback_query_id}", _get_callback),
    ("POST", "/callbacks/{callback_query_id}/wait", _wait_callback),
    ("POST", "/block", _block),
    ("POST", "/ratelimit", _ratelimit),
    ("GET", "/calls", _calls),
    ("GET", "/commands", _commands),
    ("GET", "/updates", _updates),
    ("GET", "/webhook", _webhook),
    ("POST", "/reset", _reset),
]


# ---------------------------------------------------------------------- running


def create_app(bots: Iterable[BotLike] = (), **kwargs: Any) -> web.Application:
    """aiohttp application for an emulator built with ``Emulator(bots, **kwargs)``."""
    return Emulator(bots, **kwargs).make_app()


@dataclass
class RunningEmulator:
    """An emulator serving on a local port (see :func:`start_emulator`)."""

    base_url: str
    emulator: Emulator
    runner: web.AppRunner

    @property
    def state(self) -> World:
        return self.emulator.world

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        await self.emulator.close()
        await self.runner.cleanup()


async def start_emulator(host: str = "127.0.0.1", port: int = 0, **options: Any) -> RunningEmulator:
    """Start an emulator in the running event loop; ``port=0`` picks a free port.

    ``options`` go to :class:`Emulator`: ``bots=[BotSeed(...)|{"token", "username", "first_name"}]``,
    ``spec_path=``, ``spec=``, and any :class:`~bot.emulator.state.EmulatorOptions` field.
    """
    emulator = Emulator(**options)
    runner = web.AppRunner(emulator.make_app(), shutdown_timeout=2.0, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        await runner.cleanup()
        raise
    site = web.SockSite(runner, sock)
    await site.start()
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    return RunningEmulator(f"http://{url_host}:{bound_port}", emulator, runner)
