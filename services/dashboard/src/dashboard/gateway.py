"""The gateway API as the dashboard sees it, through the project's Python client
(`payment_gateway`, clients/python): one AsyncGateway per process, explicit timeouts, and a
per-merchant view of it for each call.

Every merchant call carries the logged-in merchant's key and secret, which live only in the
server-side session. Every call also names the visitor it is made for (`VisitorAddressMiddleware`
sets it per request) with the SERVICE_SECRET, so the API's limits per address count the
visitor, not the dashboard (shared.core.client_address). Errors come back as `ApiError` with the API's
code and description; an API that does not answer, fails (5xx) or answers outside docs/api.md is
`ApiUnavailable`. The dashboard retries nothing itself: a merchant's click is one request.
"""

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from payment_gateway import (
    APIConnectionError,
    APIError,
    AsyncGateway,
    Page,
    UnexpectedResponseError,
)
from payment_gateway.resources import Resource
from shared.core.client_address import SERVICE_SECRET_HEADER, VISITOR_ADDRESS_HEADER
from shared.core.logging import current_correlation_id

log = structlog.get_logger(__name__)

# The address of the visitor whose request the dashboard is answering, if any.
_visitor_address: ContextVar[str | None] = ContextVar("visitor_address", default=None)
# As the client library would pool them without a transport of ours.
API_CONNECTION_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=10)


@contextmanager
def acting_for(visitor_address: str) -> Iterator[None]:
    """API calls made inside name `visitor_address` as the person they are made for."""
    token = _visitor_address.set(visitor_address)
    try:
        yield
    finally:
        _visitor_address.reset(token)


class VisitorAddressTransport(httpx.AsyncBaseTransport):
    """Adds the visitor's address and the SERVICE_SECRET that vouches for it to every API
    request made while answering a visitor; without a secret it adds nothing (the API would
    not believe the address)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, service_secret: str | None):
        self._inner = inner
        self._service_secret = service_secret

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        visitor = _visitor_address.get()
        if self._service_secret and visitor:
            request.headers[VISITOR_ADDRESS_HEADER] = visitor
            request.headers[SERVICE_SECRET_HEADER] = self._service_secret
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(api_key={self.api_key!r}, api_secret=<redacted>)"


class ApiError(Exception):
    """The API answered with its error body (docs/api.md#errors); `retry_after` is its Retry-After
    in seconds (a 429 carries one), None when it sent none; `field` the request field it named
    at fault, if any."""

    def __init__(
        self,
        status_code: int,
        code: str,
        description: str,
        retry_after: float | None = None,
        field: str | None = None,
    ):
        super().__init__(f"{status_code} {code}: {description}")
        self.status_code = status_code
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.field = field

    @property
    def refused(self) -> bool:
        """The API refused the request as the merchant filled it in (400, 409, 422,
        docs/api.md#errors): the form is shown again with `sentence`; anything else (a 404, a
        429, a 401) goes to the error pages."""
        return self.status_code in (400, 409, 422)

    @property
    def wait_sentence(self) -> str:
        """A refusal for too many attempts, with the wait in minutes as people count them:
        'Too many attempts; try again in 15 minutes.'"""
        if self.retry_after is None:
            return "Too many attempts; try again in a few minutes."
        minutes = max(1, math.ceil(self.retry_after / 60))
        return f"Too many attempts; try again in {minutes} minute{'s' if minutes > 1 else ''}."

    @property
    def retry_headers(self) -> dict[str, str]:
        """The dashboard's own 429 passes the API's wait on: `Retry-After` in whole seconds
        (RFC 9110 section 10.2.3), none when the API gave none."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(0, math.ceil(self.retry_after)))}

    @property
    def sentence(self) -> str:
        """The description as a sentence to show the merchant."""
        text = self.description.strip() or "The request failed"
        return text if text.endswith((".", "!", "?")) else text + "."


class ApiUnavailable(Exception):
    """The API did not answer, timed out, or answered something docs/api.md does not describe."""


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def idempotency_key_or_none(value: str | None) -> str | None:
    """A key the dashboard generated for one rendered form, or nothing if it was tampered with."""
    return value if value and IDEMPOTENCY_KEY.match(value) else None


def _plain(result: Any) -> Any:
    """The JSON the API sent, as the templates read it."""
    if isinstance(result, Page):
        return {
            "data": [item.raw for item in result.data],
            "total": result.total,
            "limit": result.limit,
            "offset": result.offset,
            "total_is_estimate": result.total_is_estimate,
        }
    if isinstance(result, Resource):
        return result.raw
    return result


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
        service_secret: str | None = None,
    ):
        """`transport`: where requests go (a test's stand-in API), HTTP by default;
        `service_secret`: SERVICE_SECRET, which lets the API believe the visitor's address."""
        inner = transport or httpx.AsyncHTTPTransport(limits=API_CONNECTION_LIMITS)
        self._gateway = AsyncGateway(
            api_key="",
            api_secret="",
            base_url=base_url,
            timeout=timeout_seconds,
            max_retries=0,
            request_id=current_correlation_id,
            transport=VisitorAddressTransport(inner, service_secret),
        )

    async def aclose(self) -> None:
        await self._gateway.aclose()

    def api(self, credentials: Credentials | None = None) -> "ApiCall":
        """The client's namespaces as one merchant (or, without `credentials`, no one) calls
        them: `await gateway.api(credentials).payments.get(payment_id)`."""
        return ApiCall(self, credentials, ())

    async def call(
        self, path: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any],
        credentials: Credentials | None,
    ) -> Any:  # fmt: skip
        """Run the client's method at `path` (("payments", "get")) with `args` and `kwargs`;
        its result as plain JSON (a dict), its failure as ApiError or ApiUnavailable."""
        what = ".".join(path)
        gateway = self._gateway
        if credentials is not None:
            gateway = gateway.with_credentials(credentials.api_key, credentials.api_secret)
        method: Any = gateway
        for name in path:
            method = getattr(method, name)
        try:
            # AsyncGateway returns awaitables where the namespaces are typed with the
            # synchronous Gateway's results.
            return _plain(await method(*args, **kwargs))
        except APIConnectionError as exc:
            log.warning("api_unreachable", operation=what, error=str(exc))
            raise ApiUnavailable(str(exc)) from exc
        except UnexpectedResponseError as exc:
            log.warning("api_failed", operation=what, status=exc.status_code)
            raise ApiUnavailable(f"API answered {exc.status_code}") from exc
        except APIError as exc:
            if exc.status_code >= 500 or exc.code == "API_ERROR":
                # A server fault or an answer docs/api.md does not describe: nothing the merchant
                # can fix.
                log.warning("api_failed", operation=what, status=exc.status_code)
                raise ApiUnavailable(f"API answered {exc.status_code}") from exc
            raise ApiError(
                exc.status_code, exc.code, exc.description, exc.retry_after, exc.field
            ) from exc

    async def seeded_test_merchant(self) -> dict[str, Any] | None:
        """The seeded test merchant, if this gateway has one (a hint on the login page)."""
        try:
            result: dict[str, Any] = await self.api().merchants.test_merchant()
        except (ApiError, ApiUnavailable):
            return None
        return result

    async def api_answers(self) -> bool:
        try:
            health = await self._gateway.health(timeout=2.0)
        except APIConnectionError:
            return False
        return health["status_code"] == 200


class ApiCall:
    """A name in the Python client (clients/python: `merchants`, `payments.get`, ...) bound to
    one merchant's credentials or none; awaiting a call of it runs GatewayClient.call, which
    gives the API's JSON as a dict (a page as {data, total, limit, offset, total_is_estimate})
    or raises ApiError (the API refused: 4xx) or ApiUnavailable (down, 5xx, or off docs/api.md)."""

    def __init__(
        self, client: GatewayClient, credentials: Credentials | None, path: tuple[str, ...]
    ):
        self._client = client
        self._credentials = credentials
        self._path = path

    def __getattr__(self, name: str) -> "ApiCall":
        if name.startswith("_"):  # copy, pickle and inspect probe for these: not API names
            raise AttributeError(name)
        return ApiCall(self._client, self._credentials, (*self._path, name))

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self._client.call(self._path, args, kwargs, self._credentials)
