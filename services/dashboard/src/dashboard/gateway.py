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
from collections.abc import Callable, Iterator
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
    in seconds (a 429 carries one), None when it sent none."""

    def __init__(
        self, status_code: int, code: str, description: str, retry_after: float | None = None
    ):
        super().__init__(f"{status_code} {code}: {description}")
        self.status_code = status_code
        self.code = code
        self.description = description
        self.retry_after = retry_after

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

    def _as(self, credentials: Credentials | None) -> AsyncGateway:
        if credentials is None:
            return self._gateway
        return self._gateway.with_credentials(credentials.api_key, credentials.api_secret)

    async def call(
        self,
        what: str,
        operation: Callable[[AsyncGateway], Any],
        credentials: Credentials | None = None,
    ) -> Any:
        """Run one client operation; its result as plain JSON, its failure as ApiError or
        ApiUnavailable.

        `operation` returns an awaitable: payment_gateway's namespaces are typed with the
        synchronous `Gateway`'s results, which `AsyncGateway` returns as awaitables."""
        try:
            return _plain(await operation(self._as(credentials)))
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
            raise ApiError(exc.status_code, exc.code, exc.description, exc.retry_after) from exc

    # Merchants

    async def log_in(self, email: str, password: str) -> dict[str, Any]:
        return await self.call("log_in", lambda g: g.merchants.log_in(email, password))

    async def sign_up(self, name: str, email: str, password: str) -> dict[str, Any]:
        return await self.call("sign_up", lambda g: g.merchants.sign_up(name, email, password))

    async def seeded_test_merchant(self) -> dict[str, Any] | None:
        """The seeded test merchant, if this gateway has one (a hint on the login page)."""
        try:
            return await self.call("test_merchant", lambda g: g.merchants.test_merchant())
        except (ApiError, ApiUnavailable):
            return None

    # Payments and refunds

    async def payment_stats(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call("payment_stats", lambda g: g.payments.stats(), credentials)

    async def list_payments(
        self, credentials: Credentials, limit: int, offset: int, status: str | None = None
    ) -> dict[str, Any]:
        return await self.call(
            "list_payments", lambda g: g.payments.list(limit, offset, status), credentials
        )

    async def get_payment(self, credentials: Credentials, payment_id: str) -> dict[str, Any]:
        return await self.call("get_payment", lambda g: g.payments.get(payment_id), credentials)

    async def capture_payment(
        self, credentials: Credentials, payment_id: str, idempotency_key: str | None
    ) -> dict[str, Any]:
        return await self.call(
            "capture_payment",
            lambda g: g.payments.capture(payment_id, idempotency_key=idempotency_key),
            credentials,
        )

    async def list_refunds(
        self, credentials: Credentials, payment_id: str, limit: int = 100
    ) -> dict[str, Any]:
        return await self.call(
            "list_refunds", lambda g: g.refunds.list(payment_id, limit, 0), credentials
        )

    async def create_refund(
        self,
        credentials: Credentials,
        payment_id: str,
        amount: int,
        reason: str | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        return await self.call(
            "create_refund",
            lambda g: g.refunds.create(
                payment_id, amount, reason or None, idempotency_key=idempotency_key
            ),
            credentials,
        )

    async def list_orders(self, credentials: Credentials, limit: int = 10) -> dict[str, Any]:
        return await self.call("list_orders", lambda g: g.orders.list(limit, 0), credentials)

    # Webhooks

    async def list_webhooks(
        self,
        credentials: Credentials,
        limit: int,
        offset: int,
        endpoint_id: str | None = None,
        object_id: str | None = None,
    ) -> dict[str, Any]:
        return await self.call(
            "list_webhooks",
            lambda g: g.webhooks.list(limit, offset, endpoint_id=endpoint_id, object_id=object_id),
            credentials,
        )

    async def get_webhook(self, credentials: Credentials, webhook_id: str) -> dict[str, Any]:
        return await self.call("get_webhook", lambda g: g.webhooks.get(webhook_id), credentials)

    async def retry_webhook(self, credentials: Credentials, webhook_id: str) -> dict[str, Any]:
        return await self.call("retry_webhook", lambda g: g.webhooks.retry(webhook_id), credentials)

    async def webhook_config(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call("webhook_config", lambda g: g.webhooks.config(), credentials)

    async def update_webhook_config(
        self, credentials: Credentials, webhook_url: str
    ) -> dict[str, Any]:
        return await self.call(
            "update_webhook_config", lambda g: g.webhooks.update_config(webhook_url), credentials
        )

    # Webhook endpoints

    async def list_webhook_endpoints(self, credentials: Credentials) -> dict[str, Any]:
        """Every endpoint of the merchant (there are at most 20)."""
        return await self.call(
            "list_webhook_endpoints", lambda g: g.webhook_endpoints.list(100, 0), credentials
        )

    async def get_webhook_endpoint(
        self, credentials: Credentials, endpoint_id: str
    ) -> dict[str, Any]:
        return await self.call(
            "get_webhook_endpoint", lambda g: g.webhook_endpoints.get(endpoint_id), credentials
        )

    async def create_webhook_endpoint(
        self,
        credentials: Credentials,
        url: str,
        events: list[str],
        description: str | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        return await self.call(
            "create_webhook_endpoint",
            lambda g: g.webhook_endpoints.create(
                url, events, description, idempotency_key=idempotency_key
            ),
            credentials,
        )

    async def update_webhook_endpoint(
        self, credentials: Credentials, endpoint_id: str, **changes: Any
    ) -> dict[str, Any]:
        """PATCH any of `url`, `events`, `description`, `status`."""
        return await self.call(
            "update_webhook_endpoint",
            lambda g: g.webhook_endpoints.update(endpoint_id, **changes),
            credentials,
        )

    async def delete_webhook_endpoint(self, credentials: Credentials, endpoint_id: str) -> None:
        await self.call(
            "delete_webhook_endpoint",
            lambda g: g.webhook_endpoints.delete(endpoint_id),
            credentials,
        )

    async def rotate_endpoint_secret(
        self, credentials: Credentials, endpoint_id: str, idempotency_key: str | None
    ) -> dict[str, Any]:
        return await self.call(
            "rotate_endpoint_secret",
            lambda g: g.webhook_endpoints.rotate_secret(
                endpoint_id, idempotency_key=idempotency_key
            ),
            credentials,
        )

    async def recover_endpoint(
        self,
        credentials: Credentials,
        endpoint_id: str,
        since: str,
        until: str | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        return await self.call(
            "recover_endpoint",
            lambda g: g.webhook_endpoints.recover(
                endpoint_id, since, until, idempotency_key=idempotency_key
            ),
            credentials,
        )

    async def rotate_api_secret(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call(
            "rotate_api_secret", lambda g: g.merchants.rotate_api_secret(), credentials
        )

    async def rotate_webhook_secret(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call(
            "rotate_webhook_secret", lambda g: g.webhooks.rotate_secret(), credentials
        )

    async def send_test_webhook(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call("send_test_webhook", lambda g: g.webhooks.send_test(), credentials)

    # Health

    async def api_answers(self) -> bool:
        try:
            health = await self._gateway.health(timeout=2.0)
        except APIConnectionError:
            return False
        return health["status_code"] == 200
