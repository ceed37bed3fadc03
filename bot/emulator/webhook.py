"""Webhook delivery for the emulator, modelled on Telegram's behaviour.

While a bot has a webhook, its queued updates are POSTed (JSON, one at a time,
in order) to the webhook URL with the ``X-Telegram-Bot-Api-Secret-Token``
header when a secret was set.  A non-2xx answer or a network error is recorded
(``last_error_date``/``last_error_message`` in getWebhookInfo) and the update is
retried after ``webhook_retry_delay``.  Like Telegram, a 2xx reply that carries
a Bot API call (JSON or multipart body with a ``method`` field) is executed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp

from .spec import UploadedFile
from .state import BotAccount, WebhookConfig, World, unix_now

__all__ = ["SECRET_HEADER", "WebhookDispatcher"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_DELIVERY_LOG = 1000
IDLE_WAIT = 3600.0

logger = logging.getLogger(__name__)

ApiCall = Callable[[str, str, Mapping[str, Any]], Awaitable[Any]]


class WebhookDispatcher:
    """Runs one delivery task per bot that has a webhook."""

    def __init__(self, world: World, api_call: ApiCall) -> None:
        self._world = world
        self._api_call = api_call
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    def webhook_changed(self, bot: BotAccount) -> None:
        """Start delivering for ``bot`` if it now has a webhook (the task ends by itself otherwise)."""
        task = self._tasks.get(bot.token)
        if bot.webhook is not None and (task is None or task.done()):
            self._tasks[bot.token] = asyncio.create_task(self._run(bot), name=f"webhook-{bot.user_id}")

    async def close(self) -> None:
        """Stop all delivery tasks and the HTTP session."""
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, bot: BotAccount) -> None:
        while True:
            await bot.updates_notifier.wait_for(
                lambda: bot.webhook is None or bool(bot.pending_updates) or self._world.closed, IDLE_WAIT
            )
            config = bot.webhook
            if config is None or self._world.closed:
                return
            if not bot.pending_updates:
                continue
            update = bot.pending_updates[0]
            if await self._deliver(bot, config, update):
                if bot.pending_updates and bot.pending_updates[0] is update:
                    bot.pending_updates.pop(0)
            else:
                await asyncio.sleep(self._world.options.webhook_retry_delay)

    async def _deliver(self, bot: BotAccount, config: WebhookConfig, update: dict[str, Any]) -> bool:
        headers = {SECRET_HEADER: config.secret_token} if config.secret_token else {}
        timeout = aiohttp.ClientTimeout(total=self._world.options.webhook_timeout)
        error: str | None = None
        reply: dict[str, Any] | None = None
        status: int | None = None
        try:
            async with self._client().post(
                config.url, json=update, headers=headers, timeout=timeout
            ) as response:
                status = response.status
                if 200 <= response.status < 300:
                    reply = await _read_reply(response)
                else:
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientError as exc:
            error = f"Connection failed: {type(exc).__name__}"
        self._log_delivery(bot, config, update, status, error)
        if error is None and reply and reply.get("method"):
            method = str(reply.pop("method"))
            await self._api_call(bot.token, method, reply)
        return error is None

    def _log_delivery(
        self,
        bot: BotAccount,
        config: WebhookConfig,
        update: dict[str, Any],
        status: int | None,
        error: str | None,
    ) -> None:
        bot.webhook_deliveries.append(
            {"update_id": update["update_id"], "time": time.time(), "status": status, "error": error}
        )
        del bot.webhook_deliveries[:-MAX_DELIVERY_LOG]
        if error is not None:
            config.last_error_date, config.last_error_message = unix_now(), error
            logger.info("webhook delivery for bot %s failed: %s", bot.user_id, error)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session


async def _read_reply(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """A Bot API call embedded in the webhook reply, if any."""
    content_type = response.content_type
    if content_type == "application/json":
        with contextlib.suppress(ValueError):
            body = await response.json()
            return body if isinstance(body, dict) else None
        return None
    if content_type != "multipart/form-data":
        return None
    reply: dict[str, Any] = {}
    reader = aiohttp.MultipartReader.from_response(response)
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
            continue
        data = await part.read(decode=True)
        if part.filename:
            content = part.headers.get(aiohttp.hdrs.CONTENT_TYPE, "application/octet-stream")
            reply[part.name] = UploadedFile(part.filename, content, bytes(data))
        else:
            reply[part.name] = bytes(data).decode("utf-8")
    return reply
