from typing import Any

from pydantic import BaseModel, Field, StrictStr

from api.fields import NO_NUL_PATTERN
from api.pagination import Page


class WebhookLog(BaseModel):
    id: str
    event: str
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
