"""Fixtures for the checkout service: its servers on free loopback ports, a browser, and stand-ins.

The checkout page and SDK are tested here against `FakeGateway`, a small in-memory stand-in for
the four public API endpoints the page calls (CONTRACT §5), so they can be exercised without
PostgreSQL, Redis or a worker. `test_checkout_flow.py` repeats the important paths against the
real API through the root conftest's `api_url` and `test_order` fixtures.
"""

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from checkout.app import SDK_FILE, create_app
from checkout.demo import create_demo_app
from checkout.settings import CheckoutSettings, DemoSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}


# --- servers ----------------------------------------------------------------------------------


class ThreadedServer:
    """uvicorn on an already-bound loopback socket, so there is no race for the port."""

    def __init__(self, app) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> "ThreadedServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"test server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.socket.close()


def unused_port_url() -> str:
    """An address where nothing listens: a stand-in for an API that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# --- a stand-in for the API's public endpoints ------------------------------------------------

VPA = re.compile(r"^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_network(digits: str) -> str:
    if digits.startswith("4"):
        return "visa"
    if digits[:2] in {"51", "52", "53", "54", "55"}:
        return "mastercard"
    if digits[:2] in {"34", "37"}:
        return "amex"
    if digits[:2] in {"60", "65"} or digits[:2] in {str(n) for n in range(81, 90)}:
        return "rupay"
    return "unknown"


def api_error(status: int, code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "description": description}}, status_code=status)


def new_id(prefix: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(16))


@dataclass
class FakeGateway:
    """In-memory public endpoints with the contract's bodies and errors.

    A payment succeeds unless its VPA starts with "fail" or its card holder is "Fail Me"; the
    first poll reports the outcome. `forced_error` makes the next payment request fail as the
    API would, to exercise the page's handling of server-side rejections.
    """

    url: str = ""
    orders: dict[str, dict] = field(default_factory=dict)
    payments: dict[str, dict] = field(default_factory=dict)
    payment_requests: list[dict] = field(default_factory=list)
    created_orders: list[dict] = field(default_factory=list)
    forced_error: tuple[int, str, str] | None = None
    slow_order_seconds: float = 0.0

    def add_order(self, amount: int = 50000, status: str = "created") -> str:
        order_id = new_id("order_")
        self.orders[order_id] = {
            "id": order_id,
            "amount": amount,
            "currency": "INR",
            "status": status,
            "merchant_name": "Test Merchant",
        }
        return order_id

    def reset(self) -> None:
        self.payments.clear()
        self.payment_requests.clear()
        self.created_orders.clear()
        self.forced_error = None
        self.slow_order_seconds = 0.0

    def app(self) -> Starlette:
        async def order_public(request: Request) -> Response:
            if self.slow_order_seconds:
                await asyncio.sleep(self.slow_order_seconds)
            order = self.orders.get(request.path_params["order_id"])
            if order is None:
                return api_error(404, "NOT_FOUND_ERROR", "Order not found")
            return JSONResponse(order)

        async def create_order(request: Request) -> Response:
            if (request.headers.get("x-api-key"), request.headers.get("x-api-secret")) != (
                "key_test_abc123",
                "secret_test_xyz789",
            ):
                return api_error(401, "AUTHENTICATION_ERROR", "Invalid API credentials")
            body = await request.json()
            order_id = self.add_order(amount=body["amount"])
            self.created_orders.append(body)
            return JSONResponse(dict(self.orders[order_id], status="created"), status_code=201)

        async def create_payment(request: Request) -> Response:
            body = await request.json()
            self.payment_requests.append(body)
            if self.forced_error:
                status, code, description = self.forced_error
                self.forced_error = None
                return api_error(status, code, description)
            order = self.orders.get(body.get("order_id"))
            if order is None:
                return api_error(404, "NOT_FOUND_ERROR", "Order not found")
            if order["status"] == "paid":
                return api_error(400, "BAD_REQUEST_ERROR", "Order already paid")
            fails = False
            if body.get("method") == "upi":
                if not VPA.match(body.get("vpa") or ""):
                    return api_error(400, "INVALID_VPA", "VPA format invalid")
                fails = body["vpa"].startswith("fail")
            elif body.get("method") == "card":
                card = body.get("card") or {}
                digits = re.sub(r"[\s-]", "", str(card.get("number", "")))
                if not (re.fullmatch(r"\d{13,19}", digits) and luhn_ok(digits)):
                    return api_error(400, "INVALID_CARD", "Card validation failed")
                month, year = int(card.get("expiry_month", 0)), int(card.get("expiry_year", 0))
                year = year + 2000 if year < 100 else year
                now = datetime.now(UTC)
                if not 1 <= month <= 12 or (year, month) < (now.year, now.month):
                    return api_error(400, "EXPIRED_CARD", "Card expiry date invalid")
                fails = card.get("holder_name") == "Fail Me"
            else:
                return api_error(400, "BAD_REQUEST_ERROR", "method must be upi or card")
            payment_id = new_id("pay_")
            if body["method"] == "card":
                card_details = {"card_network": card_network(digits), "card_last4": digits[-4:]}
            else:
                card_details = {"vpa": body["vpa"]}
            self.payments[payment_id] = {
                **card_details,
                "id": payment_id,
                "order_id": order["id"],
                "amount": order["amount"],
                "currency": order["currency"],
                "method": body["method"],
                "status": "pending",
                "error_code": None,
                "error_description": None,
                "outcome": "failed" if fails else "success",
            }
            return JSONResponse(self._public(payment_id), status_code=201)

        async def payment_public(request: Request) -> Response:
            payment = self.payments.get(request.path_params["payment_id"])
            if payment is None:
                return api_error(404, "NOT_FOUND_ERROR", "Payment not found")
            if payment["status"] == "pending":
                payment["status"] = payment["outcome"]
                if payment["status"] == "failed":
                    payment["error_code"] = "PAYMENT_FAILED"
                    payment["error_description"] = "Payment processing failed"
                else:
                    self.orders[payment["order_id"]]["status"] = "paid"
            return JSONResponse(self._public(payment["id"]))

        async def payment_for_merchant(request: Request) -> Response:
            if request.headers.get("x-api-secret") != "secret_test_xyz789":
                return api_error(401, "AUTHENTICATION_ERROR", "Invalid API credentials")
            payment = self.payments.get(request.path_params["payment_id"])
            if payment is None:
                return api_error(404, "NOT_FOUND_ERROR", "Payment not found")
            return JSONResponse({k: v for k, v in payment.items() if k != "outcome"})

        return Starlette(
            routes=[
                Route("/api/v1/payments/{payment_id}", payment_for_merchant),
                Route("/api/v1/orders/{order_id}/public", order_public),
                Route("/api/v1/orders", create_order, methods=["POST"]),
                Route("/api/v1/payments/public", create_payment, methods=["POST"]),
                Route("/api/v1/payments/{payment_id}/public", payment_public),
            ],
            middleware=[
                Middleware(
                    CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"]
                )
            ],
        )

    def _public(self, payment_id: str) -> dict:
        public = ("id", "order_id", "amount", "currency", "method", "status")
        payment = self.payments[payment_id]
        return {key: payment[key] for key in (*public, "error_code", "error_description")}


@pytest.fixture(scope="session")
def start_server() -> Iterator[Callable[[Starlette], str]]:
    """start(app) -> base URL; every server started this way stops when the session ends."""
    with ExitStack() as servers:
        yield lambda app: servers.enter_context(ThreadedServer(app)).url


@pytest.fixture(scope="session")
def _fake_gateway_server() -> Iterator[FakeGateway]:
    gateway = FakeGateway()
    with ThreadedServer(gateway.app()) as server:
        gateway.url = server.url
        yield gateway


@pytest.fixture
def fake_gateway(_fake_gateway_server: FakeGateway) -> FakeGateway:
    _fake_gateway_server.reset()
    return _fake_gateway_server


@pytest.fixture(scope="session")
def checkout_site(_fake_gateway_server: FakeGateway) -> Iterator[str]:
    """The real checkout app, configured to call the fake gateway."""
    settings = CheckoutSettings(host="127.0.0.1", port=0, api_url=_fake_gateway_server.url)
    with ThreadedServer(create_app(settings)) as server:
        yield server.url


@pytest.fixture(scope="session")
def checkout_site_without_api() -> Iterator[str]:
    settings = CheckoutSettings(host="127.0.0.1", port=0, api_url=unused_port_url())
    with ThreadedServer(create_app(settings)) as server:
        yield server.url


@pytest.fixture(scope="session")
def demo_site(_fake_gateway_server: FakeGateway, checkout_site: str) -> Iterator[str]:
    settings = DemoSettings(
        host="127.0.0.1",
        port=0,
        api_url=_fake_gateway_server.url,
        checkout_url=checkout_site,
        api_key="key_test_abc123",
        api_secret="secret_test_xyz789",
    )
    with ThreadedServer(create_demo_app(settings)) as server:
        yield server.url


# --- a scripted checkout and a merchant page, for the SDK -------------------------------------

SCRIPTED_CHECKOUT_PAGE = """<!doctype html><html><body><p>scripted checkout</p><script>
var params = new URLSearchParams(location.search);
var scenario = params.get('order_id');
var parentOrigin = params.get('parent_origin');
var messages = {
  order_success: {type: 'payment_success', data: {paymentId: 'pay_Scripted00000001'}},
  order_failed: {type: 'payment_failed', data: {error: {code: 'PAYMENT_FAILED', description: 'Declined'}}},
  order_close: {type: 'close_modal', data: {}}
};
if (messages[scenario]) window.parent.postMessage(messages[scenario], parentOrigin);
</script></body></html>"""

# A page that should never be believed: it posts a success to whoever embeds it.
IMPOSTOR_PAGE = """<!doctype html><html><body><p>impostor</p><script>
window.parent.postMessage({type: 'payment_success', data: {paymentId: 'pay_Forged000000001'}}, '*');
window.parent.postMessage({type: 'close_modal', data: {}}, '*');
</script></body></html>"""


def scripted_checkout_app(impostor_url: Callable[[], str]) -> Starlette:
    """Serves the real SDK and a /checkout page that posts what its order id names."""

    async def sdk(request: Request) -> Response:
        return Response(SDK_FILE.read_bytes(), media_type="text/javascript")

    async def checkout_page(request: Request) -> Response:
        if request.query_params.get("order_id") == "order_redirect":
            return RedirectResponse(f"{impostor_url()}/impostor", status_code=302)
        return HTMLResponse(SCRIPTED_CHECKOUT_PAGE)

    async def impostor(request: Request) -> Response:
        return HTMLResponse(IMPOSTOR_PAGE)

    return Starlette(
        routes=[
            Route("/checkout.js", sdk),
            Route("/checkout", checkout_page),
            Route("/impostor", impostor),
        ]
    )


@dataclass
class ScriptedOrigins:
    checkout: str
    impostor: str


@pytest.fixture(scope="session")
def scripted_origins() -> Iterator[ScriptedOrigins]:
    origins: dict[str, str] = {}
    with (
        ThreadedServer(scripted_checkout_app(lambda: origins["impostor"])) as checkout,
        ThreadedServer(scripted_checkout_app(lambda: origins["impostor"])) as impostor,
    ):
        origins["impostor"] = impostor.url
        yield ScriptedOrigins(checkout=checkout.url, impostor=impostor.url)


MERCHANT_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>merchant</title>
<script>window.__globalsBefore = Object.getOwnPropertyNames(window);</script>
<script src="{checkout}/checkout.js"></script>
<script>
window.__globalsAdded = Object.getOwnPropertyNames(window).filter(function (name) {{
  return name !== '__globalsBefore' && window.__globalsBefore.indexOf(name) === -1;
}});
</script>
<script>
window.calls = [];
function makeGateway(orderId) {{
  return new PaymentGateway({{
    key: 'key_test_abc123',
    orderId: orderId,
    onSuccess: function (data) {{ calls.push(['success', data]); }},
    onFailure: function (data) {{ calls.push(['failure', data]); }},
    onClose: function () {{ calls.push(['close']); }}
  }});
}}
window.gateway = makeGateway({order_id});
</script></head>
<body><h1>Merchant</h1><button id="opener" onclick="gateway.open()">Pay now</button></body></html>
"""


@pytest.fixture(scope="session")
def merchant_site() -> Iterator[Callable[[str, str], str]]:
    """Returns url(checkout_origin, order_id) of a merchant page that loads the SDK from there."""

    async def page(request: Request) -> Response:
        checkout = request.query_params["checkout"]
        order_id = request.query_params["order_id"]
        return HTMLResponse(MERCHANT_PAGE.format(checkout=checkout, order_id=json.dumps(order_id)))

    with ThreadedServer(Starlette(routes=[Route("/merchant", page)])) as server:

        def url(checkout_origin: str, order_id: str) -> str:
            return (
                f"{server.url}/merchant?checkout={quote(checkout_origin, safe='')}"
                f"&order_id={quote(order_id, safe='')}"
            )

        yield url


# --- node --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed")
    return path


# --- the browser -------------------------------------------------------------------------------

_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def save_screenshots(page, name: str) -> None:
    """The page as it is now, at desktop width and at 360 px."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    original = page.viewport_size
    for label, size in (("desktop", DESKTOP), ("360px", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS_DIR / f"{safe_name}-{label}.png"), full_page=True)
    if original:
        page.set_viewport_size(original)


@pytest.fixture(name="save_screenshots")
def save_screenshots_fixture():
    """Lets a test keep pictures of a state for review (set CHECKOUT_SCREENSHOTS=1)."""
    return save_screenshots


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.failed:
        try:
            save_screenshots(page, request.node.name)
        except Exception as error:  # a broken page must not hide the test's own failure
            print(f"could not save screenshots: {error}")
    context.close()
