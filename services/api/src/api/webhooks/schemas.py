from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictStr

from api.fields import ISO_8601, NO_NUL_PATTERN
from api.pagination import Page


class WebhookLog(BaseModel):
    """One delivery of an event to one endpoint, with its attempts."""

    id: str
    event: str
    event_id: str = Field(
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
    status: str
    attempts: int
    created_at: str
    last_attempt_at: str | None
    next_retry_at: str | None
    response_code: int | None
    last_error: str | None = Field(
        description="Why the latest attempt failed (e.g. connection refused); null after a "
        "success, before the first attempt, or when the endpoint answered with a status"
    )


class WebhookAttempt(BaseModel):
    attempt_number: int = Field(
        description="1, 2, 3, ... over every attempt of this delivery, manual retries included"
    )
    scheduled_attempt: int = Field(
        description="Which of the five scheduled attempts this was; 1 again after a manual retry"
    )
    attempted_at: str
    duration_ms: int
    response_code: int | None
    response_body: str | None
    error: str | None


class WebhookLogDetail(WebhookLog):
    payload: dict[str, Any]
    body: str = Field(description="The exact body sent (and signed) on every attempt")
    attempt_history: list[WebhookAttempt] = Field(description="Every attempt, oldest first")


WebhookLogPage = Page[WebhookLog]


class WebhookRetried(BaseModel):
    id: str
    status: str
    message: str


class WebhookConfigUpdate(BaseModel):
    webhook_url: StrictStr = Field(
        max_length=2048,
        pattern=NO_NUL_PATTERN,
        description="http(s) URL; an empty string clears it",
    )


class ReplacedSecret(BaseModel):
    replaced_at: str
    expires_at: str = Field(description="It signs alongside the current secret until then")


class WebhookConfig(BaseModel):
    webhook_url: str | None
    webhook_secret: str
    previous_secret_expires_at: str | None = Field(
        default=None, description="When the last replaced secret stops signing; null if none"
    )
    previous_secrets: list[ReplacedSecret] = Field(
        default=[], description="Replaced secrets still signing, newest first"
    )


class WebhookTestSent(BaseModel):
    id: str
    event: str
    status: str
    message: str


# --- endpoints ------------------------------------------------------------------------------

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

EVENTS_DESCRIPTION = (
    'Event types it receives (e.g. "payment.success"), or ["*"] for every type; an unknown '
    "type is refused"
)


class WebhookEndpoint(BaseModel):
    """A URL that receives the merchant's events (CONTRACT §7a): its own event filter,
    signing secret and status."""

    id: str = Field(description="`we_` and 16 letters and digits")
    url: str
    events: list[str] = Field(description='Event types it receives; ["*"]: every type')
    description: str | None
    status: str = Field(description="`enabled`, or `disabled` (by the merchant or automatically)")
    default: bool = Field(
        description="The endpoint /api/v1/webhooks/config shows (its URL and secret)"
    )
    secret: str = Field(description="Signs its deliveries (both signature headers)")
    disabled_reason: str | None = Field(
        description="Why it was disabled automatically (410 Gone, sustained failure); null "
        "while enabled or when the merchant disabled it"
    )
    created_at: str
    updated_at: str

    model_config = {"json_schema_extra": {"examples": [ENDPOINT_EXAMPLE]}}


class EndpointHealth(BaseModel):
    succeeded_24h: int = Field(description="Deliveries that ended `success` in the last 24 h")
    failed_24h: int = Field(description="Deliveries that ended `failed` in the last 24 h")
    last_success_at: str | None = Field(description="The last successful delivery; null if none")
    retrying: int = Field(
        description="Deliveries still pending after a failed attempt, waiting for a retry"
    )
    last_failure_at: str | None = Field(
        description="When an attempt to it last failed (of deliveries that failed or are "
        "retrying); null if none"
    )


class WebhookEndpointDetail(WebhookEndpoint):
    health: EndpointHealth

    model_config = {
        "json_schema_extra": {
            "examples": [
                ENDPOINT_EXAMPLE
                | {
                    "health": {
                        "succeeded_24h": 42,
                        "failed_24h": 1,
                        "last_success_at": "2026-01-15T10:31:10.123Z",
                        "retrying": 2,
                        "last_failure_at": "2026-01-15T10:35:02.456Z",
                    }
                }
            ]
        }
    }


WebhookEndpointPage = Page[WebhookEndpointDetail]

EndpointUrl = Annotated[
    StrictStr,
    Field(min_length=1, max_length=2048, pattern=NO_NUL_PATTERN, description="http(s) URL"),
]
EventFilter = Annotated[
    list[StrictStr], Field(min_length=1, max_length=20, description=EVENTS_DESCRIPTION)
]
EndpointDescription = Annotated[str, Field(max_length=500, pattern=NO_NUL_PATTERN)]


class WebhookEndpointCreate(BaseModel):
    url: EndpointUrl
    events: EventFilter = ["*"]
    description: EndpointDescription | None = None

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [
                {
                    "url": "https://fulfilment.example.com/webhooks",
                    "events": ["payment.success", "refund.processed"],
                    "description": "Fulfilment",
                }
            ]
        },
    }


class WebhookEndpointUpdate(BaseModel):
    """The fields to change; those left out stay as they are."""

    url: EndpointUrl | None = None
    events: EventFilter | None = None
    description: EndpointDescription | None = None
    status: Literal["enabled", "disabled"] | None = Field(
        default=None, description="Enabling clears `disabled_reason`"
    )

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {"examples": [{"events": ["*"], "status": "enabled"}]},
    }


class EndpointRecover(BaseModel):
    since: StrictStr = Field(
        max_length=40,
        pattern=ISO_8601,
        description="ISO-8601 (UTC if no offset); at most 30 days back",
    )
    until: StrictStr | None = Field(
        default=None, max_length=40, pattern=ISO_8601, description="ISO-8601; default now"
    )

    model_config = {
        "extra": "forbid",
        "json_schema_extra": {
            "examples": [{"since": "2026-01-15T08:00:00Z", "until": "2026-01-15T12:00:00Z"}]
        },
    }


class EndpointRecovered(BaseModel):
    queued: int = Field(description="Events queued for delivery again, each as a new log")
