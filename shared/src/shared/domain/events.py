"""Recording events: every event is stored in `events` (the events API lists it), and one
pending webhook log (a delivery) is made per enabled endpoint of its merchant whose filter
takes its type, all in the caller's transaction; the webhook dispatcher delivers the logs once
that transaction has committed. The default endpoint's log has the event's id as its own id;
every delivery carries the event id as `webhook-id`. No one wakes it: the insert's
trigger NOTIFYs on commit (migration 007), and the dispatcher's sweep or waiting tick hears it
(shared.backends.worker)."""

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.core.logging import current_correlation_id
from shared.domain.models import EventType

if TYPE_CHECKING:
    from shared.backends.db import AsyncTransaction, DictConnection, Row, Transaction

# Names for the event types (shared.domain.models.EventType, the one list: mypy refuses a
# name that is not in it).
PAYMENT_CREATED: EventType = "payment.created"
PAYMENT_PENDING: EventType = "payment.pending"
PAYMENT_SUCCESS: EventType = "payment.success"
PAYMENT_FAILED: EventType = "payment.failed"
REFUND_CREATED: EventType = "refund.created"
REFUND_PROCESSED: EventType = "refund.processed"
WEBHOOK_TEST: EventType = "webhook.test"
WEBHOOK_ENDPOINT_DISABLED: EventType = "webhook_endpoint.disabled"
# An endpoint filter of this one value takes every event type.
EVERY_EVENT = "*"

# Every event is stored; a delivery log is made per enabled endpoint whose filter takes the
# type (`webhook.test` goes to the default endpoint alone): nothing is logged or sent without
# one. The default endpoint's log keeps the event id as its own id, the others get new ones.
# The ids are made here (uuid4), so `record_events` can say which events got a delivery.
# Arrays go in binary (`%b`): psycopg escapes every element of a text-format array with a
# regular expression, which cost the payment worker a fifth of its CPU
# (README.md#the-cost-of-a-paid-order).
INSERT_EVENTS = """
WITH stored AS (
    INSERT INTO events (id, merchant_id, type, body, correlation_id, object_id)
    SELECT e.id, e.merchant_id, e.event, e.payload, e.correlation_id, e.object_id
    FROM unnest(%(ids)b::uuid[], %(merchant_ids)b::uuid[], %(events)b::text[],
                %(payloads)b::text[], %(correlation_ids)b::text[], %(object_ids)b::text[])
         WITH ORDINALITY AS e(id, merchant_id, event, payload, correlation_id, object_id,
                              position)
    ORDER BY e.position
    RETURNING id, merchant_id, type, body, correlation_id, object_id
)
INSERT INTO webhook_logs (id, event_id, endpoint_id, merchant_id, event, payload, object_id,
                          next_retry_at, correlation_id)
SELECT CASE WHEN w.is_default THEN s.id ELSE gen_random_uuid() END, s.id, w.id, s.merchant_id,
       s.type, s.body, s.object_id, now(), s.correlation_id
FROM stored s
JOIN webhook_endpoints w ON w.merchant_id = s.merchant_id AND w.status = 'enabled'
 AND (s.type = ANY(w.events) OR '*' = ANY(w.events))
 AND (w.is_default OR s.type <> 'webhook.test')
RETURNING event_id
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


def object_id(data: dict[str, Any]) -> str | None:
    """The id of the payment or refund an event's data is about; None for other events."""
    for kind in ("payment", "refund"):
        thing = data.get(kind)
        if isinstance(thing, dict) and isinstance(thing.get("id"), str):
            return thing["id"]
    return None


def _insert_parameters(events: list[Event], ids: list[str]) -> dict[str, list[Any]]:
    return {
        "ids": ids,
        "merchant_ids": [str(e.merchant_id) for e in events],
        "events": [e.name for e in events],
        "payloads": [event_body(e.name, e.data) for e in events],
        "correlation_ids": [e.correlation_id or current_correlation_id() for e in events],
        "object_ids": [object_id(e.data) for e in events],
    }


def _queued(ids: list[str], logged: "list[Row]") -> list[str | None]:
    delivered = {str(row["event_id"]) for row in logged}
    return [event_id if event_id in delivered else None for event_id in ids]


def record_events(tx: "Transaction[DictConnection]", events: list[Event]) -> list[str | None]:
    """Store events and log their deliveries in one statement. Returns, for each event in
    order, its id when at least one delivery was logged for it (the `webhook-id` of its
    deliveries, and the id of the default endpoint's log), or None when no enabled endpoint
    takes it.

    Nothing is logged here: the caller's line for the state change names the deliveries it
    queued (`webhook_ids`), one line per change (docs/operations/observability.md#logs), not one
    more per delivery."""
    if not events:
        return []
    ids = [str(uuid.uuid4()) for _ in events]
    logged = tx.conn.execute(INSERT_EVENTS, _insert_parameters(events, ids)).fetchall()
    return _queued(ids, logged)


async def record_events_async(tx: "AsyncTransaction", events: list[Event]) -> list[str | None]:
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
    tx: "AsyncTransaction", merchant_id: str, event: str, data: dict[str, Any]
) -> str | None:
    """One event from the API; its id when a delivery was logged for it, else None."""
    [logged] = await record_events_async(tx, [Event(merchant_id, event, data)])
    return logged
