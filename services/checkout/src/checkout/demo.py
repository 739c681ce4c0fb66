"""A demo merchant shop on its own origin (port 3002) that sells one item through the SDK.

It shows the integration a merchant writes: the server creates the order with the secret key,
the browser opens the checkout with the public key. Run with `checkout-demo`.
"""

import html
import json
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
from shared.asgi import CorrelationIdMiddleware
from shared.logging import configure_logging
from shared.seed import TEST_MERCHANT_NAME
from shared.settings import load_settings

PACKAGE_DIR = Path(__file__).parent
DEMO_TEMPLATE = PACKAGE_DIR / "templates" / "demo.html"
DEMO_ORDER_AMOUNT = 50000  # ₹500.00 in paise
API_TIMEOUT_SECONDS = 10


class OrderCreationFailed(Exception):
    """The gateway did not create the order; the message is safe to show the shopper."""


def create_gateway_order(settings: DemoSettings) -> dict:
    body = json.dumps(
        {
            "amount": DEMO_ORDER_AMOUNT,
            "currency": "INR",
            "receipt": f"demo_{int(time.time() * 1000)}",
            "notes": {"source": "checkout demo"},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - API_URL is validated as http(s)
        f"{settings.api_url}/api/v1/orders",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Api-Key": settings.test_api_key,
            "X-Api-Secret": settings.test_api_secret,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise OrderCreationFailed(f"The gateway refused the order (HTTP {error.code}).") from error
    except (OSError, ValueError) as error:
        raise OrderCreationFailed("The payment gateway could not be reached.") from error


def render_demo_page(settings: DemoSettings) -> str:
    template = DEMO_TEMPLATE.read_text(encoding="utf-8")
    return (
        template.replace("{{checkout_url}}", html.escape(settings.checkout_url, quote=True))
        .replace("{{api_key}}", html.escape(settings.test_api_key, quote=True))
        # The checkout shows the seeded merchant's name as whom the shopper pays (CONTRACT §3).
        .replace("{{merchant_name}}", html.escape(TEST_MERCHANT_NAME))
    )


def create_demo_app(settings: DemoSettings) -> Starlette:
    configure_logging("checkout-demo", settings.log_level)
    page = render_demo_page(settings)
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
        return HTMLResponse(page, headers=page_headers)

    async def create_order(request: Request) -> Response:
        # A cross-site form cannot send JSON without a preflight, so this stops drive-by orders.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return JSONResponse({"error": "Send the request as application/json"}, status_code=415)
        try:
            order = await run_in_threadpool(create_gateway_order, settings)
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
