"""The events API (docs/api.md#events): every event the merchant's objects caused, newest first."""

import time
from typing import Any

from api.errors import found
from api.events import repository
from api.events.errors import EventNotFound
from api.fields import uuid_or_not_found
from api.pagination import CreatedRange, Pagination
from api.webhooks import repository as webhooks
from shared.backends.db import AsyncDatabase
from shared.core.signing import signature_headers
from shared.domain.models import Event, WebhookLog


async def list_events(
    db: AsyncDatabase,
    merchant_id: str,
    event_type: str | None,
    created: CreatedRange,
    pagination: Pagination,
) -> dict[str, Any]:
    """The merchant's events matching the filters, newest first."""
    filters = {"merchant_id": merchant_id, "type": event_type,
               "created_start": created.start, "created_end": created.end}  # fmt: skip
    async with db.connection() as conn:
        rows, total = await repository.EVENTS.page(conn, filters, pagination)
    return pagination.page([Event.from_row(row) for row in rows], total)


async def signed_delivery(db: AsyncDatabase, merchant_id: str, event_id: str) -> dict[str, Any]:
    """`{id, body, headers}`: the event's exact body and every header a delivery of it sent now
    carries, signed by the dispatcher's own code with every secret in force (the current one
    first, then replaced ones still in their overlap); `webhook-id` is the event id and
    `webhook-timestamp` now. What `gateway listen` forwards. EventNotFound as get_event."""
    event_id = uuid_or_not_found(event_id, EventNotFound)
    async with db.connection() as conn:
        row = found(await repository.get_event(conn, event_id, merchant_id), EventNotFound)
        secrets = await webhooks.secrets_in_force(conn, merchant_id)
    body = row["body"]
    headers = signature_headers(secrets, event_id, int(time.time()), body.encode())
    return {"id": event_id, "body": body, "headers": headers}


async def get_event(db: AsyncDatabase, merchant_id: str, event_id: str) -> dict[str, Any]:
    """One event with its exact delivered body and its deliveries; EventNotFound for an unknown id
    or another merchant's (docs/api.md#merchant-isolation)."""
    event_id = uuid_or_not_found(event_id, EventNotFound)
    async with db.connection() as conn:
        row = found(await repository.get_event(conn, event_id, merchant_id), EventNotFound)
        deliveries = await repository.list_deliveries(conn, event_id)
    return Event.from_row(row).model_dump() | {
        "body": row["body"],
        "deliveries": [WebhookLog.from_row(delivery) for delivery in deliveries],
    }
