"""Prometheus metrics of the bot process (served at /metrics, see bot/observability.py).

Defined in one place so every module increments the same objects. Outbox depth by state is
not a counter kept in memory: it is read from the database when Prometheus scrapes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SENT = Counter("fupin_messages_sent_total", "Messages delivered to Telegram", ["kind"])
FAILED = Counter("fupin_messages_failed_total", "Messages that failed for good", ["kind", "reason"])
RETRIED = Counter("fupin_messages_retried_total", "Temporary send errors that will be retried", ["reason"])
CANCELLED = Counter("fupin_messages_cancelled_total", "Notices cancelled because they no longer held", ["kind"])
FLOOD_WAITS = Counter("fupin_telegram_429_total", "429 Too Many Requests answers from Telegram")
SEND_LATENCY = Histogram(
    "fupin_send_seconds", "Time of one send call to Telegram", buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
)
HANDLER_LATENCY = Histogram(
    "fupin_handler_seconds",
    "Time to handle one Telegram update",
    ["event"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
UPDATES = Counter("fupin_updates_total", "Telegram updates handled", ["event", "outcome"])

# Refreshed from the database on every scrape of /metrics (bot/observability.py).
OUTBOX_MESSAGES = Gauge("fupin_outbox_messages", "Outbox rows by delivery state", ["state"])
OUTBOX_OLDEST_DUE = Gauge(
    "fupin_outbox_oldest_due_seconds", "Age of the oldest queued or retry outbox row that is due (0 when none)"
)
DATABASE_UP = Gauge("fupin_database_up", "1 when the last scrape could read the outbox from the database, else 0")
