"""A demo merchant shop on its own origin (port 3002) that sells one item through the SDK.

It shows the integration a merchant writes: the server creates the order with the secret key,
the browser opens the checkout with the public key. Run with `checkout-demo`.

It sells as the seeded test merchant with the keys the gateway holds now, not the seed's: it
logs in as that merchant (which accepts any password, docs/api.md#test-merchant) before its first
order, and again when the API refuses the secret, so a secret rotated from the dashboard or the API
never breaks it.
"""

import html
import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from checkout.config import DemoSettings
from checkout.headers import BaselineHeaders
from checkout.serving import serve
from shared.core.asgi import CorrelationIdMiddleware
from shared.core.logging import configure_logging
from shared.core.settings import load_settings
from shared.domain.seed import TEST_MERCHANT_NAME

PACKAGE_DIR = Path(__file__).parent
DEMO_TEMPLATE = PACKAGE_DIR / "templates" / "demo.html"
DEMO_ORDER_AMOUNT = 50000  # ₹500.00 in paise
API_TIMEOUT_SECONDS = 10


class OrderCreationFailed(Exception):
    """The gateway did not create the order; the message is safe to show the shopper."""


class MerchantKeys:
    """The seeded merchant's (api_key, api_secret) as the gateway has them now, read by logging
    in as it and kept until the API refuses them."""

    def __init__(self, settings: DemoSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._keys: tuple[str, str] | None = None

    def current(self) -> tuple[str, str]:
        """The keys, logging in first when none are known. Raises OrderCreationFailed."""
        with self._lock:
            if self._keys is None:
                self._keys = self._log_in()
            return self._keys

    def refused(self, keys: tuple[str, str]) -> tuple[str, str]:
        """The API refused `keys` (401): log in again, once for every request that saw them
        refused at the same time. Raises OrderCreationFailed."""
        with self._lock:
            if self._keys in (None, keys):
                self._keys = self._log_in()
            return self._keys

    def public_key(self) -> str:
        """The key for the page's SDK: the current one, or the seed's while the API cannot be
        asked (the order then fails with its own message)."""
        try:
            return self.current()[0]
        except OrderCreationFailed:
            return self._settings.test_api_key

    def _log_in(self) -> tuple[str, str]:
        body = {"email": self._settings.test_merchant_email, "password": "checkout-demo"}
        try:
            profile = _post_json(self._settings, "/api/v1/merchants/login", body, headers={})
        except urllib.error.HTTPError as error:
            raise OrderCreationFailed(
                f"The gateway refused the shop's login as its merchant (HTTP {error.code})."
            ) from error
        try:
            return str(profile["api_key"]), str(profile["api_secret"])
        except KeyError as error:
            raise OrderCreationFailed("The payment gateway could not be reached.") from error


def _post_json(settings: DemoSettings, path: str, body: dict, headers: dict[str, str]) -> dict:
    """POST `body` to the API; its JSON answer. Raises urllib's HTTPError for an error status
    and OrderCreationFailed when the API cannot be reached or answers no JSON object."""
    request = urllib.request.Request(  # noqa: S310 - API_URL is validated as http(s)
        f"{settings.api_url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as response:  # noqa: S310
            answer = json.load(response)
    except urllib.error.HTTPError:
        raise
    except (OSError, ValueError) as error:
        raise OrderCreationFailed("The payment gateway could not be reached.") from error
    if not isinstance(answer, dict):
        raise OrderCreationFailed("The payment gateway could not be reached.")
    return answer


def create_gateway_order(settings: DemoSettings, keys: MerchantKeys) -> dict:
    """A ₹500 order of the seeded merchant. Raises OrderCreationFailed."""
    body = {
        "amount": DEMO_ORDER_AMOUNT,
        "currency": "INR",
        "receipt": f"demo_{int(time.time() * 1000)}",
        "notes": {"source": "checkout demo"},
    }
    try:
        used = keys.current()
        try:
            return _post_json(settings, "/api/v1/orders", body, _auth(used))
        except urllib.error.HTTPError as error:
            if error.code != 401:
                raise
        # Rotated since we logged in, and the old secret's grace is over.
        return _post_json(settings, "/api/v1/orders", body, _auth(keys.refused(used)))
    except urllib.error.HTTPError as error:
        raise OrderCreationFailed(f"The gateway refused the order (HTTP {error.code}).") from error


def _auth(keys: tuple[str, str]) -> dict[str, str]:
    return {"X-Api-Key": keys[0], "X-Api-Secret": keys[1]}


def mode_note(settings: DemoSettings) -> str:
    """What the page's header says of the payments: test mode only when TEST_MODE is on (the
    simulated bank then decides deterministically, docs/operations/configuration.md); no real money moves
    either way, the bank being simulated."""
    if settings.test_mode:
        return "test mode, no real money moves"
    return "the simulated bank decides each payment, no real money moves"


def render_demo_page(settings: DemoSettings, api_key: str) -> str:
    template = DEMO_TEMPLATE.read_text(encoding="utf-8")
    return (
        template.replace("{{checkout_url}}", html.escape(settings.checkout_url, quote=True))
        .replace("{{mode_note}}", html.escape(mode_note(settings)))
        .replace("{{api_key}}", html.escape(api_key, quote=True))
        # The checkout shows the seeded merchant's name as whom the shopper pays
        # (docs/api.md#test-merchant).
        .replace("{{merchant_name}}", html.escape(TEST_MERCHANT_NAME))
    )


def create_demo_app(settings: DemoSettings) -> Starlette:
    configure_logging("checkout-demo", settings.log_level)
    keys = MerchantKeys(settings)
    checkout = urlsplit(settings.checkout_url)
    checkout_origin = f"{checkout.scheme}://{checkout.netloc}"
    page_headers = {
        "Content-Security-Policy": "; ".join(
            [
                "default-src 'none'",
                f"script-src 'self' {checkout_origin}",
                "style-src 'self'",
                f"frame-src {checkout_origin}",
                "connect-src 'self'",
                f"img-src 'self' data: {checkout_origin}",  # the checkout's padlock icon
                "base-uri 'none'",
            ]
        ),
        "Cache-Control": "no-store",
    }

    async def shop_page(request: Request) -> Response:
        page = render_demo_page(settings, await run_in_threadpool(keys.public_key))
        return HTMLResponse(page, headers=page_headers)

    async def create_order(request: Request) -> Response:
        # A cross-site form cannot send JSON without a preflight, so this stops drive-by orders.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "Send the request as application/json"}, status_code=415)
        try:
            order = await run_in_threadpool(create_gateway_order, settings, keys)
        except OrderCreationFailed as error:
            return JSONResponse({"error": str(error)}, status_code=502)
        return JSONResponse({"id": order["id"], "amount": order["amount"]}, status_code=201)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "healthy"})

    return Starlette(
        routes=[
            Route("/", shop_page),
            Route("/orders", create_order, methods=["POST"]),
            Route("/health", health),
            Mount("/assets", app=StaticFiles(directory=PACKAGE_DIR / "demo_static"), name="assets"),
        ],
        middleware=[
            # Outermost: one line per request with its correlation id, healthchecks excepted.
            Middleware(CorrelationIdMiddleware, logger="checkout_demo.access"),
            Middleware(BaselineHeaders),
        ],
    )


def main() -> None:
    settings = load_settings(DemoSettings)
    serve(create_demo_app(settings), host=settings.host, port=settings.port)


app = create_demo_app(load_settings(DemoSettings))

if __name__ == "__main__":
    main()
