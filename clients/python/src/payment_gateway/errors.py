"""Typed errors: one class per error code of the API (docs/api.md#error-codes), each carrying the
code, description, field, HTTP status and the request id (`X-Request-Id`) to quote to support."""

from typing import Any


class GatewayError(Exception):
    """Base of every error this client raises."""


class APIConnectionError(GatewayError):
    """The API could not be reached, or did not answer in time, after every retry."""


class APIError(GatewayError):
    """The API answered with its error body `{"error": {"code", "description", "field"?}}`."""

    def __init__(
        self,
        status_code: int,
        code: str,
        description: str,
        *,
        field: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ):
        super().__init__(f"{status_code} {code}: {description}")
        self.status_code = status_code
        self.code = code
        self.description = description
        self.field = field
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = body


class BadRequestError(APIError):
    """400: validation failed (`BAD_REQUEST_ERROR`, `INVALID_VPA`, `INVALID_CARD`,
    `EXPIRED_CARD`); `field` names the request field at fault when there is one."""


class AuthenticationError(APIError):
    """401 `AUTHENTICATION_ERROR`: missing or wrong API key or secret."""


class NotFoundError(APIError):
    """404 `NOT_FOUND_ERROR`: an unknown id, or another merchant's."""


class ConflictError(APIError):
    """409 `CONFLICT_ERROR`: a duplicate value, or an idempotency key still in use."""


class IdempotencyKeyMismatchError(APIError):
    """422 `IDEMPOTENCY_KEY_MISMATCH`: the key was used with another body or endpoint."""


class RateLimitError(APIError):
    """429 `RATE_LIMIT_ERROR`; `retry_after` says how long to wait, in seconds."""


class ServiceUnavailableError(APIError):
    """503 `SERVICE_UNAVAILABLE` (or another 5xx): the request may be retried."""


class UnexpectedResponseError(APIError):
    """A success status with a body this client cannot read (not the API's documented shape:
    docs/api.md)."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    422: IdempotencyKeyMismatchError,
    429: RateLimitError,
}


def error_for(
    status_code: int, body: Any, request_id: str | None, retry_after: float | None
) -> APIError:
    """The typed error for an API answer that is not a success."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {"code": "API_ERROR", "description": f"The API answered HTTP {status_code}"}
    cls = _BY_STATUS.get(status_code) or (
        ServiceUnavailableError if status_code >= 500 else APIError
    )
    return cls(
        status_code,
        str(error.get("code", "API_ERROR")),
        str(error.get("description", "")),
        field=error.get("field"),
        request_id=request_id,
        retry_after=retry_after,
        body=body,
    )
