from pydantic import BaseModel, Field

from api.pagination import Page
from api.webhooks.schemas import WebhookLog
from shared.domain.models import Event


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
