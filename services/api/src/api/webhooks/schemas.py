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


class WebhookAttempt(BaseModel):
    attempt_number: int
    attempted_at: str
    duration_ms: int
    response_code: int | None
    response_body: str | None
    error: str | None


class WebhookLogDetail(WebhookLog):
    payload: dict[str, Any]
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


class WebhookConfig(BaseModel):
    webhook_url: str | None
    webhook_secret: str
    previous_secret_expires_at: str | None = None


class WebhookTestSent(BaseModel):
    id: str
    event: str
    status: str
    message: str
