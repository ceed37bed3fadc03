"""A test-only renderer for NotificationKind.DIGEST: the text comes from the payload.

payload: {"text": str, "photo": file_id?, "cancel": true → None, "boom": true → raises}.
The text is prefixed with the recipient's locale so tests see which language was used.
Imported by a worker subprocess too (tests/notifications/sender/test_worker_process.py).
"""

from __future__ import annotations

from notifications.templates import RenderContext, Rendered, renderer, unregister
from storage.enums import NotificationKind

KIND = NotificationKind.DIGEST


async def render_test(ctx: RenderContext) -> Rendered | None:
    payload = ctx.message.payload or {}
    if payload.get("boom"):
        raise RuntimeError("renderer bug")
    if payload.get("cancel"):
        return None
    return Rendered(f"{ctx.locale}:{payload.get('text', 'hello')}", photo=payload.get("photo"))


def install() -> object:
    """Register render_test for KIND; returns what was registered before (for restore)."""
    previous = unregister(KIND)
    renderer(KIND)(render_test)
    return previous


def restore(previous: object) -> None:
    unregister(KIND)
    if previous is not None:
        renderer(KIND)(previous)  # type: ignore[arg-type]
