"""The checkout site on port 3001: `/checkout` (the hosted page) and `/checkout.js` (the SDK).

Run with `checkout` (or `python -m checkout`); `uvicorn checkout.app:app` works too.
"""

import html
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from checkout.config import CheckoutSettings
from checkout.headers import BaselineHeaders
from shared.core.asgi import CorrelationIdMiddleware
from shared.core.logging import configure_logging
from shared.core.settings import load_settings

PACKAGE_DIR = Path(__file__).parent
STATIC_DIR = PACKAGE_DIR / "static"
SDK_FILE = PACKAGE_DIR / "sdk" / "checkout.js"
SDK_TYPES_FILE = PACKAGE_DIR / "sdk" / "checkout.d.ts"
PAGE_TEMPLATE = PACKAGE_DIR / "templates" / "checkout.html"


def render_checkout_page(api_url: str, test_mode: bool = False) -> str:
    """The page learns the API's address at serve time, so one build runs anywhere; in test
    mode (TEST_MODE) it shows the test values' hint, which is hidden otherwise."""
    template = PAGE_TEMPLATE.read_text(encoding="utf-8")
    return template.replace("{{api_url}}", html.escape(api_url, quote=True)).replace(
        "{{test_mode_hidden}}", "" if test_mode else " hidden"
    )


def checkout_page_policy(api_url: str) -> str:
    api = urlsplit(api_url)
    # No frame-ancestors: any merchant's page may embed the checkout through the SDK.
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {api.scheme}://{api.netloc}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def create_app(settings: CheckoutSettings) -> Starlette:
    configure_logging("checkout", settings.log_level)
    page = render_checkout_page(settings.api_url, settings.test_mode)
    page_headers = {
        "Content-Security-Policy": checkout_page_policy(settings.api_url),
        "Cache-Control": "no-store",
    }
    sdk = SDK_FILE.read_bytes()
    sdk_types = SDK_TYPES_FILE.read_bytes()
    sdk_headers = {
        "Cache-Control": "public, max-age=300",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }

    async def checkout_page(request: Request) -> Response:
        return HTMLResponse(page, headers=page_headers)

    async def checkout_sdk(request: Request) -> Response:
        return Response(sdk, media_type="text/javascript; charset=utf-8", headers=sdk_headers)

    async def checkout_sdk_types(request: Request) -> Response:
        return Response(
            sdk_types, media_type="application/typescript; charset=utf-8", headers=sdk_headers
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "healthy"})

    return Starlette(
        routes=[
            Route("/checkout", checkout_page),
            Route("/checkout.js", checkout_sdk),
            Route("/checkout.d.ts", checkout_sdk_types),
            Route("/health", health),
            Mount("/assets", app=StaticFiles(directory=STATIC_DIR), name="assets"),
        ],
        middleware=[
            # Outermost: one line per request with its correlation id, healthchecks excepted.
            Middleware(CorrelationIdMiddleware, logger="checkout.access"),
            Middleware(BaselineHeaders),
        ],
    )


app = create_app(load_settings(CheckoutSettings))
