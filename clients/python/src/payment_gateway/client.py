"""`Gateway` (sync) and `AsyncGateway` (async): every endpoint of the API (docs/api.md).

    from payment_gateway import Gateway
    gateway = Gateway(api_key="key_test_abc123", api_secret="secret_test_xyz789")
    order = gateway.orders.create(amount=50000, receipt="r1")
    for payment in gateway.payments.iter(status="success"):   # every page, newest first
        print(payment.id, payment.amount)

Both share one description of each operation; a resource method returns the result with the
sync client and an awaitable with the async one. Merchant POSTs that take an
`Idempotency-Key` get one automatically whenever retries are on, kept through every retry.
"""

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from payment_gateway import _transport as t
from payment_gateway.errors import APIConnectionError, APIError
from payment_gateway.resources import (
    ApiCredentials,
    Event,
    Merchant,
    Order,
    Page,
    Payment,
    PublicOrder,
    RecoveryQueued,
    Refund,
    SignedDelivery,
    WebhookConfig,
    WebhookEndpoint,
    WebhookLog,
    WebhookRetried,
    WebhookTestSent,
    page_of,
)

R = TypeVar("R")
PageCall = Callable[[int, int], t.Call]


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _raw(body: Any) -> Any:
    return body


def _iso(moment: datetime | str | None) -> str | None:
    if moment is None or isinstance(moment, str):
        return moment
    return moment.isoformat()


class _Namespace(Generic[R]):
    def __init__(self, client: "_BaseClient"):
        self._client = client

    def _send(self, call: t.Call) -> Any:
        return self._client._send(call)

    def _pages(self, page_call: PageCall, page_size: int) -> Any:
        return self._client._paginate(page_call, page_size)


class Orders(_Namespace):
    def create(
        self,
        amount: int,
        currency: str = "INR",
        receipt: str | None = None,
        notes: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Order:
        """Create an order of `amount` paise (at least 100)."""
        body: dict[str, Any] = {"amount": amount, "currency": currency}
        if receipt is not None:
            body["receipt"] = receipt
        if notes is not None:
            body["notes"] = notes
        return self._send(
            t.Call("POST", "/api/v1/orders", Order.from_dict, json=body, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def get(self, order_id: str) -> Order:
        return self._send(t.Call("GET", f"/api/v1/orders/{_seg(order_id)}", Order.from_dict))

    def get_public(self, order_id: str) -> PublicOrder:
        """The order as the checkout page sees it (no credentials needed)."""
        path = f"/api/v1/orders/{_seg(order_id)}/public"
        return self._send(t.Call("GET", path, PublicOrder.from_dict, authenticated=False))

    def _page_call(self, status: str | None) -> PageCall:
        def call(limit: int, offset: int) -> t.Call:
            params = {"limit": limit, "offset": offset, "status": status}
            return t.Call("GET", "/api/v1/orders", lambda b: page_of(Order, b), params=params)

        return call

    def list(self, limit: int = 10, offset: int = 0, status: str | None = None) -> Page[Order]:
        """Orders, newest first; only those of `status` (`created`, `paid`) when given."""
        return self._send(self._page_call(status)(limit, offset))

    def iter(self, status: str | None = None, page_size: int = 100) -> Iterator[Order]:
        """Every order (of `status`, when given), newest first, fetching pages as needed."""
        return self._pages(self._page_call(status), page_size)


class Payments(_Namespace):
    def create(
        self,
        order_id: str,
        method: str,
        *,
        vpa: str | None = None,
        card: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Pay an order by `upi` (with `vpa`) or `card` (with `card={number, expiry_month,
        expiry_year, cvv, holder_name}`); the payment is `pending` until the bank answers."""
        body: dict[str, Any] = {"order_id": order_id, "method": method}
        if vpa is not None:
            body["vpa"] = vpa
        if card is not None:
            body["card"] = card
        return self._send(
            t.Call("POST", "/api/v1/payments", Payment.from_dict, json=body, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def get(self, payment_id: str) -> Payment:
        return self._send(t.Call("GET", f"/api/v1/payments/{_seg(payment_id)}", Payment.from_dict))

    def get_public(self, payment_id: str) -> Payment:
        path = f"/api/v1/payments/{_seg(payment_id)}/public"
        return self._send(t.Call("GET", path, Payment.from_dict, authenticated=False))

    def capture(
        self, payment_id: str, amount: int | None = None, *, idempotency_key: str | None = None
    ) -> Payment:
        """Capture a successful payment; `amount`, if given, must equal the payment's."""
        body = {} if amount is None else {"amount": amount}
        path = f"/api/v1/payments/{_seg(payment_id)}/capture"
        return self._send(
            t.Call("POST", path, Payment.from_dict, json=body, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def stats(self) -> dict[str, Any]:
        """Totals the dashboard shows (count, amount of successful payments, success rate)."""
        return self._send(t.Call("GET", "/api/v1/payments/stats", _raw))

    def _page_call(self, status: str | None) -> PageCall:
        def call(limit: int, offset: int) -> t.Call:
            params = {"limit": limit, "offset": offset, "status": status}
            return t.Call("GET", "/api/v1/payments", lambda b: page_of(Payment, b), params=params)

        return call

    def list(self, limit: int = 10, offset: int = 0, status: str | None = None) -> Page[Payment]:
        return self._send(self._page_call(status)(limit, offset))

    def iter(self, status: str | None = None, page_size: int = 100) -> Iterator[Payment]:
        return self._pages(self._page_call(status), page_size)


class Refunds(_Namespace):
    def create(
        self,
        payment_id: str,
        amount: int | None = None,
        reason: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Refund:
        """Refund `amount` paise of a successful payment; all that is left when omitted."""
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = amount
        if reason is not None:
            body["reason"] = reason
        path = f"/api/v1/payments/{_seg(payment_id)}/refunds"
        return self._send(
            t.Call("POST", path, Refund.from_dict, json=body, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def get(self, refund_id: str) -> Refund:
        return self._send(t.Call("GET", f"/api/v1/refunds/{_seg(refund_id)}", Refund.from_dict))

    def _page_call(self, payment_id: str) -> PageCall:
        path = f"/api/v1/payments/{_seg(payment_id)}/refunds"

        def call(limit: int, offset: int) -> t.Call:
            params = {"limit": limit, "offset": offset}
            return t.Call("GET", path, lambda b: page_of(Refund, b), params=params)

        return call

    def list(self, payment_id: str, limit: int = 10, offset: int = 0) -> Page[Refund]:
        return self._send(self._page_call(payment_id)(limit, offset))

    def iter(self, payment_id: str, page_size: int = 100) -> Iterator[Refund]:
        return self._pages(self._page_call(payment_id), page_size)


class Webhooks(_Namespace):
    def _page_call(
        self,
        status: str | None = None,
        event: str | None = None,
        endpoint_id: str | None = None,
        object_id: str | None = None,
    ) -> PageCall:
        def call(limit: int, offset: int) -> t.Call:
            params = {"limit": limit, "offset": offset, "status": status, "event": event,
                      "endpoint_id": endpoint_id, "object_id": object_id}  # fmt: skip
            return t.Call(
                "GET", "/api/v1/webhooks", lambda b: page_of(WebhookLog, b), params=params
            )

        return call

    def _page(self, limit: int, offset: int) -> t.Call:
        return self._page_call()(limit, offset)

    def list(
        self,
        limit: int = 10,
        offset: int = 0,
        *,
        status: str | None = None,
        event: str | None = None,
        endpoint_id: str | None = None,
        object_id: str | None = None,
    ) -> Page[WebhookLog]:
        """Delivery logs, newest first; only those of one `status`, `event` type, endpoint
        (`we_…`) or payment or refund (`object_id`, `pay_…`/`rfnd_…`) when given."""
        return self._send(self._page_call(status, event, endpoint_id, object_id)(limit, offset))

    def iter(
        self,
        page_size: int = 100,
        *,
        status: str | None = None,
        event: str | None = None,
        endpoint_id: str | None = None,
        object_id: str | None = None,
    ) -> Iterator[WebhookLog]:
        return self._pages(self._page_call(status, event, endpoint_id, object_id), page_size)

    def get(self, webhook_id: str) -> WebhookLog:
        """One delivery with its payload and every attempt."""
        path = f"/api/v1/webhooks/{_seg(webhook_id)}"
        return self._send(t.Call("GET", path, WebhookLog.from_dict))

    def retry(self, webhook_id: str, *, idempotency_key: str | None = None) -> WebhookRetried:
        """Deliver a logged webhook again now, its attempts counted from 0."""
        path = f"/api/v1/webhooks/{_seg(webhook_id)}/retry"
        return self._send(
            t.Call("POST", path, WebhookRetried.from_dict, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def config(self) -> WebhookConfig:
        return self._send(t.Call("GET", "/api/v1/webhooks/config", WebhookConfig.from_dict))

    def update_config(self, webhook_url: str) -> WebhookConfig:
        """Set the webhook URL (http/https); an empty string clears it."""
        body = {"webhook_url": webhook_url}
        return self._send(
            t.Call("PUT", "/api/v1/webhooks/config", WebhookConfig.from_dict, json=body)
        )

    def rotate_secret(self, *, idempotency_key: str | None = None) -> WebhookConfig:
        """A new signing secret; the old one keeps signing alongside for 24 hours. Sent again
        with the same `idempotency_key`, the first new secret is replayed."""
        path = "/api/v1/webhooks/config/rotate-secret"
        return self._send(
            t.Call("POST", path, WebhookConfig.from_dict, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def send_test(self, *, idempotency_key: str | None = None) -> WebhookTestSent:
        """A `webhook.test` event to the default endpoint."""
        path = "/api/v1/webhooks/test"
        return self._send(
            t.Call("POST", path, WebhookTestSent.from_dict, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip


class WebhookEndpoints(_Namespace):
    """The merchant's webhook endpoints (at most 20): each its own URL, event filter,
    signing secret and status. The one marked `default` is `webhooks.config()`'s URL."""

    _PATH = "/api/v1/webhooks/endpoints"

    def _path(self, endpoint_id: str, action: str = "") -> str:
        return f"{self._PATH}/{_seg(endpoint_id)}{action}"

    def create(
        self,
        url: str,
        events: Sequence[str] | None = None,
        description: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> WebhookEndpoint:
        """A new enabled endpoint taking `events` (types such as `payment.success`, or
        `["*"]`, the default, for all). An unknown type, a refused URL or a 21st endpoint
        raise BadRequestError."""
        body: dict[str, Any] = {"url": url}
        if events is not None:
            body["events"] = list(events)
        if description is not None:
            body["description"] = description
        return self._send(
            t.Call("POST", self._PATH, WebhookEndpoint.from_dict, json=body, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def _page(self, limit: int, offset: int) -> t.Call:
        params = {"limit": limit, "offset": offset}
        return t.Call("GET", self._PATH, lambda b: page_of(WebhookEndpoint, b), params=params)

    def list(self, limit: int = 10, offset: int = 0) -> Page[WebhookEndpoint]:
        return self._send(self._page(limit, offset))

    def iter(self, page_size: int = 100) -> Iterator[WebhookEndpoint]:
        return self._pages(self._page, page_size)

    def get(self, endpoint_id: str) -> WebhookEndpoint:
        """The endpoint with its `health` over the last 24 hours."""
        return self._send(t.Call("GET", self._path(endpoint_id), WebhookEndpoint.from_dict))

    def update(
        self,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        description: str | None = None,
        status: str | None = None,
    ) -> WebhookEndpoint:
        """Change any of `url`, `events`, `description` (`""` clears it) and `status`
        (`enabled`/`disabled`); what is not given stays as it is."""
        given = {
            "url": url,
            "events": None if events is None else list(events),
            "description": description,
            "status": status,
        }
        body = {key: value for key, value in given.items() if value is not None}
        return self._send(
            t.Call("PATCH", self._path(endpoint_id), WebhookEndpoint.from_dict, json=body)
        )

    def enable(self, endpoint_id: str) -> WebhookEndpoint:
        return self.update(endpoint_id, status="enabled")

    def disable(self, endpoint_id: str) -> WebhookEndpoint:
        return self.update(endpoint_id, status="disabled")

    def delete(self, endpoint_id: str) -> None:
        """Remove the endpoint: its pending deliveries end failed, its logs stay."""
        return self._send(t.Call("DELETE", self._path(endpoint_id), _raw))

    def rotate_secret(
        self, endpoint_id: str, *, idempotency_key: str | None = None
    ) -> WebhookEndpoint:
        """A new signing secret; the replaced one keeps signing alongside for 24 hours."""
        return self._send(
            t.Call("POST", self._path(endpoint_id, "/rotate-secret"), WebhookEndpoint.from_dict,
                   json={}, idempotent=True, idempotency_key=idempotency_key)
        )  # fmt: skip

    def recover(
        self,
        endpoint_id: str,
        since: datetime | str,
        until: datetime | str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> RecoveryQueued:
        """Deliver again every event from `since` to `until` (default now; at most 30 days
        back) that the endpoint takes and that has no successful or pending delivery to it, as
        new logs with the same `webhook-id`; the endpoint must be enabled. Times are ISO-8601 strings or timezone-aware datetimes."""
        body: dict[str, Any] = {"since": _iso(since)}
        if until is not None:
            body["until"] = _iso(until)
        return self._send(
            t.Call("POST", self._path(endpoint_id, "/recover"), RecoveryQueued.from_dict,
                   json=body, idempotent=True, idempotency_key=idempotency_key)
        )  # fmt: skip


class Events(_Namespace):
    def _page_call(self, type: str | None, created_from: Any, created_to: Any) -> PageCall:
        def call(limit: int, offset: int) -> t.Call:
            params = {
                "limit": limit,
                "offset": offset,
                "type": type,
                "created_from": _iso(created_from),
                "created_to": _iso(created_to),
            }
            return t.Call("GET", "/api/v1/events", lambda b: page_of(Event, b), params=params)

        return call

    def list(
        self,
        type: str | None = None,
        created_from: datetime | str | None = None,
        created_to: datetime | str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> Page[Event]:
        """The merchant's events, newest first; both time bounds inclusive (ISO-8601)."""
        return self._send(self._page_call(type, created_from, created_to)(limit, offset))

    def iter(
        self,
        type: str | None = None,
        created_from: datetime | str | None = None,
        created_to: datetime | str | None = None,
        page_size: int = 100,
    ) -> Iterator[Event]:
        return self._pages(self._page_call(type, created_from, created_to), page_size)

    def get(self, event_id: str) -> Event:
        """One event with `body` (the exact JSON delivered) and its `deliveries`."""
        return self._send(t.Call("GET", f"/api/v1/events/{_seg(event_id)}", Event.from_dict))

    def signed_delivery(self, event_id: str) -> SignedDelivery:
        """The event's body and headers as a delivery sent now carries them, signed by the
        gateway with every webhook secret in force (what `gateway listen` forwards)."""
        path = f"/api/v1/events/{_seg(event_id)}/delivery"
        return self._send(t.Call("GET", path, SignedDelivery.from_dict))


class Merchants(_Namespace):
    def sign_up(self, name: str, email: str, password: str) -> Merchant:
        body = {"name": name, "email": email, "password": password}
        return self._send(
            t.Call("POST", "/api/v1/merchants", Merchant.from_dict, json=body, authenticated=False)
        )

    def log_in(self, email: str, password: str) -> Merchant:
        body = {"email": email, "password": password}
        return self._send(
            t.Call("POST", "/api/v1/merchants/login", Merchant.from_dict, json=body,
                   authenticated=False)
        )  # fmt: skip

    def rotate_api_secret(self, *, idempotency_key: str | None = None) -> ApiCredentials:
        """A new API secret; the old one keeps working for 24 hours. Sent again with the same
        `idempotency_key`, the first new secret is replayed."""
        path = "/api/v1/merchants/rotate-api-secret"
        return self._send(
            t.Call("POST", path, ApiCredentials.from_dict, idempotent=True,
                   idempotency_key=idempotency_key)
        )  # fmt: skip

    def test_merchant(self) -> dict[str, Any]:
        """The seeded test merchant `{id, email, api_key, seeded}`."""
        return self._send(t.Call("GET", "/api/v1/test/merchant", _raw, authenticated=False))


class _BaseClient:
    def __init__(
        self,
        api_key: str | None,
        api_secret: str | None,
        base_url: str | None,
        max_retries: int,
        request_id: Callable[[], str | None] | None,
        retry_policy: t.RetryPolicy | None,
    ):
        api_key = api_key if api_key is not None else os.environ.get("GATEWAY_API_KEY")
        api_secret = api_secret if api_secret is not None else os.environ.get("GATEWAY_API_SECRET")
        self.base_url = (
            base_url or os.environ.get("GATEWAY_API_URL") or t.DEFAULT_BASE_URL
        ).rstrip("/")
        self._credentials = (api_key, api_secret) if api_key and api_secret else None
        self.retry_policy = retry_policy or t.RetryPolicy(max_retries=max_retries)
        self._request_id = request_id
        self.orders = Orders(self)
        self.payments = Payments(self)
        self.refunds = Refunds(self)
        self.webhooks = Webhooks(self)
        self.webhook_endpoints = WebhookEndpoints(self)
        self.events = Events(self)
        self.merchants = Merchants(self)

    @property
    def api_key(self) -> str | None:
        return self._credentials[0] if self._credentials else None

    def _prepare(self, call: t.Call) -> tuple[t.Call, dict[str, Any]]:
        call = t.with_idempotency_key(call, self.retry_policy.max_retries > 0)
        request_id = self._request_id() if self._request_id else None
        return call, {
            "method": call.method,
            "url": call.path,
            "params": t.query(call.params),
            "json": call.json,
            "headers": t.request_headers(call, self._credentials, request_id),
        }

    def _derived(self, api_key: str, api_secret: str) -> "Any":
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._credentials = (api_key, api_secret)
        for name in ("orders", "payments", "refunds", "webhooks", "webhook_endpoints", "events",
                     "merchants"):  # fmt: skip
            setattr(clone, name, type(getattr(self, name))(clone))
        return clone

    def _send(self, call: t.Call) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _paginate(self, page_call: PageCall, page_size: int) -> Any:  # pragma: no cover
        raise NotImplementedError


def _http_options(timeout: float) -> dict[str, Any]:
    return {
        "timeout": httpx.Timeout(timeout, connect=min(3.0, timeout)),
        "headers": {"User-Agent": t.USER_AGENT, "Accept": "application/json"},
        "follow_redirects": False,
    }


class Gateway(_BaseClient):
    """The synchronous client. Credentials and URL default to GATEWAY_API_KEY,
    GATEWAY_API_SECRET and GATEWAY_API_URL (else http://localhost:8000). `timeout` in seconds.
    Use as a context manager, or call close()."""

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        request_id: Callable[[], str | None] | None = None,
        retry_policy: t.RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        super().__init__(api_key, api_secret, base_url, max_retries, request_id, retry_policy)
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, **_http_options(timeout)
        )

    def with_credentials(self, api_key: str, api_secret: str) -> "Gateway":
        """The same client (sharing its connections) acting for another merchant."""
        return self._derived(api_key, api_secret)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Gateway":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        """`GET /health` as `{"status_code", ...the body}`: the body also when the API answers
        503; raises APIConnectionError when it does not answer."""
        try:
            response = self._http.get("/health")
        except httpx.HTTPError as exc:
            raise APIConnectionError(repr(exc)) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return {"status_code": response.status_code} | (body if isinstance(body, dict) else {})

    def job_status(self) -> dict[str, Any]:
        return self._send(t.Call("GET", "/api/v1/test/jobs/status", _raw, authenticated=False))

    def _send(self, call: t.Call) -> Any:
        call, request = self._prepare(call)
        policy = self.retry_policy
        for retry_number in range(policy.max_retries + 1):
            last = retry_number == policy.max_retries
            try:
                response = self._http.request(**request)
            except httpx.TransportError as exc:
                if last or not t.should_retry_error(call, exc):
                    raise APIConnectionError(f"{call.method} {call.path}: {exc!r}") from exc
                time.sleep(policy.wait_for(retry_number + 1, None))
                continue
            if not last and t.should_retry_response(call, response):
                time.sleep(policy.wait_for(retry_number + 1, t.retry_after_seconds(response)))
                continue
            return t.result_of(call, response)
        raise AssertionError("unreachable")

    def _paginate(self, page_call: PageCall, page_size: int) -> Iterator[Any]:
        offset = 0
        while True:
            page: Page[Any] = self._send(page_call(page_size, offset))
            yield from page.data
            if not page.has_more:
                return
            offset += len(page.data)


class AsyncGateway(_BaseClient):
    """The asyncio client: the same resources, each method awaitable; `iter()` methods are
    async iterators (`async for payment in gateway.payments.iter(): ...`)."""

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 2,
        request_id: Callable[[], str | None] | None = None,
        retry_policy: t.RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 50,
    ):
        super().__init__(api_key, api_secret, base_url, max_retries, request_id, retry_policy)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=10),
            **_http_options(timeout),
        )

    def with_credentials(self, api_key: str, api_secret: str) -> "AsyncGateway":
        return self._derived(api_key, api_secret)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncGateway":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def health(self, timeout: float | None = None) -> dict[str, Any]:
        """`GET /health` as `{"status_code", ...the body}`: the body also when the API answers
        503; raises APIConnectionError when it does not answer."""
        try:
            response = await self._http.get(
                "/health", timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
            )
        except httpx.HTTPError as exc:
            raise APIConnectionError(repr(exc)) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return {"status_code": response.status_code} | (body if isinstance(body, dict) else {})

    async def job_status(self) -> dict[str, Any]:
        return await self._send(
            t.Call("GET", "/api/v1/test/jobs/status", _raw, authenticated=False)
        )

    async def _send(self, call: t.Call) -> Any:
        call, request = self._prepare(call)
        policy = self.retry_policy
        for retry_number in range(policy.max_retries + 1):
            last = retry_number == policy.max_retries
            try:
                response = await self._http.request(**request)
            except httpx.TransportError as exc:
                if last or not t.should_retry_error(call, exc):
                    raise APIConnectionError(f"{call.method} {call.path}: {exc!r}") from exc
                await asyncio.sleep(policy.wait_for(retry_number + 1, None))
                continue
            if not last and t.should_retry_response(call, response):
                await asyncio.sleep(
                    policy.wait_for(retry_number + 1, t.retry_after_seconds(response))
                )
                continue
            return t.result_of(call, response)
        raise AssertionError("unreachable")

    async def _paginate(self, page_call: PageCall, page_size: int) -> AsyncIterator[Any]:
        offset = 0
        while True:
            page: Page[Any] = await self._send(page_call(page_size, offset))
            for item in page.data:
                yield item
            if not page.has_more:
                return
            offset += len(page.data)


__all__ = ["APIError", "AsyncGateway", "Gateway"]
