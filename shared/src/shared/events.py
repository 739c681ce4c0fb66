"""Recording events: every event is stored in `events` (the events API lists it, CONTRACT §5),
and, for a merchant with a webhook URL, a pending webhook log row whose id is the event id
(so `webhook-id` is the event id, CONTRACT §7), all in the caller's transaction; the webhook
dispatcher delivers the logs once that transaction has committed. No one wakes it: the insert's
trigger NOTIFYs on commit (migration 007), and the dispatcher's sweep or waiting tick hears it
(shared.worker)."""

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.db import AsyncTransaction, DictConnection, Row, Transaction
from shared.logging import current_correlation_id

PAYMENT_CREATED = "payment.created"
PAYMENT_PENDING = "payment.pending"
PAYMENT_SUCCESS = "payment.success"
PAYMENT_FAILED = "payment.failed"
REFUND_CREATED = "refund.created"
REFUND_PROCESSED = "refund.processed"
WEBHOOK_TEST = "webhook.test"

# Every event is stored; only merchants with a webhook URL get a delivery log, whose id is the
# event's id: nothing is logged or sent without a URL. The ids are made here (uuid4), so
# `record_events` can say which of the events got a delivery log. Arrays go in binary (`%b`):
# psycopg escapes every element of a text-format array with a regular expression, which cost
# the payment worker a fifth of its CPU (issue 13).
INSERT_EVENTS = """
WITH stored AS (
    INSERT INTO events (id, merchant_id, type, body, correlation_id)
    SELECT e.id, e.merchant_id, e.event, e.payload, e.correlation_id
    FROM unnest(%(ids)b::uuid[], %(merchant_ids)b::uuid[], %(events)b::text[],
                %(payloads)b::text[], %(correlation_ids)b::text[])
         WITH ORDINALITY AS e(id, merchant_id, event, payload, correlation_id, position)
    ORDER BY e.position
    RETURNING id, merchant_id, type, body, correlation_id
)
INSERT INTO webhook_logs (id, event_id, merchant_id, event, payload, next_retry_at,
                          correlation_id)
SELECT s.id, s.id, s.merchant_id, s.type, s.body, now(), s.correlation_id
FROM stored s
JOIN merchants m ON m.id = s.merchant_id AND coalesce(m.webhook_url, '') <> ''
RETURNING id
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


def _insert_parameters(events: list[Event], ids: list[str]) -> dict[str, list[Any]]:
    return {
        "ids": ids,
        "merchant_ids": [str(e.merchant_id) for e in events],
        "events": [e.name for e in events],
        "payloads": [event_body(e.name, e.data) for e in events],
        "correlation_ids": [e.correlation_id or current_correlation_id() for e in events],
    }


def _queued(ids: list[str], logged: list[Row]) -> list[str | None]:
    delivered = {str(row["id"]) for row in logged}
    return [event_id if event_id in delivered else None for event_id in ids]


def record_events(tx: Transaction[DictConnection], events: list[Event]) -> list[str | None]:
    """Store events and log them for delivery in one statement. Returns, for each event in
    order, the id of its delivery log (equal to the event's id), or None for a merchant
    without a webhook URL.

    Nothing is logged here: the caller's line for the state change names the deliveries it
    queued (`webhook_ids`), one line per change (issue 12), not one more per delivery."""
    if not events:
        return []
    ids = [str(uuid.uuid4()) for _ in events]
    logged = tx.conn.execute(INSERT_EVENTS, _insert_parameters(events, ids)).fetchall()
    return _queued(ids, logged)


async def record_events_async(tx: AsyncTransaction, events: list[Event]) -> list[str | None]:
    """`record_events` in the API's transactions."""
    if not events:
        return []
    ids = [str(uuid.uuid4()) for _ in events]
    cursor = await tx.conn.execute(INSERT_EVENTS, _insert_parameters(events, ids))
    return _queued(ids, await cursor.fetchall())


def queued_webhooks(webhooks: Sequence[str | None]) -> dict[str, list[str]]:
    """The fields a state change's log line gets for the deliveries it queued: `webhook_ids`,
    the ids `record_events` returned that are not None; nothing when there are none."""
    ids = [webhook for webhook in webhooks if webhook]
    return {"webhook_ids": ids} if ids else {}


async def record_event_async(
    tx: AsyncTransaction, merchant_id: str, event: str, data: dict[str, Any]
) -> str | None:
    """One event from the API; the id of its delivery log, None without a webhook URL."""
    [logged] = await record_events_async(tx, [Event(merchant_id, event, data)])
    return logged
