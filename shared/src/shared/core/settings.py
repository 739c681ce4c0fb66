"""Configuration from the environment (docs/operations/configuration.md), validated once at start.

Each service has its own settings class, in its own package (`api.config`, `dashboard.config`,
`checkout.config`, `payment_worker.config` ...), that reads only the variables it uses. The
classes are put together from the small groups below (log level, service URLs, PostgreSQL,
Redis, where a web service listens) and from the groups that live beside the code reading them
(`shared.domain.simulation`, `shared.domain.webhook_urls`, `shared.domain.seed`,
`shared.backends.housekeeping`, `shared.backends.worker`). A variable keeps one name, default
and meaning wherever it is read.
"""

import os
import sys
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Milliseconds = Annotated[int, Field(ge=0, le=3_600_000)]
Port = Annotated[int, Field(ge=1, le=65535)]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def _log_level(value: str) -> str:
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level


def _service_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or fragment")
    return value.strip().rstrip("/")


# `debug`, `info`, `warning`, `error` or `critical`, in any case; held in lower case.
LogLevel = Annotated[str, AfterValidator(_log_level)]
# An http(s) URL without query or fragment, held without a trailing slash.
ServiceUrl = Annotated[str, AfterValidator(_service_url)]


class ServiceSettings(BaseSettings):
    """The root of every service's settings: LOG_LEVEL. Variable names are case-insensitive;
    variables a service does not use are ignored."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    log_level: LogLevel = "info"


class ServiceUrls(ServiceSettings):
    """How services and pages find each other: API_URL, CHECKOUT_URL, DASHBOARD_URL."""

    api_url: ServiceUrl = "http://localhost:8000"
    checkout_url: ServiceUrl = "http://localhost:3001"
    dashboard_url: ServiceUrl = "http://localhost:3000"


class ApiSecretGraceSettings(ServiceSettings):
    """API_SECRET_GRACE_SECONDS: how long a replaced API secret keeps working after a rotation
    (docs/api.md#api-secret-rotation). The API enforces it; the dashboard says it before a merchant
    rotates."""

    api_secret_grace_seconds: int = Field(default=24 * 3600, ge=0, le=30 * 24 * 3600)


class DatabaseSettings(ServiceSettings):
    """DATABASE_URL: required; a service that opens PostgreSQL refuses to start without it."""

    database_url: str = Field(min_length=1)


class RedisSettings(ServiceSettings):
    """REDIS_URL: required; a service that uses Redis refuses to start without it."""

    redis_url: str = Field(min_length=1)


class BackendSettings(DatabaseSettings, RedisSettings, ServiceUrls):
    """The API and the workers: PostgreSQL, Redis, and where the other services are."""


class WebServerSettings(ServiceSettings):
    """Where a web service listens: HOST (loopback by default: the seeded test merchant logs in
    with any password) and PORT, whose default each service sets to its own
    (docs/operations/running.md). `make run` gives every web service its own PORT."""

    host: str = Field(default="127.0.0.1", min_length=1)
    port: Port


S = TypeVar("S", bound=BaseSettings)


def load_settings(settings_class: type[S]) -> S:
    """Read the environment or stop the process (exit 2) with one line naming the bad variable."""
    try:
        return settings_class()
    except ValidationError as exc:
        error = exc.errors()[0]
        # Our validators' own words, without pydantic's "Value error, " in front.
        own_words = error["type"] == "value_error"
        reason = str(error["ctx"]["error"]) if own_words else error["msg"]
        if not error["loc"]:
            # A rule across variables (e.g. a minimum above its maximum) names them itself.
            message = reason
        elif error["type"] == "missing":
            message = f"{_variable(settings_class, error['loc'])} is not set"
        else:
            message = f"{_variable(settings_class, error['loc'])} is invalid: {reason}"
        print(f"configuration error: {message}", file=sys.stderr)
        raise SystemExit(2) from None


def _variable(settings_class: type[BaseSettings], loc: tuple[Any, ...]) -> str:
    """The environment variable an error is about. pydantic names a field read through
    AliasChoices by its first choice; the one that was set is the one to name."""
    name = str(loc[0])
    present = {variable.upper() for variable in os.environ}
    for field in settings_class.model_fields.values():
        choices = field.validation_alias
        if isinstance(choices, AliasChoices) and name in choices.choices:
            names = [str(choice).upper() for choice in choices.choices]
            return next((n for n in names if n in present), names[0])
    return "_".join(str(part) for part in loc).upper()
