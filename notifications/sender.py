"""The rate-limited sender: delivers due outbox rows through the Bot API.

One loop (`Sender.run`, inside the bot process or alone as `fupin-bot worker`) repeats:

1. claim a batch of due rows (storage/repositories/outbox.py: 'sending', committed);
2. load the recipients and render each row in the recipient's language
   (notifications/templates.py); an inactive account fails the row, a render returning
   None cancels it;
3. send, at most `settings.send_rate` messages/s in all (aiolimiter) and one per second
   per chat, concurrently across chats and in order within a chat;
4. record every outcome of the batch in one transaction.

Telegram's answers:
- 429: every send pauses for retry_after, the global pace is halved (it recovers by 10% a
  second after 10 calm seconds), and the row goes back without using up an attempt;
- 403 (blocked, deactivated) or 400 "chat not found": the row fails, the account is marked
  inactive and its other rows fail when claimed, without a send;
- timeouts (each send gives up after REQUEST_TIMEOUT), network errors, 5xx, an answer that
  cannot be parsed (aiogram's ClientDecodeError: a proxy's 502 page) or any other unexpected
  error of the bot call: retry with exponential backoff and full jitter (base 2 s, cap
  10 min) until `settings.send_max_attempts`, then failed;
- any other 400 (bad HTML, caption too long): failed with Telegram's reason, no retry.

`run()` survives anything: a database error is retried after `poll_interval`, any other
exception is logged (its type only) and the loop goes on after CRASH_PAUSE.

Pipelining: while one batch is being sent, the next is claimed and rendered, and the batch
before is being recorded; a chat's rows still go out in order, since a batch starts sending
only when the one before has been sent. An account found blocked in batch N is skipped
(failed without a send) by the batches claimed before N's outcomes were committed, which
rendered it as active; the note is forgotten once a batch claimed after that commit has been
sent (batch sequence numbers, not time: a user who unblocks the bot and writes gets the next
notices at once).

Claims stay fresh: another process's `requeue_stale` takes back rows left 'sending' for
STALE_AFTER, so no batch may stay unrecorded that long while its process is alive.
- Just before its sends start, a batch re-stamps its rows (`OutboxRepository.restamp`: one
  UPDATE ... WHERE claimed_at = <its claim> RETURNING id); a row that does not come back was
  requeued meanwhile (the next batch waited behind a long 429 pause or a database outage)
  and is neither sent nor recorded by this process.
- A batch then sends for at most SEND_BUDGET (STALE_AFTER / 2) after its stamp: a send that
  would start later (a 429 pause that ends after that, a pace slowed down by floods) is not
  waited for; the row goes back to the queue unchanged (the 429'd row itself as 'retry',
  without using up an attempt), and the next claim first waits for the pause to end. A send
  started in time ends within REQUEST_TIMEOUT, so a batch is recorded well within STALE_AFTER
  of its stamp. (Re-stamping rows while they wait would also work, but needs a heartbeat
  task beside the sends and leaves a batch 'sending' for as long as the flood lasts.)

Duplicates: a row is sent at most once unless its batch's outcomes are never recorded: the
process dies between its send and the end of its batch's recording (step 4), or it is
stopped while the database is unreachable (recording is retried, backing off up to 30 s,
until it succeeds; after stop() it is tried RECORD_TRIES_ON_STOP times, then given up). Such
rows stay 'sending' and `requeue_stale` puts them back after STALE_AFTER. With the pipeline,
two batches can be in that window at once (one being recorded, one being sent: the next
batch is not recorded before the one before it), and a batch is half a second of sending
(`batch_size` = rate/2), so at most about one second of sending (2 × `batch_size` rows) can
be sent twice. `stop()` finishes the sends in flight (each within REQUEST_TIMEOUT), puts back
what was claimed but not sent (also a next batch already claimed), and, the database
permitting, leaves nothing in 'sending'.

Logs carry outbox row ids and account ids only.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiolimiter import AsyncLimiter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import metrics
from bot.config import Settings
from bot.policy.forwarding import locale_of
from notifications.templates import RenderContext, Rendered, UnknownKind, render
from storage.enums import NotificationKind
from storage.models import OutboxMessage, utcnow
from storage.repositories.outbox import (
    OutboxRepository,
    cancelled_change,
    failed_change,
    released_change,
    retry_change,
    sent_change,
)

log = logging.getLogger(__name__)

# Modules that register renderers (imported by the worker; each is optional until it exists).
RENDERER_MODULES = ("notifications.reminders", "notifications.broadcasts")

BACKOFF_BASE = 2.0  # seconds
BACKOFF_CAP = 600.0  # 10 minutes
PER_CHAT_INTERVAL = 1.05  # Telegram: about one message a second per chat; 5% for network jitter
# Telegram counts arrivals in a sliding second, we pace departures: keep 3% under the
# configured rate so that jitter between the two never makes a 31st message in a second.
PACE_MARGIN = 0.03
RECOVER_AFTER = 10.0  # calm seconds after a 429 before the pace goes up again
RECOVER_STEP = 1.1  # +10% per second while recovering
STALE_AFTER = timedelta(minutes=5)  # 'sending' rows older than this were left by a dead process
STALE_CHECK_EVERY = 60.0  # seconds
# a batch starts no send later than this after its claim was (re)stamped, so that with
# REQUEST_TIMEOUT it is always recorded before another process's requeue_stale could fire
SEND_BUDGET = STALE_AFTER.total_seconds() / 2
REQUEST_TIMEOUT = 20  # seconds a send may take (aiogram's default is 60); bot/background.py waits longer
RECORD_BACKOFF_BASE = 1.0  # seconds; recording a batch is retried with 1, 2, 4, ... s pauses
RECORD_BACKOFF_CAP = 30.0
RECORD_TRIES_ON_STOP = 3  # after stop(), recording gives up after this many failures (1 s apart)
CRASH_PAUSE = 5.0  # seconds run() waits after an unexpected exception before going on


def load_renderers() -> None:
    """Import the modules that register renderers (the worker has no handlers importing them)."""
    for name in RENDERER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def backoff_delay(attempts: int, rng: Callable[[], float] = random.random) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempts-1))] seconds, attempts >= 1."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return rng() * ceiling


@dataclass(frozen=True)
class _Row:
    """What the send phase needs of a claimed row (plain values: no ORM object outlives its session)."""

    id: int
    kind: NotificationKind
    attempts: int


@dataclass(frozen=True)
class _Job:
    row: _Row
    account_id: int
    chat_id: int
    rendered: Rendered


@dataclass(frozen=True)
class _Batch:
    """A claimed, rendered batch: outcomes already known (cancelled, failed) and sends to do.
    `seq` numbers the claims of this Sender; `stamp` is the rows' claimed_at."""

    claimed: int
    changes: list[dict[str, Any]]
    jobs: list[_Job]
    seq: int
    stamp: datetime


class Sender:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        i18n: I18n,
        settings: Settings,
        *,
        batch_size: int | None = None,
        poll_interval: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
        rate: float | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.i18n = i18n
        self.settings = settings
        self.target_rate = rate if rate is not None else settings.send_rate
        # half a second of sending per batch; two batches can be sent but not yet recorded
        # at a kill (the pipeline), so at most about one second of sending is sent twice
        self.batch_size = batch_size or max(10, min(500, math.ceil(self.target_rate / 2)))
        self.poll_interval = poll_interval
        self.clock = clock
        self.rng = rng
        self.max_attempts = settings.send_max_attempts
        self.rules = settings.rules
        self._stopping = asyncio.Event()
        self._rate = self.target_rate
        self._limiter = self._make_limiter(self._rate)
        self._paused_until = 0.0  # monotonic; set by a 429
        self._last_flood = -math.inf
        self._halve_again_at = -math.inf
        self._last_change = -math.inf
        # Per chat: monotonic time of the next allowed send. A plain dict, not a library:
        # one limiter object per chat (hundreds of thousands) would be wasteful, and no
        # well-kept library offers keyed limiters with expiry; entries in the past are pruned.
        self._next_allowed: dict[int, float] = {}
        self._semaphore = asyncio.Semaphore(settings.send_concurrency)
        self._last_stale_check = -math.inf
        self._claims = 0  # batches claimed so far (the last one's seq)
        # Accounts found blocked, and up to which batch (seq) their sends are skipped without
        # a call: batches claimed before the deactivation was committed rendered them as
        # active. math.inf until the outcomes are recorded; then the claims started by then.
        self._blocked_recently: dict[int, float] = {}

    # ----------------------------------------------------------------- control

    def stop(self) -> None:
        """Ask the loop to stop: sends in flight finish, claimed rows not sent go back."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Deliver until stop(); survives database and network errors (logged, retried)."""
        log.info("sender started: %.1f messages/s, batches of %s", self.target_rate, self.batch_size)
        while not self.stopping:
            try:
                await self._requeue_stale_now_and_then()
                handled = await self._pump()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("sender: database unavailable (%s); retrying", type(exc).__name__)
                handled = 0
            except Exception as exc:  # a bug or an unforeseen error: the loop must go on
                log.error("sender: unexpected %s; going on in %.0f s", type(exc).__name__, CRASH_PAUSE)
                await self._sleep(CRASH_PAUSE)
                handled = 0
            if not handled:
                await self._sleep(self.poll_interval)
        log.info("sender stopped")

    async def drain(self) -> int:
        """Send everything due now (including what becomes due while draining); returns
        how many rows were handled. Rows whose retry lies in the future stay queued."""
        await self.requeue_stale()
        return await self._pump()

    async def requeue_stale(self) -> int:
        async with self.sessionmaker() as session:
            count = await OutboxRepository(session).requeue_stale(self.clock() - STALE_AFTER)
            await session.commit()
        if count:
            log.warning("requeued %s outbox rows left in 'sending' by a stopped process", count)
        return count

    async def _requeue_stale_now_and_then(self) -> None:
        if time.monotonic() - self._last_stale_check >= STALE_CHECK_EVERY:
            self._last_stale_check = time.monotonic()
            await self.requeue_stale()

    # ----------------------------------------------------------------- one batch

    async def send_due(self) -> int:
        """Claim one batch of due rows, send them, record the outcomes; returns the number
        of rows claimed (0: nothing is due). No pipelining: for tests and one-off use."""
        batch = await self._claim()
        if batch is None:
            return 0
        try:
            await self._record(*await self._send_batch(batch))
        finally:
            self._blocked_recently.clear()  # recorded: the database knows
        return batch.claimed

    async def _pump(self) -> int:
        """Send batches until nothing is due (or stop()), pipelined: batch N+1 is claimed and
        rendered while batch N is sent, and batch N is recorded while N+1 is sent. Returns
        the number of rows claimed."""
        total = 0
        recording: asyncio.Task[None] | None = None
        upcoming: asyncio.Task[_Batch | None] | None = None
        try:
            batch = await self._claim()
            while batch is not None:
                total += batch.claimed
                upcoming = None if self.stopping else asyncio.create_task(self._claim())
                outcome = await self._send_batch(batch)
                if recording is not None:
                    await recording
                recording = asyncio.create_task(self._record(*outcome))
                batch = await upcoming if upcoming is not None else None
                upcoming = None
                if batch is None and not self.stopping:
                    # the rows being recorded may be due again (a 429 retries at once)
                    await recording
                    recording = None
                    batch = await self._claim()
            return total
        finally:
            if upcoming is not None:  # sending failed: put back what was claimed meanwhile
                with contextlib.suppress(Exception):
                    claimed = await upcoming
                    if claimed is not None:
                        changes = claimed.changes + [released_change(j.row.id) for j in claimed.jobs]
                        await self._record(changes, set())
            if recording is not None:
                await recording
            # every batch of this pump is recorded (or given up): later claims read the
            # deactivations from the database
            self._blocked_recently.clear()

    async def _claim(self) -> _Batch | None:
        """Claim and render one batch (committed as 'sending'); None when nothing is due.
        During a 429 pause it first waits for the pause to end (None if stopped meanwhile)."""
        pause = self._paused_until - time.monotonic()
        if pause > 0:
            await self._sleep(pause)
            if self.stopping:
                return None
        self._claims += 1
        seq = self._claims
        now = self.clock()
        async with self.sessionmaker() as session:
            repo = OutboxRepository(session)
            rows = await repo.claim(self.batch_size, now)
            await session.commit()
            if not rows:
                return None
            try:
                changes, jobs = await self._prepare(session, rows, now)
            except Exception:
                await session.rollback()
                await repo.release(r.id for r in rows)
                await session.commit()
                raise
            await session.commit()  # renderers only read; ends the transaction
        return _Batch(len(rows), changes, jobs, seq, now)

    async def _send_batch(self, batch: _Batch) -> tuple[list[dict[str, Any]], set[int]]:
        batch = await self._restamp(batch)
        deadline = time.monotonic() + SEND_BUDGET
        deactivate: set[int] = set()
        changes = batch.changes + await self._deliver(batch.jobs, deactivate, batch.seq, deadline)
        self._blocked_recently.update(dict.fromkeys(deactivate, math.inf))  # until recorded
        self._forget_blocked(batch.seq)
        self._prune_chats()
        return changes, deactivate

    async def _restamp(self, batch: _Batch) -> _Batch:
        """Renew the batch's claim just before its sends; drop the rows requeued meanwhile by
        another process's requeue_stale (not sent, nothing recorded for them here)."""
        ids = [c["id"] for c in batch.changes] + [j.row.id for j in batch.jobs]
        now = self.clock()
        async with self.sessionmaker() as session:
            kept = await OutboxRepository(session).restamp(ids, batch.stamp, now)
            await session.commit()
        if len(kept) < len(ids):
            log.warning("%s claimed outbox rows were requeued before their send: dropped here", len(ids) - len(kept))
        return replace(
            batch,
            changes=[c for c in batch.changes if c["id"] in kept],
            jobs=[j for j in batch.jobs if j.row.id in kept],
            stamp=now,
        )

    async def _prepare(
        self, session: AsyncSession, rows: list[OutboxMessage], now: datetime
    ) -> tuple[list[dict[str, Any]], list[_Job]]:
        repo = OutboxRepository(session)
        accounts = await repo.accounts(r.account_id for r in rows)
        changes: list[dict[str, Any]] = []
        jobs: list[_Job] = []
        for row in rows:
            account = accounts.get(row.account_id)
            if account is None or not account.is_active:
                changes.append(failed_change(row.id, "recipient inactive (blocked the bot or chat gone)"))
                metrics.FAILED.labels(kind=row.kind.value, reason="inactive").inc()
                continue
            locale = locale_of(account, self.i18n)
            try:
                with self.i18n.context(), self.i18n.use_locale(locale):
                    rendered = await render(RenderContext(session, row, account, locale, now, self.rules))
            except UnknownKind:
                log.error("outbox row %s: no renderer for kind %s", row.id, row.kind.value)
                changes.append(failed_change(row.id, f"no renderer for {row.kind.value}"))
                metrics.FAILED.labels(kind=row.kind.value, reason="no_renderer").inc()
                continue
            except SQLAlchemyError:
                raise
            except Exception as exc:  # a renderer bug must not stop the others
                log.error("outbox row %s: render failed (%s)", row.id, type(exc).__name__)
                changes.append(failed_change(row.id, f"render failed: {type(exc).__name__}"))
                metrics.FAILED.labels(kind=row.kind.value, reason="render").inc()
                continue
            if rendered is None:
                changes.append(cancelled_change(row.id))
                metrics.CANCELLED.labels(kind=row.kind.value).inc()
                continue
            jobs.append(_Job(_Row(row.id, row.kind, row.attempts), account.id, account.chat_id, rendered))
        return changes, jobs

    async def _deliver(
        self, jobs: list[_Job], deactivate: set[int], seq: int, deadline: float
    ) -> list[dict[str, Any]]:
        by_chat: dict[int, list[_Job]] = {}
        for job in jobs:
            by_chat.setdefault(job.chat_id, []).append(job)
        results = await asyncio.gather(
            *(self._deliver_chat(group, deactivate, seq, deadline) for group in by_chat.values())
        )
        return [change for changes in results for change in changes]

    async def _deliver_chat(
        self, jobs: list[_Job], deactivate: set[int], seq: int, deadline: float
    ) -> list[dict[str, Any]]:
        """One chat's rows, in order, a second apart; what cannot start before `deadline`
        (monotonic) or after stop() goes back to the queue unchanged."""
        changes: list[dict[str, Any]] = []
        for job in jobs:
            row = job.row
            if job.account_id in deactivate or self._blocked_recently.get(job.account_id, 0) >= seq:
                changes.append(failed_change(row.id, "recipient blocked the bot"))
                metrics.FAILED.labels(kind=row.kind.value, reason="blocked").inc()
                continue
            wait = self._next_allowed.get(job.chat_id, 0.0) - time.monotonic()
            if wait > 0:
                if time.monotonic() + wait > deadline:
                    changes.append(released_change(row.id))
                    continue
                await self._sleep(wait)
            if self.stopping:
                changes.append(released_change(row.id))
                continue
            async with self._semaphore:
                if not await self._pace(deadline):
                    changes.append(released_change(row.id))
                    continue
                self._next_allowed[job.chat_id] = time.monotonic() + PER_CHAT_INTERVAL
                changes.append(await self._send_one(job, deactivate, deadline))
        return changes

    async def _send_one(self, job: _Job, deactivate: set[int], deadline: float = math.inf) -> dict[str, Any]:
        row, kind = job.row, job.row.kind.value
        started = time.perf_counter()
        try:
            message = await self._send(job.chat_id, job.rendered)
        except TelegramRetryAfter as exc:
            metrics.FLOOD_WAITS.inc()
            retry_after = max(float(exc.retry_after), 1.0)
            self._slow_down(retry_after)
            log.warning("429 for outbox row %s: pausing %.0f s, pace now %.1f/s", row.id, retry_after, self._rate)
            if time.monotonic() + retry_after <= deadline:
                await self._sleep(retry_after)
            # else not waited here: the batch is recorded now and the next claim waits
            return retry_change(row.id, "429 Too Many Requests", self.clock(), row.attempts)
        except TelegramForbiddenError as exc:
            return self._gone(job, deactivate, "blocked", exc)
        except TelegramBadRequest as exc:
            if "chat not found" in exc.message.lower():
                return self._gone(job, deactivate, "chat_not_found", exc)
            log.warning("outbox row %s rejected by Telegram (400)", row.id)
            metrics.FAILED.labels(kind=kind, reason="bad_request").inc()
            return failed_change(row.id, f"400: {exc.message}", row.attempts + 1)
        except (TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError, TimeoutError) as exc:
            return self._temporary(row, exc)
        except TelegramAPIError as exc:  # 404, 409, 413, migrate: not something a retry fixes
            log.warning("outbox row %s failed: %s", row.id, type(exc).__name__)
            metrics.FAILED.labels(kind=kind, reason="api_error").inc()
            return failed_change(row.id, f"{type(exc).__name__}: {exc.message}", row.attempts + 1)
        except AiogramError as exc:  # ClientDecodeError: an unparsable answer (a proxy's 502 page)
            return self._temporary(row, exc)
        except Exception as exc:  # anything else from the HTTP stack must not lose the batch
            log.error("outbox row %s: unexpected %s from the Bot API call", row.id, type(exc).__name__)
            return self._temporary(row, exc)
        metrics.SEND_LATENCY.observe(time.perf_counter() - started)
        metrics.SENT.labels(kind=kind).inc()
        self._recover()
        return sent_change(row.id, message.message_id, self.clock())

    async def _send(self, chat_id: int, rendered: Rendered) -> Message:
        if rendered.photo:
            return await self.bot.send_photo(
                chat_id, rendered.photo, caption=rendered.text, reply_markup=rendered.reply_markup,
                request_timeout=REQUEST_TIMEOUT,
            )
        if rendered.document:
            return await self.bot.send_document(
                chat_id, rendered.document, caption=rendered.text, reply_markup=rendered.reply_markup,
                request_timeout=REQUEST_TIMEOUT,
            )
        return await self.bot.send_message(
            chat_id, rendered.text, reply_markup=rendered.reply_markup, request_timeout=REQUEST_TIMEOUT
        )

    def _gone(self, job: _Job, deactivate: set[int], reason: str, exc: TelegramAPIError) -> dict[str, Any]:
        deactivate.add(job.account_id)
        log.info("account %s unreachable (%s): marked inactive", job.account_id, reason)
        metrics.FAILED.labels(kind=job.row.kind.value, reason=reason).inc()
        return failed_change(job.row.id, f"{reason}: {exc.message}", job.row.attempts + 1)

    def _temporary(self, row: _Row, exc: BaseException) -> dict[str, Any]:
        attempts = row.attempts + 1
        reason = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
        error = f"{reason}: {getattr(exc, 'message', '')}".rstrip(": ")
        if attempts >= self.max_attempts:
            log.warning("outbox row %s failed after %s attempts (%s)", row.id, attempts, reason)
            metrics.FAILED.labels(kind=row.kind.value, reason="retries_exhausted").inc()
            return failed_change(row.id, f"gave up after {attempts} attempts: {error}", attempts)
        delay = backoff_delay(attempts, self.rng)
        metrics.RETRIED.labels(reason=reason).inc()
        log.info("outbox row %s: %s, retry %s in %.1f s", row.id, reason, attempts, delay)
        return retry_change(row.id, error, self.clock() + timedelta(seconds=delay), attempts)

    async def _record(self, changes: list[dict[str, Any]], deactivate: set[int]) -> None:
        """Write a batch's outcomes in one transaction, retrying while the database is away
        (backoff 1, 2, 4 ... capped at RECORD_BACKOFF_CAP; the rows stay 'sending' meanwhile)
        until it works. After stop(), RECORD_TRIES_ON_STOP failures give up: the rows stay
        'sending' and requeue_stale takes over (the sent ones may then be sent twice)."""
        failures = failures_stopping = 0
        while True:
            try:
                async with self.sessionmaker() as session:
                    repo = OutboxRepository(session)
                    await repo.apply(changes)
                    await repo.deactivate_accounts(deactivate)
                    await session.commit()
            except (SQLAlchemyError, OSError) as exc:
                failures += 1
                if not self.stopping:
                    delay = min(RECORD_BACKOFF_BASE * 2 ** (failures - 1), RECORD_BACKOFF_CAP)
                    log.warning("recording a batch failed (%s); retrying in %.0f s", type(exc).__name__, delay)
                    await self._sleep(delay)
                    continue
                failures_stopping += 1
                if failures_stopping >= RECORD_TRIES_ON_STOP:
                    log.error("recording a batch failed (%s) while stopping: %s outbox rows left 'sending' "
                              "until requeued", type(exc).__name__, len(changes))
                    return
                await asyncio.sleep(RECORD_BACKOFF_BASE)
            else:
                boundary = float(self._claims)  # claims started later read the deactivations
                for account_id in deactivate:
                    if self._blocked_recently.get(account_id) == math.inf:
                        self._blocked_recently[account_id] = boundary
                return

    # ----------------------------------------------------------------- pacing

    @staticmethod
    def _make_limiter(rate: float) -> AsyncLimiter:
        # A burst of at most PACE_MARGIN of a second's sends (1 at Telegram's 30/s: evenly
        # spaced), so a sliding second never sees more than the configured rate; at high
        # paid-broadcast rates the small burst saves the event loop a timer per message.
        capacity = max(1.0, math.floor(rate * PACE_MARGIN))
        return AsyncLimiter(capacity, capacity / (rate * (1 - PACE_MARGIN)))

    async def _pace(self, deadline: float = math.inf) -> bool:
        """Wait for a 429 pause and the global pace; False (do not send) after stop() or if
        the send could not start before `deadline` (monotonic)."""
        while True:
            pause = self._paused_until - time.monotonic()
            if pause > 0:
                if time.monotonic() + pause > deadline:
                    return False
                await self._sleep(pause)
            if self.stopping:
                return False
            await self._limiter.acquire()
            if self.stopping or time.monotonic() > deadline:
                return False
            if self._paused_until <= time.monotonic():  # no 429 arrived while we waited
                return True

    def _slow_down(self, retry_after: float) -> None:
        """A 429: pause every send for retry_after and halve the pace (once per flood, not
        once per send that was in flight when it started)."""
        now = time.monotonic()
        self._paused_until = max(self._paused_until, now + retry_after)
        self._last_flood = now
        if now >= self._halve_again_at:
            self._set_rate(max(min(1.0, self.target_rate), self._rate / 2))
            self._halve_again_at = now + retry_after

    def _recover(self) -> None:
        """After RECOVER_AFTER calm seconds, +10% a second back up to the configured rate."""
        if self._rate >= self.target_rate:
            return
        now = time.monotonic()
        if now - self._last_flood >= RECOVER_AFTER and now - self._last_change >= 1.0:
            self._set_rate(min(self.target_rate, self._rate * RECOVER_STEP))

    def _set_rate(self, rate: float) -> None:
        self._rate = rate
        self._limiter = self._make_limiter(rate)
        self._last_change = time.monotonic()

    @property
    def current_rate(self) -> float:
        return self._rate

    def _forget_blocked(self, sent_seq: int) -> None:
        """Batch `sent_seq` has been sent: an entry whose deactivation was committed before
        batch sent_seq + 1 was claimed (value <= sent_seq) is no longer needed, since every
        batch still to be sent was claimed, and rendered, after that commit."""
        if self._blocked_recently:
            self._blocked_recently = {a: s for a, s in self._blocked_recently.items() if s > sent_seq}

    def _prune_chats(self) -> None:
        now = time.monotonic()
        if len(self._next_allowed) > 10_000:
            self._next_allowed = {c: t for c, t in self._next_allowed.items() if t > now}

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once on stop()."""
        if seconds <= 0 or self.stopping:
            return
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
