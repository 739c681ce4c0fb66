"""The gateway API as the dashboard sees it: one httpx client per process, explicit timeouts.

Every merchant call carries the logged-in merchant's key and secret, which live only in the
server-side session. Errors come back as `ApiError` with the contract's code and description.
"""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from shared.logging import current_correlation_id

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(api_key={self.api_key!r}, api_secret=<redacted>)"


class ApiError(Exception):
    """The API answered with its error body (CONTRACT §4)."""

    def __init__(self, status_code: int, code: str, description: str):
        super().__init__(f"{status_code} {code}: {description}")
        self.status_code = status_code
        self.code = code
        self.description = description

    @property
    def sentence(self) -> str:
        """The description as a sentence to show the merchant."""
        text = self.description.strip() or "The request failed"
        return text if text.endswith((".", "!", "?")) else text + "."

    @property
    def is_missing_route(self) -> bool:
        # The API's answer for a path it does not serve, as opposed to an unknown id.
        return self.status_code in (404, 405) and self.description in (
            "Route not found",
            "Method Not Allowed",
        )


class ApiUnavailable(Exception):
    """The API did not answer, timed out, or answered something that is not the contract."""


IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def idempotency_key_or_none(value: str | None) -> str | None:
    """A key the dashboard generated for one rendered form, or nothing if it was tampered with."""
    return value if value and IDEMPOTENCY_KEY.match(value) else None


def _segment(value: str) -> str:
    return quote(value, safe="")


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_seconds, connect=min(3.0, timeout_seconds)),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
            headers={"User-Agent": "gateway-dashboard/0.1", "Accept": "application/json"},
            follow_redirects=False,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        credentials: Credentials | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        headers = {}
        if credentials is not None:
            headers["X-Api-Key"] = credentials.api_key
            headers["X-Api-Secret"] = credentials.api_secret
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if correlation_id := current_correlation_id():
            headers["X-Request-Id"] = correlation_id
        query = {key: value for key, value in (params or {}).items() if value is not None}
        try:
            response = await self._http.request(
                method, path, headers=headers, json=json, params=query or None
            )
        except httpx.HTTPError as exc:
            log.warning("api_unreachable", method=method, path=path, error=repr(exc))
            raise ApiUnavailable(str(exc) or type(exc).__name__) from exc
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.is_success:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code >= 500 or not isinstance(error, dict):
            # A server fault or an answer outside the contract: nothing the merchant can fix.
            log.warning("api_failed", method=method, path=path, status=response.status_code)
            raise ApiUnavailable(f"API answered {response.status_code}")
        raise ApiError(
            response.status_code,
            str(error.get("code", "ERROR")),
            str(error.get("description", "The request failed")),
        )

    # Merchants

    async def log_in(self, email: str, password: str) -> dict[str, Any]:
        return await self.call(
            "POST", "/api/v1/merchants/login", json={"email": email, "password": password}
        )

    async def sign_up(self, name: str, email: str, password: str) -> dict[str, Any]:
        body = {"name": name, "email": email, "password": password}
        return await self.call("POST", "/api/v1/merchants", json=body)

    async def seeded_test_merchant(self) -> dict[str, Any] | None:
        """The seeded test merchant, if this gateway has one (a hint on the login page)."""
        try:
            return await self.call("GET", "/api/v1/test/merchant")
        except (ApiError, ApiUnavailable):
            return None

    # Payments and refunds

    async def payment_stats(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call("GET", "/api/v1/payments/stats", credentials=credentials)

    async def list_payments(
        self, credentials: Credentials, limit: int, offset: int, status: str | None = None
    ) -> dict[str, Any]:
        params = {"limit": limit, "offset": offset, "status": status}
        return await self.call("GET", "/api/v1/payments", credentials=credentials, params=params)

    async def get_payment(self, credentials: Credentials, payment_id: str) -> dict[str, Any]:
        path = f"/api/v1/payments/{_segment(payment_id)}"
        return await self.call("GET", path, credentials=credentials)

    async def capture_payment(
        self, credentials: Credentials, payment_id: str, idempotency_key: str | None
    ) -> dict[str, Any]:
        path = f"/api/v1/payments/{_segment(payment_id)}/capture"
        return await self.call(
            "POST", path, credentials=credentials, json={}, idempotency_key=idempotency_key
        )

    async def list_refunds(
        self, credentials: Credentials, payment_id: str, limit: int = 100
    ) -> dict[str, Any]:
        path = f"/api/v1/payments/{_segment(payment_id)}/refunds"
        params = {"limit": limit, "offset": 0}
        return await self.call("GET", path, credentials=credentials, params=params)

    async def create_refund(
        self,
        credentials: Credentials,
        payment_id: str,
        amount: int,
        reason: str | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        path = f"/api/v1/payments/{_segment(payment_id)}/refunds"
        body = {"amount": amount, "reason": reason or None}
        return await self.call(
            "POST", path, credentials=credentials, json=body, idempotency_key=idempotency_key
        )

    async def list_orders(self, credentials: Credentials, limit: int = 10) -> dict[str, Any]:
        params = {"limit": limit, "offset": 0}
        return await self.call("GET", "/api/v1/orders", credentials=credentials, params=params)

    # Webhooks

    async def list_webhooks(
        self, credentials: Credentials, limit: int, offset: int
    ) -> dict[str, Any]:
        params = {"limit": limit, "offset": offset}
        return await self.call("GET", "/api/v1/webhooks", credentials=credentials, params=params)

    async def get_webhook(self, credentials: Credentials, webhook_id: str) -> dict[str, Any]:
        path = f"/api/v1/webhooks/{_segment(webhook_id)}"
        return await self.call("GET", path, credentials=credentials)

    async def retry_webhook(self, credentials: Credentials, webhook_id: str) -> dict[str, Any]:
        path = f"/api/v1/webhooks/{_segment(webhook_id)}/retry"
        return await self.call("POST", path, credentials=credentials)

    async def webhook_config(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call("GET", "/api/v1/webhooks/config", credentials=credentials)

    async def update_webhook_config(
        self, credentials: Credentials, webhook_url: str
    ) -> dict[str, Any]:
        return await self.call(
            "PUT",
            "/api/v1/webhooks/config",
            credentials=credentials,
            json={"webhook_url": webhook_url},
        )

    async def rotate_api_secret(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call(
            "POST", "/api/v1/merchants/rotate-api-secret", credentials=credentials
        )

    async def rotate_webhook_secret(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call(
            "POST", "/api/v1/webhooks/config/rotate-secret", credentials=credentials
        )

    async def send_test_webhook(self, credentials: Credentials) -> dict[str, Any]:
        return await self.call("POST", "/api/v1/webhooks/test", credentials=credentials)

    # Health

    async def api_answers(self) -> bool:
        try:
            response = await self._http.get("/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
