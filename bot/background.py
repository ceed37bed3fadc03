"""The notification engine inside the bot process: the outbox sender and the scan scheduler.

`fupin-bot run` starts both beside polling or the webhook server and stops them before the
application closes: the scheduler first (no new scans), then the sender (sends in flight
finish, claimed rows not sent go back to the queue). `fupin-bot worker` runs the sender
alone; several senders share the outbox safely on PostgreSQL (SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from bot.app import Application
from notifications.scheduler import build_scheduler
from notifications.sender import Sender, load_renderers

log = logging.getLogger(__name__)


class Background:
    def __init__(self, app: Application, *, first_scan: datetime | None = None) -> None:
        self.app = app
        self.first_scan = first_scan  # when the first scan runs (default: soon after start)
        self.sender: Sender | None = None
        self._task: asyncio.Task[None] | None = None
        self._scheduler = None

    async def start(self) -> None:
        load_renderers()
        app = self.app
        self.sender = Sender(app.bot, app.sessionmaker, app.i18n, app.settings)
        self._task = asyncio.create_task(self.sender.run(), name="outbox sender")
        self._scheduler = build_scheduler(app.sessionmaker, app.settings, first_run=self.first_scan)
        self._scheduler.start()
        log.info("notification engine started")

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self.sender is not None and self._task is not None:
            self.sender.stop()
            with contextlib.suppress(asyncio.CancelledError):
                try:
                    await asyncio.wait_for(self._task, timeout=30)
                except TimeoutError:
                    log.warning("the sender did not stop within 30 s; cancelling it")
                    self._task.cancel()
        self._task = None
