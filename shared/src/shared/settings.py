"""Configuration from the environment (CONTRACT §2), validated once at start."""

import sys
from typing import Annotated, Self, TypeVar

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Milliseconds = Annotated[int, Field(ge=0, le=3_600_000)]


class GatewaySettings(BaseSettings):
    """What every service reads; a service subclasses it to add its own variables."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    database_url: str = Field(min_length=1)
    redis_url: str = Field(min_length=1)

    test_mode: bool = False
    test_processing_delay: Milliseconds = 1000
    test_payment_success: bool = True
    webhook_retry_intervals_test: bool = False
    upi_success_rate: Probability = 0.90
    card_success_rate: Probability = 0.95
    processing_delay_min: Milliseconds = 5000
    processing_delay_max: Milliseconds = 10000
    refund_delay_min: Milliseconds = 3000
    refund_delay_max: Milliseconds = 5000

    test_merchant_email: str = "test@example.com"
    test_api_key: str = Field(
        default="key_test_abc123", validation_alias=AliasChoices("TEST_API_KEY", "API_KEY")
    )
    test_api_secret: str = Field(
        default="secret_test_xyz789",
        validation_alias=AliasChoices("TEST_API_SECRET", "API_SECRET"),
    )
    test_webhook_secret: str = "whsec_test_abc123"

    webhook_allow_private_networks: bool = False
    api_url: str = "http://localhost:8000"
    checkout_url: str = "http://localhost:3001"
    dashboard_url: str = "http://localhost:3000"

    # Stored events older than this are purged (CONTRACT §5 events API).
    event_retention_days: int = Field(default=30, ge=1, le=3650)

    log_level: str = "info"
    # Where a worker serves its Prometheus metrics and /livez; unset, it serves none.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

    @model_validator(mode="after")
    def _delays_ordered(self) -> Self:
        if self.processing_delay_min > self.processing_delay_max:
            raise ValueError("PROCESSING_DELAY_MIN must not exceed PROCESSING_DELAY_MAX")
        if self.refund_delay_min > self.refund_delay_max:
            raise ValueError("REFUND_DELAY_MIN must not exceed REFUND_DELAY_MAX")
        return self


S = TypeVar("S", bound=BaseSettings)


def load_settings(settings_class: type[S]) -> S:
    """Read the environment or stop the process with one line naming the bad variable."""
    try:
        return settings_class()
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = "_".join(str(part) for part in error["loc"]).upper() or "configuration"
        if error["type"] == "missing":
            message = f"{variable} is not set"
        else:
            message = f"{variable} is invalid: {error['msg']}"
        print(f"configuration error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
