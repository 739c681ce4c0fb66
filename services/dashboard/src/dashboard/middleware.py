"""Pure ASGI middleware: security headers, a cap on request bodies (the dashboard's forms
are small), and the visitor's address for the API calls a request makes. Correlation ids and
the access log are shared.core.asgi's."""

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dashboard.gateway import acting_for
from shared.core.client_address import Network, every_line, forwarded_address

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = [
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
]
PAGE_HEADERS = [*SECURITY_HEADERS, ("cache-control", "no-store")]


class SecurityHeadersMiddleware:
    """CSP and friends on every response; pages (they show API secrets) are never cached."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_asset = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS if is_asset else PAGE_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class VisitorAddressMiddleware:
    """Every API call a request makes is made for its visitor: the socket's peer, or behind
    the dashboard's own reverse proxies (TRUSTED_PROXIES) the address they forward. A
    visitor's own X-Forwarded-For is never believed."""

    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[Network] = ()):
        self.app = app
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        forwarded_for = every_line(Headers(scope=scope).getlist)("x-forwarded-for")
        address = forwarded_address(
            client[0] if client else None, forwarded_for, self.trusted_proxies
        )
        with acting_for(address):
            await self.app(scope, receive, send)
