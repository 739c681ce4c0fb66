from typing import Annotated, Any, ClassVar, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from api.fields import ISO_8601, NO_NUL_PATTERN, SHOWN_TEXT_RULE, ShownText, id_in_path
from api.pagination import Page
from api.webhooks.errors import WebhookEndpointNotFound
from shared.core.ids import ENDPOINT_PREFIX
from shared.domain.models import ENDPOINT_EXAMPLE, WebhookEndpoint, WebhookLog

EndpointIdInPath = Annotated[
    str,
    id_in_path("endpoint_id", ENDPOINT_PREFIX, "webhook endpoint", WebhookEndpointNotFound),
]
WebhookIdInPath = Annotated[
    str, Path(description="The webhook log's id", json_schema_extra={"format": "uuid"})
]


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
    event: str = Field(json_schema_extra={"enum": ["webhook.test"]})
    status: str
    message: str


# --- endpoints ------------------------------------------------------------------------------

EVENTS_DESCRIPTION = (
    'Event types it receives (e.g. "payment.success"), or ["*"] for every type; an unknown '
    "type is refused"
)


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

    model_config = ConfigDict(
        json_schema_extra={
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
    )


WebhookEndpointPage = Page[WebhookEndpointDetail]

EndpointUrl = Annotated[
    StrictStr,
    Field(min_length=1, max_length=2048, pattern=NO_NUL_PATTERN, description="http(s) URL"),
]
EventFilter = Annotated[
    list[StrictStr], Field(min_length=1, max_length=20, description=EVENTS_DESCRIPTION)
]
EndpointDescription = Annotated[
    ShownText,
    Field(max_length=500, description=f"Shown on the dashboard as typed: {SHOWN_TEXT_RULE}"),
]


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

    refused_example: ClassVar[dict[str, Any]] = {"status": "paused"}

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
    refused_example: ClassVar[dict[str, Any]] = {"since": "yesterday"}

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
