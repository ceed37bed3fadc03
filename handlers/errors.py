"""Last-resort error handler: log without personal data, apologise in the user's language."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)
router = Router(name="errors")


@router.errors()
async def on_error(event: ErrorEvent) -> bool:
    update = event.update
    log.error(
        "update %s failed: %s", update.update_id, type(event.exception).__name__, exc_info=event.exception
    )
    text = _("抱歉，处理您的请求时出错了，请稍后再试。")
    try:
        if update.message is not None:
            await update.message.answer(text)
        elif update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
    except Exception:
        log.warning("could not send the error reply for update %s", update.update_id)
    return True
