"""Event types: the one list (CONTRACT §7). A webhook endpoint's filter names them, every
event stored has one, and each is the `event` of its webhook bodies."""

from typing import Annotated, Literal, get_args

from pydantic import Field

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
