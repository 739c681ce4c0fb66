"""Typed domain errors. Each carries its HTTP status and error code (docs/api.md#error-codes); the
API renders them."""

from typing import ClassVar


class GatewayError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST_ERROR"
    default_description: ClassVar[str] = "Bad request"
    # The request field at fault, as a dotted path (docs/api.md#errors `field`).
    default_field: ClassVar[str | None] = None

    def __init__(
        self,
        description: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        field: str | None = None,
    ):
        self.description = description or self.default_description
        self.headers = headers or {}
        self.field = field or self.default_field
        super().__init__(self.description)


class BadRequest(GatewayError):
    pass


class AuthenticationFailed(GatewayError):
    status_code = 401
    code = "AUTHENTICATION_ERROR"
    default_description = "Invalid API credentials"


class NotFound(GatewayError):
    status_code = 404
    code = "NOT_FOUND_ERROR"
    default_description = "Not found"


class InvalidVpa(GatewayError):
    code = "INVALID_VPA"
    default_description = "VPA format invalid"
    default_field = "vpa"


class InvalidCard(GatewayError):
    code = "INVALID_CARD"
    default_description = "Card validation failed"
    default_field = "card"


class ExpiredCard(GatewayError):
    code = "EXPIRED_CARD"
    default_description = "Card expiry date invalid"
    default_field = "card"


class Conflict(GatewayError):
    status_code = 409
    code = "CONFLICT_ERROR"
    default_description = "Conflict"


class IdempotencyKeyMismatch(GatewayError):
    status_code = 422
    code = "IDEMPOTENCY_KEY_MISMATCH"
    default_description = "Idempotency key was used with a different request"


class ServiceUnavailable(GatewayError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
    default_description = "Service temporarily unavailable, please retry"


class RateLimited(GatewayError):
    """Too many requests of one kind from one client, email, order or API key
    (docs/api.md#rate-limits); always sent with Retry-After."""

    status_code = 429
    code = "RATE_LIMIT_ERROR"
    default_description = "Too many requests, please retry later"
