"""Event types: the one list (docs/webhooks.md#events). A webhook endpoint's filter names them, every
event stored has one, and each is the `event` of its webhook bodies."""

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field

from shared.domain.models.base import Reader, Resource, Timestamp, UuidText

EventType = Literal[
    "payment.created",
    "payment.pending",
    "payment.success",
    "payment.failed",
    "refund.created",
    "refund.processed",
    "webhook.test",
    "webhook_endpoint.disabled",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
# An event type as a response shows it: documented as the list above, typed as text so that a
# client reading a newer type is never refused by its own schema.
EventTypeText = Annotated[str, Field(json_schema_extra={"enum": list(EVENT_TYPES)})]
# A webhook delivery's (a webhook log's) state.
DeliveryStatus = Literal["pending", "success", "failed"]

EVENT_EXAMPLE: dict[str, Any] = {
    "id": "0b7e4c1e-7b8f-4a4e-9d0c-3f1a2b3c4d5e",
    "type": "payment.success",
    "created_at": "2026-01-15T10:31:10.123Z",
    "data": {"payment": {"id": "pay_H8sK3jD9s2L1pQr7", "status": "success", "amount": 50000}},
}


def _data(body: str) -> Any:
    """The `data` of a stored webhook body (the body itself is kept byte for byte)."""
    return json.loads(body)["data"]


class Event(Resource):
    """Something that happened to one of the merchant's objects (docs/api.md#events, docs/webhooks.md#events)."""

    id: UuidText = Field(
        description="The event id: the Standard Webhooks `webhook-id` of its deliveries",
        json_schema_extra={"format": "uuid"},
    )
    type: EventTypeText
    created_at: Timestamp
    data: Annotated[dict[str, Any], Reader(_data, column="body")] = Field(
        description="`{payment}` for payment events, `{refund}` for refund events"
    )

    model_config = ConfigDict(json_schema_extra={"examples": [EVENT_EXAMPLE]})
