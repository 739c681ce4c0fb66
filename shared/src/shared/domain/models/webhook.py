"""Webhook endpoints, and webhook logs: one delivery of an event to one endpoint (docs/webhooks.md#delivery-logs)."""

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.models.base import OptionalTimestamp, Reader, Resource, Timestamp, UuidText
from shared.domain.models.event import DeliveryStatus, EventTypeText
from shared.domain.models.order import MERCHANT_ID_EXAMPLE


class WebhookLog(Resource):
    """One delivery of an event to one endpoint, with its attempts."""

    id: UuidText
    event: EventTypeText
    event_id: UuidText = Field(
        description="The event delivered: the `webhook-id` header of every attempt",
        json_schema_extra={"format": "uuid"},
    )
    endpoint_id: str | None = Field(
        description="The endpoint it goes to (kept after the endpoint is deleted); null only "
        "for deliveries made before endpoints existed to a merchant without a URL"
    )
    object_id: str | None = Field(
        description="The payment's or refund's id the event is about; null for other events"
    )
    status: DeliveryStatus
    attempts: int
    created_at: Timestamp
    last_attempt_at: OptionalTimestamp
    next_retry_at: OptionalTimestamp
    response_code: int | None
    last_error: str | None = Field(
        description="Why the latest attempt failed (e.g. connection refused); null after a "
        "success, before the first attempt, or when the endpoint answered with a status"
    )


ENDPOINT_EXAMPLE: dict[str, Any] = {
    "id": "we_Q7sK2mP9xR4tV8wZ",
    "url": "https://fulfilment.example.com/webhooks",
    "events": ["payment.success", "refund.processed"],
    "description": "Fulfilment",
    "status": "enabled",
    "default": False,
    "secret": "whsec_dGhpcyBpcyBhbiBleGFtcGxlIHNlY3JldCE=",
    "disabled_reason": None,
    "created_at": "2026-01-15T10:31:10.123Z",
    "updated_at": "2026-01-15T10:31:10.123Z",
}


class WebhookEndpoint(Resource):
    """A URL that receives the merchant's events (docs/webhooks.md#endpoints): its own event filter,
    signing secret and status. Without its `secret`, the data of a `webhook_endpoint.disabled`
    event."""

    ROW_ONLY: ClassVar[tuple[str, ...]] = ("merchant_id",)

    id: str = Field(description="`we_` and 16 letters and digits")
    url: str
    events: list[str] = Field(description='Event types it receives; ["*"]: every type')
    description: str | None
    status: Literal["enabled", "disabled"] = Field(
        description="`enabled`, or `disabled` (by the merchant or automatically)"
    )
    default: Annotated[bool, Reader(column="is_default")] = Field(
        description="The endpoint /api/v1/webhooks/config shows (its URL and secret)"
    )
    secret: str = Field(description="Signs its deliveries (both signature headers)")
    disabled_reason: str | None = Field(
        description="Why it was disabled automatically (410 Gone, sustained failure); null "
        "while enabled or when the merchant disabled it"
    )
    created_at: Timestamp
    updated_at: Timestamp

    model_config = ConfigDict(json_schema_extra={"examples": [ENDPOINT_EXAMPLE]})


TEST_MESSAGE = "This is a test webhook from Payment Gateway"


class TestEventData(BaseModel):
    """The `data` of a `webhook.test` event."""

    message: str = Field(examples=[TEST_MESSAGE])
    merchant_id: str = Field(examples=[MERCHANT_ID_EXAMPLE])
