"""Async client for the emulator's control API (``/_emu/...``).

Tests and the sandbox use :class:`EmulatorClient` to act as human users of one
bot (identified by its token): create users, send messages/media, press inline
buttons, block the bot, and observe what the bot did (chat history, waits for
replies, callback answers, the Bot API call log, stored commands).
"""

# ruff: noqa: ASYNC109  -- ``timeout`` arguments are server-side wait durations sent to the emulator

from __future__ import annotations

import base64
from types import TracebackType
from typing import Any, Self

import aiohttp

__all__ = ["EmulatorClient", "EmulatorError", "EmulatorTimeout"]

JsonDict = dict[str, Any]


class EmulatorError(RuntimeError):
    """The control API rejected a request."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


class EmulatorTimeout(EmulatorError, TimeoutError):
    """A wait ended before the expected bot activity happened; ``events`` holds what did happen."""

    def __init__(self, description: str, events: list[JsonDict] | None = None) -> None:
        super().__init__(408, description)
        self.events = events or []


class EmulatorClient:
    """Control-API client bound to one bot token; use as ``async with EmulatorClient(url, token) as c``."""

    def __init__(self, base_url: str, token: str, *, session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._session = session
        self._owns_session = session is None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: JsonDict | None = None,
        params: JsonDict | None = None,
        wait: float = 0.0,
    ) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        query = {key: str(value) for key, value in (params or {}).items() if value is not None}
        timeout = aiohttp.ClientTimeout(total=30 + wait)
        async with self._session.request(
            method, f"{self.base_url}/_emu{path}", json=json, params=query, timeout=timeout
        ) as response:
            body = await response.json()
        if not body.get("ok"):
            raise EmulatorError(response.status, str(body.get("description")))
        return body["result"]

    def _with_token(self, **fields: Any) -> JsonDict:
        return {"token": self.token, **{key: value for key, value in fields.items() if value is not None}}

    # ------------------------------------------------------------------- setup

    async def register_bot(self, username: str, first_name: str | None = None) -> JsonDict:
        """Register this client's token as a bot; returns its getMe object."""
        return await self._request(
            "POST", "/bots", json=self._with_token(username=username, first_name=first_name)
        )

    async def add_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> JsonDict:
        """Create or update a human user; returns the Bot API ``User`` object."""
        body = {
            "user_id": user_id,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
        }
        return await self._request("POST", "/users", json={k: v for k, v in body.items() if v is not None})

    # ------------------------------------------------------------ user actions

    async def _send(self, user_id: int, **content: Any) -> JsonDict:
        return await self._request("POST", "/send", json=self._with_token(user_id=user_id, **content))

    async def send_text(self, user_id: int, text: str, *, reply_to_message_id: int | None = None) -> JsonDict:
        """The user writes ``text``; returns the message (+ ``update_id``, ``seq``)."""
        return await self._send(user_id, text=text, reply_to_message_id=reply_to_message_id)

    async def send_photo(self, user_id: int, data: bytes, caption: str | None = None) -> JsonDict:
        """The user sends an image (any format Pillow decodes)."""
        return await self._send(user_id, photo=_b64(data), caption=caption)

    async def send_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str = "document.bin",
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> JsonDict:
        return await self._send(
            user_id, document=_b64(data), file_name=file_name, mime_type=mime_type, caption=caption
        )

    async def send_sticker(self, user_id: int, emoji: str = "👍") -> JsonDict:
        return await self._send(user_id, sticker={"emoji": emoji})

    async def send_voice(self, user_id: int, data: bytes = b"", duration: int = 1) -> JsonDict:
        return await self._send(user_id, voice=_b64(data), duration=duration)

    async def send_location(self, user_id: int, latitude: float, longitude: float) -> JsonDict:
        return await self._send(user_id, location={"latitude": latitude, "longitude": longitude})

    async def send_contact(
        self, user_id: int, phone_number: str, first_name: str | None = None, last_name: str | None = None
    ) -> JsonDict:
        contact = {"phone_number": phone_number, "first_name": first_name, "last_name": last_name}
        return await self._send(user_id, contact={k: v for k, v in contact.items() if v is not None})

    async def press(
        self, user_id: int, message_id: int, callback_data: str, *, forged: bool = False
    ) -> JsonDict:
        """Press the inline button carrying ``callback_data`` on bot message ``message_id``.

        ``forged=True`` sends the data even if no such button exists (a tampered client).

        Returns ``{"callback_query_id", "update_id", "seq"}``.
        """
        return await self._request(
            "POST",
            "/press",
            json=self._with_token(
                user_id=user_id, message_id=message_id, callback_data=callback_data, forged=forged
            ),
        )

    async def press_button(self, user_id: int, label_or_index: str | int) -> JsonDict:
        """Press a callback button on the latest bot message that has an inline keyboard.

        ``label_or_index``: the n-th button (0-based, rows flattened) or its text (exact
        match, else a unique substring match).  Returns :meth:`press`'s result plus
        ``message_id`` and ``callback_data``.
        """
        message = await self._latest_keyboard_message(user_id)
        buttons = [button for row in message["reply_markup"]["inline_keyboard"] for button in row]
        button = _pick_button(buttons, label_or_index)
        if "callback_data" not in button:
            raise EmulatorError(400, f"button {button.get('text')!r} has no callback_data")
        result = await self.press(user_id, message["message_id"], button["callback_data"])
        return {**result, "message_id": message["message_id"], "callback_data": button["callback_data"]}

    async def _latest_keyboard_message(self, user_id: int) -> JsonDict:
        for message in reversed(await self.messages(user_id)):
            if message["from_bot"] and not message["deleted"] and message.get("reply_markup"):
                return message
        raise EmulatorError(404, "no bot message with an inline keyboard in this chat")

    async def block(self, user_id: int, blocked: bool = True) -> JsonDict:
        """The user blocks (or unblocks) the bot; sends to them then fail with 403."""
        return await self._request("POST", "/block", json=self._with_token(user_id=user_id, blocked=blocked))

    async def unblock(self, user_id: int) -> JsonDict:
        return await self.block(user_id, blocked=False)

    # ------------------------------------------------------------- observation

    async def messages(self, user_id: int, after_message_id: int = 0) -> list[JsonDict]:
        """Chat history (both sides): Message objects + ``from_bot``, ``deleted``, ``edit_history``."""
        return await self._request(
            "GET",
            f"/chats/{user_id}/messages",
            params={"token": self.token, "after_message_id": after_message_id},
        )

    async def chat(self, user_id: int) -> JsonDict:
        """Chat state: blocked, current reply keyboard, last chat action, last ids."""
        return await self._request("GET", f"/chats/{user_id}", params={"token": self.token})

    async def wait_replies(
        self,
        user_id: int,
        after_message_id: int | None = None,
        count: int = 1,
        timeout: float = 5.0,
        *,
        after_seq: int | None = None,
    ) -> list[JsonDict]:
        """Wait until the bot produced ``count`` new messages/edits in the chat after a point.

        The point is message ``after_message_id`` (anything the bot did after it appeared)
        or an event ``after_seq`` (as returned by :meth:`press`/:meth:`send_text`).
        Returns events: Message objects + ``event`` ("message"|"edit"), ``seq``, ``from_bot``.
        Raises :class:`EmulatorTimeout` if fewer arrived in time.
        """
        result = await self._request(
            "POST",
            "/wait",
            wait=timeout,
            json=self._with_token(
                user_id=user_id,
                after_message_id=after_message_id,
                after_seq=after_seq,
                count=count,
                timeout=timeout,
            ),
        )
        if not result["complete"]:
            got = len(result["events"])
            raise EmulatorTimeout(
                f"bot produced {got} of {count} expected replies within {timeout}s", result["events"]
            )
        return result["events"]

    async def ask(self, user_id: int, text: str, count: int = 1, timeout: float = 5.0) -> list[JsonDict]:
        """Send ``text`` and wait for ``count`` replies."""
        sent = await self.send_text(user_id, text)
        return await self.wait_replies(user_id, after_seq=sent["seq"], count=count, timeout=timeout)

    async def callback_answer(self, callback_query_id: str, timeout: float = 5.0) -> JsonDict:
        """Wait for the bot's answerCallbackQuery; returns ``{"answered", "answer": {text, show_alert, ...}}``."""
        result = await self._request(
            "POST", f"/callbacks/{callback_query_id}/wait", wait=timeout, json={"timeout": timeout}
        )
        if not result["answered"]:
            raise EmulatorTimeout(f"callback query not answered within {timeout}s")
        return result

    async def calls(self, method: str | None = None) -> list[JsonDict]:
        """Bot API call log of this bot: method, params, spec_ok, spec_errors, status, description."""
        return await self._request("GET", "/calls", params={"token": self.token, "method": method})

    async def commands(self) -> list[JsonDict]:
        """Stored setMyCommands data: ``[{"scope", "language_code", "commands"}]``."""
        return await self._request("GET", "/commands", params={"token": self.token})

    async def pending_updates(self) -> list[JsonDict]:
        return await self._request("GET", "/updates", params={"token": self.token})

    async def webhook(self) -> JsonDict:
        """Webhook config and delivery log: ``{"config", "deliveries"}``."""
        return await self._request("GET", "/webhook", params={"token": self.token})

    # ---------------------------------------------------------------- switches

    async def set_rate_limits(
        self, global_per_second: int | None = None, per_chat_per_second: int | None = None
    ) -> JsonDict:
        """Set both rate limits of this bot (``None`` disables a limit)."""
        return await self._request(
            "POST",
            "/ratelimit",
            json={
                "token": self.token,
                "global_per_second": global_per_second,
                "per_chat_per_second": per_chat_per_second,
            },
        )

    async def force_flood(self, user_id: int, count: int = 1, retry_after: int = 1) -> JsonDict:
        """Make the next ``count`` sends to the user's chat fail with 429 ``retry_after``."""
        return await self._request(
            "POST", "/ratelimit", json=self._with_token(user_id=user_id, count=count, retry_after=retry_after)
        )

    async def reset(self) -> None:
        """Forget users, chats, files, calls; bots stay registered with fresh state."""
        await self._request("POST", "/reset")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _pick_button(buttons: list[JsonDict], label_or_index: str | int) -> JsonDict:
    if isinstance(label_or_index, int):
        if not -len(buttons) <= label_or_index < len(buttons):
            raise EmulatorError(404, f"keyboard has {len(buttons)} buttons, no index {label_or_index}")
        return buttons[label_or_index]
    exact = [button for button in buttons if button.get("text") == label_or_index]
    if exact:
        return exact[0]
    partial = [button for button in buttons if label_or_index in str(button.get("text", ""))]
    if len(partial) == 1:
        return partial[0]
    labels = [button.get("text") for button in buttons]
    raise EmulatorError(404, f"no unique button matching {label_or_index!r}; buttons: {labels}")
