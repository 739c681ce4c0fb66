"""What the sync and async clients share: how a call is described, when it is retried and
how long to wait, and how an answer becomes a result or a typed error."""

import dataclasses
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from time import time
from typing import Any

import httpx

from payment_gateway.errors import UnexpectedResponseError, error_for

DEFAULT_BASE_URL = "http://localhost:8000"
USER_AGENT = "payment-gateway-python/0.1.0"

# Retried: the answers that say "the request did nothing, try again later"
# (docs/api.md#error-codes).
RETRYABLE_STATUSES = frozenset({409, 429, 502, 503, 504})


@dataclass(frozen=True)
class Call:
    """One API operation: method, path, query, JSON body, and how to read the answer."""

    method: str
    path: str
    parse: Callable[[Any], Any]
    params: dict[str, Any] | None = None
    json: Any = None
    # Takes an Idempotency-Key (merchant POSTs that create or change money: docs/idempotency.md).
    idempotent: bool = False
    idempotency_key: str | None = None
    authenticated: bool = True


@dataclass(frozen=True)
class RetryPolicy:
    """Retries with exponential backoff and full jitter: connection errors, 409 (an
    idempotency key still in use, only when the API says Retry-After), 429 and 5xx unavailable.
    `Retry-After` (seconds or an HTTP date) is honoured, up to `max_wait` seconds."""

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_wait: float = 60.0
    sleep_jitter: Callable[[], float] = field(default=random.random, repr=False)

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry `retry_number` (1-based) when the API said nothing."""
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** (retry_number - 1))
        return ceiling * (0.5 + self.sleep_jitter() / 2)

    def wait_for(self, retry_number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait)
        return self.backoff(retry_number)


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time()
    except (TypeError, ValueError):
        return None


def should_retry_response(call: Call, response: httpx.Response) -> bool:
    if response.status_code not in RETRYABLE_STATUSES:
        return False
    if response.status_code == 409:
        # A duplicate email is final; a key still in use says when to come back.
        return "retry-after" in response.headers
    if response.status_code in (502, 504):
        # The request may have run: only a GET or a keyed POST is safe to send again.
        return call.method in ("GET", "PUT") or call.idempotency_key is not None
    return True


def should_retry_error(call: Call, error: httpx.TransportError) -> bool:
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return True  # nothing reached the API
    return call.method in ("GET", "PUT") or call.idempotency_key is not None


def with_idempotency_key(call: Call, retrying: bool) -> Call:
    """A keyed call keeps one key through every retry, so the API runs it at most once."""
    if call.idempotent and call.idempotency_key is None and retrying:
        return dataclasses.replace(call, idempotency_key=str(uuid.uuid4()))
    return call


def request_headers(
    call: Call, credentials: tuple[str, str] | None, request_id: str | None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    if call.authenticated and credentials is not None:
        headers["X-Api-Key"], headers["X-Api-Secret"] = credentials
    if call.idempotency_key:
        headers["Idempotency-Key"] = call.idempotency_key
    if request_id:
        headers["X-Request-Id"] = request_id
    return headers


def query(params: dict[str, Any] | None) -> dict[str, Any] | None:
    kept = {k: v for k, v in (params or {}).items() if v is not None}
    return kept or None


def result_of(call: Call, response: httpx.Response) -> Any:
    """The parsed result of a 2xx answer; the typed APIError of any other."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    if response.is_success:
        try:
            return call.parse(body)
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            raise UnexpectedResponseError(
                response.status_code,
                "UNEXPECTED_RESPONSE",
                f"The API answered {response.status_code} with a body that is not the contract's",
                request_id=response.headers.get("x-request-id"),
                body=body,
            ) from exc
    raise error_for(
        response.status_code,
        body,
        response.headers.get("x-request-id"),
        retry_after_seconds(response),
    )
