"""The events API (CONTRACT §5): every event the merchant's objects caused, newest first."""

import json
import uuid
from typing import Any

from api.events import repository
from api.events.errors import EventNotFound
from api.fields import utc_time
from api.pagination import Total
from api.webhooks.service import _log_resource as log_resource  # one shape for a log
from shared.db import AsyncDatabase, Row
from shared.serializers import iso


def _event_resource(row: Row) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "created_at": iso(row["created_at"]),
        "data": json.loads(row["body"])["data"],
    }


async def list_events(
    db: AsyncDatabase,
    merchant_id: str,
    event_type: str | None,
    created_from: str | None,
    created_to: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], Total]:
    """The merchant's events matching the filters (both bounds inclusive), newest first."""
    filters = repository.filters(
        merchant_id,
        event_type,
        utc_time(created_from, "created_from"),
        utc_time(created_to, "created_to"),
    )
    async with db.connection() as conn:
        rows = await repository.list_events(conn, filters, limit, offset)
        total = await repository.count_events(conn, filters)
    return [_event_resource(row) for row in rows], total


async def get_event(db: AsyncDatabase, merchant_id: str, event_id: str) -> dict[str, Any]:
    """One event with its exact delivered body and its deliveries; EventNotFound for an unknown id
    or another merchant's (CONTRACT §3)."""
    try:
        event_id = str(uuid.UUID(event_id))
    except ValueError:
        raise EventNotFound from None
    async with db.connection() as conn:
        row = await repository.get_event(conn, event_id, merchant_id)
        if row is None:
            raise EventNotFound
        deliveries = await repository.list_deliveries(conn, event_id)
    return _event_resource(row) | {
        "body": row["body"],
        "deliveries": [log_resource(delivery) for delivery in deliveries],
    }
