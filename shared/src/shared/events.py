"""Recording webhook events: pending webhook log rows written in the caller's transaction,
delivered by the webhook dispatcher once that transaction has committed."""

import json
import time
from dataclasses import dataclass
from typing import Any

import structlog

from shared.db import Transaction
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

# Only merchants with a webhook URL get a row: nothing is logged or sent without one.
INSERT_EVENTS = """
INSERT INTO webhook_logs (merchant_id, event, payload, next_retry_at, correlation_id)
SELECT m.id, e.event, e.payload, now(), e.correlation_id
FROM unnest(%(merchant_ids)s::uuid[], %(events)s::text[], %(payloads)s::text[],
            %(correlation_ids)s::text[]) WITH ORDINALITY AS e(merchant_id, event, payload,
                                                            correlation_id, position)
JOIN merchants m ON m.id = e.merchant_id AND coalesce(m.webhook_url, '') <> ''
ORDER BY e.position
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


def record_events(tx: Transaction, queues: JobQueues, events: list[Event]) -> list[str]:
    """Log events for delivery in one statement; returns the ids of the rows logged."""
    if not events:
        return []
    rows = tx.conn.execute(
        INSERT_EVENTS,
        {
            "merchant_ids": [str(e.merchant_id) for e in events],
            "events": [e.name for e in events],
            "payloads": [event_body(e.name, e.data) for e in events],
            "correlation_ids": [e.correlation_id or current_correlation_id() for e in events],
        },
    ).fetchall()
    if rows:
        tx.after_commit(lambda: queues.wake(WEBHOOKS_QUEUE), key=WEBHOOKS_QUEUE)
        tx.after_commit(lambda: _log_queued(rows))
    return [str(row["id"]) for row in rows]


def _log_queued(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        log.info("webhook_queued", webhook_id=str(row["id"]), event_type=row["event"],
                 merchant_id=str(row["merchant_id"]), correlation_id=row["correlation_id"])  # fmt: skip


def record_event(
    tx: Transaction, queues: JobQueues, merchant_id: str, event: str, data: dict[str, Any]
) -> str | None:
    logged = record_events(tx, queues, [Event(merchant_id, event, data)])
    return logged[0] if logged else None
