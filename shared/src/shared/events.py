"""Recording webhook events: a pending webhook log row written in the caller's transaction,
delivered by the webhook dispatcher once that transaction has committed."""

import json
import time
from typing import Any

from shared.db import Transaction
from shared.due import request_tick
from shared.logging import current_correlation_id
from shared.queues import DELIVER_DUE_WEBHOOKS_JOB, WEBHOOKS_QUEUE, JobQueues

PAYMENT_CREATED = "payment.created"
PAYMENT_PENDING = "payment.pending"
PAYMENT_SUCCESS = "payment.success"
PAYMENT_FAILED = "payment.failed"
REFUND_CREATED = "refund.created"
REFUND_PROCESSED = "refund.processed"
WEBHOOK_TEST = "webhook.test"

INSERT_EVENT = """
INSERT INTO webhook_logs (merchant_id, event, payload, next_retry_at, correlation_id)
SELECT id, %(event)s, %(payload)s, now(), %(correlation_id)s
FROM merchants
WHERE id = %(merchant_id)s AND coalesce(webhook_url, '') <> ''
RETURNING id
"""


def event_body(event: str, data: dict[str, Any]) -> str:
    """Compact JSON with non-ASCII unescaped: byte-identical to JSON.stringify(JSON.parse(body))."""
    envelope = {"event": event, "timestamp": int(time.time()), "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def record_event(
    tx: Transaction, queues: JobQueues, merchant_id: str, event: str, data: dict[str, Any]
) -> str | None:
    """Log the event for delivery; nothing is logged while the merchant has no webhook URL."""
    row = tx.conn.execute(
        INSERT_EVENT,
        {
            "merchant_id": merchant_id,
            "event": event,
            "payload": event_body(event, data),
            "correlation_id": current_correlation_id(),
        },
    ).fetchone()
    if row is None:
        return None
    tx.after_commit(
        lambda: request_tick(queues.redis, queues, WEBHOOKS_QUEUE, DELIVER_DUE_WEBHOOKS_JOB),
        key=WEBHOOKS_QUEUE,
    )
    return str(row["id"])
