from typing import Any

from pydantic import BaseModel, Field

from api.pagination import Page
from api.webhooks.schemas import WebhookLog
from shared.domain.models import EventTypeText

EVENT_EXAMPLE: dict[str, Any] = {
    "id": "0b7e4c1e-7b8f-4a4e-9d0c-3f1a2b3c4d5e",
    "type": "payment.success",
    "created_at": "2026-01-15T10:31:10.123Z",
    "data": {"payment": {"id": "pay_H8sK3jD9s2L1pQr7", "status": "success", "amount": 50000}},
}


class Event(BaseModel):
    """Something that happened to one of the merchant's objects (CONTRACT §5, §7)."""

    id: str = Field(
        description="The event id: the Standard Webhooks `webhook-id` of its deliveries",
        json_schema_extra={"format": "uuid"},
    )
    type: EventTypeText
    created_at: str
    data: dict[str, Any] = Field(
        description="`{payment}` for payment events, `{refund}` for refund events"
    )

    model_config = {"json_schema_extra": {"examples": [EVENT_EXAMPLE]}}


class EventDetail(Event):
    body: str = Field(
        description="The exact JSON body every delivery of this event carries (and is signed)"
    )
    deliveries: list[WebhookLog] = Field(
        description="Its deliveries: one per endpoint that took it (and any recovered ones)"
    )


class SignedDelivery(BaseModel):
    """An event as a webhook delivery of it sent now would carry it."""

    id: str = Field(description="The event id, its `webhook-id`")
    body: str = Field(description="The exact JSON body of every delivery of the event")
    headers: dict[str, str] = Field(
        description="Content-Type, X-Webhook-Signature, webhook-id, webhook-timestamp (now) and "
        "webhook-signature, signed with every webhook secret in force"
    )


EventPage = Page[Event]
