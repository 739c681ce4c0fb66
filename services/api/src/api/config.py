"""The API's configuration from the environment, validated once at start."""

from typing import Annotated

from limits import RateLimitItem, parse
from pydantic import AfterValidator, Field

from shared.core.client_address import ClientAddressSettings
from shared.core.settings import ApiSecretGraceSettings, BackendSettings, Port, WebServerSettings
from shared.domain.simulation import ProcessingDelaySettings
from shared.domain.webhook_urls import WebhookUrlSettings

RATE_LIMIT_OFF = ("off", "0", "none", "false")


def _rate_limit(value: str | None) -> str | None:
    # Refused at start with the variable's name, never at the first request.
    if value is not None and value.strip().lower() not in RATE_LIMIT_OFF:
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                "expected a rate like '5/15 minutes' or '100 per second', or 'off'"
            ) from None
    return value


# `limits` notation ("5/15 minutes"); "off" turns a limit off; unset takes the default below.
RateLimitSetting = Annotated[str | None, AfterValidator(_rate_limit)]

# (default, whether it applies in TEST_MODE when unset): automated evaluations send hundreds of
# requests a minute from one address in test mode, so only the limits that stop brute force
# (failed logins, sign-ups) are on there unless set.
RATE_LIMIT_DEFAULTS: dict[str, tuple[str, bool]] = {
    "login_failures_per_email": ("5/15 minutes", True),
    "login_failures_per_address": ("20/15 minutes", True),
    "signups_per_address": ("20/hour", True),
    "public_payments_per_address": ("30/minute", False),
    "public_payments_per_order": ("10/hour", False),
    "card_failures_per_order": ("5/hour", False),
    "api_requests_per_key": ("1000/10 seconds", False),
}


class ApiSettings(
    WebServerSettings,
    BackendSettings,
    ProcessingDelaySettings,
    WebhookUrlSettings,
    ApiSecretGraceSettings,
    ClientAddressSettings,
):
    """PostgreSQL, Redis, where it listens (PORT 8000), the simulated bank's delays (it sets
    each payment's and refund's due time), the webhook URL rule, the grace of a replaced API
    secret, whose address a request is (TRUSTED_PROXIES, SERVICE_SECRET), and the API's own
    below."""

    port: Port = 8000
    # Few: past about twice a small machine's cores, more transactions at once only contend in
    # PostgreSQL. Under 32 clients on 2 cores, 10 connections gave 7 % fewer paid orders per
    # second than 8 clients did, 4 to 6 the same (README.md#connection-budget). It is also how
    # many requests run at once: the others wait their turn before any work
    # (api.middleware.AdmissionMiddleware).
    db_pool_size: int = Field(default=5, ge=1, le=200)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)

    # Rate limits (docs/operations/configuration.md#rate-limits): RATE_LIMIT_<NAME>.
    rate_limit_login_failures_per_email: RateLimitSetting = None
    rate_limit_login_failures_per_address: RateLimitSetting = None
    rate_limit_signups_per_address: RateLimitSetting = None
    rate_limit_public_payments_per_address: RateLimitSetting = None
    rate_limit_public_payments_per_order: RateLimitSetting = None
    rate_limit_card_failures_per_order: RateLimitSetting = None
    rate_limit_api_requests_per_key: RateLimitSetting = None

    def rate_limit(self, name: str) -> RateLimitItem | None:
        """The limit RATE_LIMIT_<NAME> sets, its default, or None when it is off."""
        value: str | None = getattr(self, f"rate_limit_{name}")
        default, in_test_mode = RATE_LIMIT_DEFAULTS[name]
        if value is None:
            if self.test_mode and not in_test_mode:
                return None
            value = default
        if value.strip().lower() in RATE_LIMIT_OFF:
            return None
        return parse(value)
