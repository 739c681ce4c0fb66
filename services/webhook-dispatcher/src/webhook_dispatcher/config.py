"""The webhook dispatcher's configuration from the environment, validated once at start."""

import re
from typing import Annotated

from pydantic import BeforeValidator, Field

from shared.backends.worker import WorkerSettings
from shared.domain.webhook_urls import WebhookUrlSettings

UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration_s(value: object) -> object:
    # "24h", "90m", "30s", "2d", or plain seconds; refused at start with the variable's name.
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value.lower())
        if match is None:
            raise ValueError("expected a duration like 24h, 90m, 30s, 2d or seconds")
        return float(match[1]) * UNITS_S[match[2] or "s"]
    return value


DurationSeconds = Annotated[float, BeforeValidator(_duration_s), Field(gt=0)]


class DispatcherSettings(WorkerSettings, WebhookUrlSettings):
    """Every worker's variables, WEBHOOK_ALLOW_PRIVATE_NETWORKS (checked again at delivery),
    WEBHOOK_RETRY_INTERVALS_TEST (the short retry schedule) and
    WEBHOOK_ENDPOINT_DISABLE_AFTER: how long every delivery to an endpoint must have failed
    (with at least 5 deliveries ended `failed` in that time) before it is disabled."""

    webhook_retry_intervals_test: bool = False
    webhook_endpoint_disable_after: DurationSeconds = 24 * 3600.0
