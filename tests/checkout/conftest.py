"""Fixtures for the checkout service: its servers on free loopback ports, pages in Chromium, and
the real gateway behind them.

The checkout page, the SDK and the demo shop talk to the real API and payment worker:
tests/fixtures/live.py's `api_url` (payments succeed) and `failing_api_url` (every payment is
declined).
Stand-ins remain only for what is outside the gateway: a merchant's page and hostile windows for
the SDK, an API address where nothing listens, and a database link that can be cut.
"""

import contextlib
import json
import re
import secrets
import shutil
import socket
import string
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest
from servers import ThreadedServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from checkout.app import SDK_FILE, create_app
from checkout.config import CheckoutSettings, DemoSettings
from checkout.demo import create_demo_app

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
MERCHANT_HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}


# --- servers ----------------------------------------------------------------------------------


def unused_port_url() -> str:
    """An address where nothing listens: a stand-in for an API that is down."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# --- the real API, and the checkout and demo sites in front of it --------------------------------

SETTLE_SECONDS = 30  # the worker's delay plus the page's 2 s polling, with room to spare


@pytest.fixture
def random_order_id() -> str:
    """A well-formed order id that no order has (docs/api.md#conventions)."""
    alphabet = string.ascii_letters + string.digits
    return "order_" + "".join(secrets.choice(alphabet) for _ in range(16))


@dataclass
class LiveGateway:
    """The session's running API and payment worker (`api_url`), driven over HTTP as a merchant
    would."""

    url: str

    def call(self, method: str, path: str, body: dict | None = None, *, merchant: bool = False):
        """(status, parsed JSON body) of one request."""
        headers = MERCHANT_HEADERS if merchant else {}
        response = httpx.request(method, f"{self.url}{path}", json=body, headers=headers)
        return response.status_code, response.json()

    def create_order(self, amount: int = 50000) -> dict:
        status, order = self.call("POST", "/api/v1/orders", {"amount": amount}, merchant=True)
        assert status == 201, order
        return order

    def wait_for_payment(self, payment_id: str) -> dict:
        """The payment once the worker has decided it (or as it is after SETTLE_SECONDS)."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            status, payment = self.call("GET", f"/api/v1/payments/{payment_id}/public")
            assert status == 200, payment
            if payment["status"] != "pending" or time.monotonic() > deadline:
                return payment
            time.sleep(0.1)

    def pay(self, order_id: str, vpa: str = "other@okaxis") -> dict:
        """Pay an order the way the checkout page does, and wait for the outcome."""
        body = {"order_id": order_id, "method": "upi", "vpa": vpa}
        status, payment = self.call("POST", "/api/v1/payments/public", body)
        assert status == 201, payment
        return self.wait_for_payment(payment["id"])

    def payment(self, payment_id: str) -> dict:
        status, payment = self.call("GET", f"/api/v1/payments/{payment_id}", merchant=True)
        assert status == 200, payment
        return payment

    def order(self, order_id: str) -> dict:
        status, order = self.call("GET", f"/api/v1/orders/{order_id}", merchant=True)
        assert status == 200, order
        return order


@pytest.fixture(scope="session")
def gateway(api_url: str) -> LiveGateway:
    """The API where payments succeed."""
    return LiveGateway(api_url)


@pytest.fixture(scope="session")
def failing_gateway(failing_api_url: str) -> LiveGateway:
    """The API where every payment is declined."""
    return LiveGateway(failing_api_url)


@pytest.fixture(scope="session")
def start_server() -> Iterator[Callable[[Starlette], str]]:
    """start(app) -> base URL; every server started this way stops when the session ends."""
    with ExitStack() as servers:
        yield lambda app: servers.enter_context(ThreadedServer(app)).url


def checkout_app(api_url: str) -> Starlette:
    return create_app(CheckoutSettings(api_url=api_url))


@pytest.fixture(scope="session")
def checkout_site(start_server, api_url: str) -> str:
    """The checkout app, calling the real API."""
    return start_server(checkout_app(api_url))


@pytest.fixture(scope="session")
def failing_checkout_site(start_server, failing_api_url: str) -> str:
    """The checkout app, calling the real API whose payments are all declined."""
    return start_server(checkout_app(failing_api_url))


@pytest.fixture(scope="session")
def checkout_site_without_api(start_server) -> str:
    return start_server(checkout_app(unused_port_url()))


@pytest.fixture(scope="session")
def demo_site(start_server, api_url: str, checkout_site: str) -> str:
    settings = DemoSettings(
        api_url=api_url,
        checkout_url=checkout_site,
        test_api_key=MERCHANT_HEADERS["X-Api-Key"],
        test_api_secret=MERCHANT_HEADERS["X-Api-Secret"],
    )
    return start_server(create_demo_app(settings))


class CuttableLink:
    """A TCP relay to PostgreSQL that a test can cut, as a network fault between the API and its
    database would: open connections drop and new ones are refused."""

    def __init__(self, database_url: str) -> None:
        target = psycopg.conninfo.conninfo_to_dict(database_url)
        self.target = (target.get("host") or "127.0.0.1", int(target.get("port") or 5432))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        port = self.listener.getsockname()[1]
        self.url = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=port)
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        self.is_cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with self.listener:
            while not self.is_cut.is_set():
                try:
                    client, _ = self.listener.accept()
                except TimeoutError:
                    continue
                with self.lock:
                    if self.is_cut.is_set():  # accepted just as the link was cut
                        client.close()
                        return
                    upstream = socket.create_connection(self.target)
                    self.connections += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            self.is_cut.set()
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()


@dataclass
class CheckoutWithCuttableDatabase:
    url: str
    gateway: LiveGateway
    link: CuttableLink

    def cut_database(self) -> None:
        self.link.cut()


@pytest.fixture
def checkout_with_cuttable_database(
    start_service, start_server, database_url: str
) -> Iterator[CheckoutWithCuttableDatabase]:
    """The checkout in front of its own real API process (on the session's test database, with
    no worker), whose link to PostgreSQL the test can cut."""
    link = CuttableLink(database_url)
    api = start_service("api", DATABASE_URL=link.url)
    yield CheckoutWithCuttableDatabase(
        url=start_server(checkout_app(api.url)), gateway=LiveGateway(api.url), link=link
    )
    link.cut()


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


# --- the browser (the session's Chromium is tests/fixtures/browser.py's `browser`) -------------


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
def page(browser, request, test_failed):
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    if test_failed():
        try:
            save_screenshots(page, request.node.name)
        except Exception as error:  # a broken page must not hide the test's own failure
            print(f"could not save screenshots: {error}")
    context.close()


@pytest.fixture
def payment_requests(page) -> list[dict]:
    """The body of every payment request the page, or a frame in it, has sent so far."""
    sent: list[dict] = []

    def record(request) -> None:
        if request.method == "POST" and request.url.endswith("/api/v1/payments/public"):
            sent.append(request.post_data_json)

    page.on("request", record)
    return sent
