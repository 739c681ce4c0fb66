"""Recording events: every event is stored in `events` (the events API lists it, CONTRACT §5),
and, for a merchant with a webhook URL, a pending webhook log row whose id is the event id
(so `webhook-id` is the event id, CONTRACT §7), all in the caller's transaction; the webhook
dispatcher delivers the logs once that transaction has committed."""

import json
import time
from dataclasses import dataclass
from typing import Any

import structlog

from shared.db import AsyncTransaction, DictConnection, Row, Transaction
from shared.logging import current_correlation_id
from shared.queues import WEBHOOKS_QUEUE, JobQueues

PAYMENT_CREATED = "payment.created"
PAYMENT_PENDING = "payment.pending"
PAYMENT_SUCCESS = "payment.success"
PAYMENT_FAILED = "payment.failed"
REFUND_CREATED = "refund.created"
REFUND_PROCESSED = "refund.processed"
WEBHOOK_TEST = "webhook.test"

log = structlog.get_logger(__name__)

# Every event is stored; only merchants with a webhook URL get a delivery log, whose id is the
# event's id: nothing is logged or sent without a URL.
INSERT_EVENTS = """
WITH stored AS (
    INSERT INTO events (merchant_id, type, body, correlation_id)
    SELECT e.merchant_id, e.event, e.payload, e.correlation_id
    FROM unnest(%(merchant_ids)s::uuid[], %(events)s::text[], %(payloads)s::text[],
                %(correlation_ids)s::text[]) WITH ORDINALITY AS e(merchant_id, event, payload,
                                                                correlation_id, position)
    ORDER BY e.position
    RETURNING id, merchant_id, type, body, correlation_id
)
INSERT INTO webhook_logs (id, event_id, merchant_id, event, payload, next_retry_at,
                          correlation_id)
SELECT s.id, s.id, s.merchant_id, s.type, s.body, now(), s.correlation_id
FROM stored s
JOIN merchants m ON m.id = s.merchant_id AND coalesce(m.webhook_url, '') <> ''
RETURNING id, merchant_id, event, correlation_id
"""


@dataclass(frozen=True)
class Event:
    merchant_id: str
    name: str
    data: dict[str, Any]
    correlation_id: str | None = None


def event_body(event: str, data: dict[str, Any]) -> str:
    """Compact JSON with non-ASCII unescaped: byte-identical to JSON.stringify(JSON.parse(body))."""
    envelope = {"event": event, "timestamp": int(time.time()), "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def _insert_parameters(events: list[Event]) -> dict[str, list[str | None]]:
    return {
        "merchant_ids": [str(e.merchant_id) for e in events],
        "events": [e.name for e in events],
        "payloads": [event_body(e.name, e.data) for e in events],
        "correlation_ids": [e.correlation_id or current_correlation_id() for e in events],
    }


def record_events(
    tx: Transaction[DictConnection], queues: JobQueues, events: list[Event]
) -> list[str]:
    """Store events and log them for delivery in one statement; returns the ids of the delivery
    logs made (each equal to its event's id), none for merchants without a webhook URL. Once
    the transaction commits, the webhooks queue is woken and each queued delivery logged."""
    if not events:
        return []
    rows = tx.conn.execute(INSERT_EVENTS, _insert_parameters(events)).fetchall()
    if rows:
        tx.wake_after_commit(queues, WEBHOOKS_QUEUE)
        tx.after_commit(lambda: _log_queued(rows))
    return [str(row["id"]) for row in rows]


async def record_events_async(
    tx: AsyncTransaction, queues: JobQueues, events: list[Event]
) -> list[str]:
    """`record_events` in the API's transactions."""
    if not events:
        return []
    cursor = await tx.conn.execute(INSERT_EVENTS, _insert_parameters(events))
    rows = await cursor.fetchall()
    if rows:
        tx.wake_after_commit(queues, WEBHOOKS_QUEUE)
        tx.after_commit(lambda: _log_queued(rows))
    return [str(row["id"]) for row in rows]


def _log_queued(rows: list[Row]) -> None:
    for row in rows:
        log.info("webhook_queued", webhook_id=str(row["id"]), event_type=row["event"],
                 merchant_id=str(row["merchant_id"]), correlation_id=row["correlation_id"])  # fmt: skip


async def record_event_async(
    tx: AsyncTransaction, queues: JobQueues, merchant_id: str, event: str, data: dict[str, Any]
) -> str | None:
    """One event from the API; the id of its delivery log, None without a webhook URL."""
    logged = await record_events_async(tx, queues, [Event(merchant_id, event, data)])
    return logged[0] if logged else None
