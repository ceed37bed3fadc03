"""The notification engine inside the bot process: the outbox sender and the scan scheduler.

`fupin-bot run` starts both beside polling or the webhook server and stops them before the
application closes: the scheduler first (no new scans), then the sender (sends in flight
finish, claimed rows not sent go back to the queue). `fupin-bot worker` runs the sender
alone; several senders share the outbox safely on PostgreSQL (SKIP LOCKED).

Stopping waits up to STOP_TIMEOUT for the sender: a send in flight gives up after the
sender's REQUEST_TIMEOUT (20 s; aiogram's default would be 60 s), then the batch is recorded
(a few tries, 1 s apart, if the database is briefly away) and a next batch already claimed
is put back. Only a sender stuck beyond that is cancelled, leaving rows in 'sending' for
requeue_stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime

from bot.app import Application
from notifications.scheduler import build_scheduler
from notifications.sender import REQUEST_TIMEOUT, Sender, load_renderers

log = logging.getLogger(__name__)

# a send in flight (REQUEST_TIMEOUT) plus recording its batch and putting back the next one
STOP_TIMEOUT = REQUEST_TIMEOUT + 25.0


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
                    await asyncio.wait_for(self._task, timeout=STOP_TIMEOUT)
                except TimeoutError:
                    log.warning("the sender did not stop within %.0f s; cancelling it", STOP_TIMEOUT)
                    self._task.cancel()
        self._task = None
