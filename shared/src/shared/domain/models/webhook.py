"""A webhook log: one delivery of an event to one endpoint (CONTRACT §7)."""

from pydantic import Field

from shared.domain.models.base import OptionalTimestamp, Resource, Timestamp, UuidText
from shared.domain.models.event import DeliveryStatus, EventTypeText


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
