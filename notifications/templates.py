"""What an outbox row says, decided when it is sent: one renderer per NotificationKind.

Feature modules register their renderers with `@renderer(kind)` (reminders and alerts in
notifications/reminders.py, broadcasts in notifications/broadcasts.py); the sender calls
`render` for every row it claims. A renderer runs inside `i18n.use_locale(<the
recipient's language>)`, so it words the text with gettext as usual, and returns:

- a `Rendered` message (text ready for parse_mode HTML, optional keyboard, photo or
  document), or
- None when the notice no longer holds (the milestone was done, the visit logged, the
  pairing ended, the broadcast cancelled): the sender marks the row cancelled and sends
  nothing.

Renderers read the database through the given session and must not write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.work.rules import Rules
from storage.enums import NotificationKind
from storage.models import Account, OutboxMessage


@dataclass(frozen=True)
class Rendered:
    text: str  # HTML; a caption when photo or document is set (≤ 1024 characters then)
    reply_markup: InlineKeyboardMarkup | None = None
    photo: str | None = None  # Telegram file_id
    document: str | None = None  # Telegram file_id


@dataclass(frozen=True)
class RenderContext:
    session: AsyncSession
    message: OutboxMessage
    account: Account  # the recipient
    locale: str  # the recipient's language (zh_Hans, ko, en)
    now: datetime  # aware
    rules: Rules | None = None  # the cadence rules (the digest shows a leader's village visit)


Renderer = Callable[[RenderContext], Awaitable[Rendered | None]]
_RENDERERS: dict[NotificationKind, Renderer] = {}


class UnknownKind(LookupError):
    """No renderer is registered for a kind (a programming error: the row fails)."""


def renderer(kind: NotificationKind) -> Callable[[Renderer], Renderer]:
    def register(func: Renderer) -> Renderer:
        if kind in _RENDERERS and _RENDERERS[kind] is not func:
            raise RuntimeError(f"a renderer for {kind} is already registered")
        _RENDERERS[kind] = func
        return func

    return register


async def render(context: RenderContext) -> Rendered | None:
    func = _RENDERERS.get(context.message.kind)
    if func is None:
        raise UnknownKind(context.message.kind)
    return await func(context)


def registered_kinds() -> frozenset[NotificationKind]:
    return frozenset(_RENDERERS)


def unregister(kind: NotificationKind) -> Renderer | None:
    """Forget the renderer of a kind and return it (tests that swap in their own renderer
    put the previous one back with `renderer(kind)(previous)`)."""
    return _RENDERERS.pop(kind, None)
