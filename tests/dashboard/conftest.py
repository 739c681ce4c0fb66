"""Fixtures for the dashboard: the real API and the dashboard as processes on free loopback
ports (once per session), a clean database and Redis per test, and Chromium through Playwright.

The API and the dashboard share the harness's Redis database; the `db` and `redis` fixtures
empty both before every test, so every test logs in afresh.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fixtures.browser import CHROMIUM_ARGS

from devstack import processes

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts" / "dashboard"
LOG_DIR = ARTIFACTS_DIR / "logs"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
START_TIMEOUT_S = 30.0

TEST_MERCHANT_EMAIL = "test@example.com"
TEST_API_KEY = "key_test_abc123"
TEST_API_SECRET = "secret_test_xyz789"
TEST_MERCHANT_HEADERS = {"X-Api-Key": TEST_API_KEY, "X-Api-Secret": TEST_API_SECRET}
ANY_PASSWORD = "anything at all"  # the seeded test merchant accepts any
NEW_MERCHANT_PASSWORD = "correct horse"
# Shared by the API and the dashboard, as `make run` and compose share theirs.
SERVICE_SECRET = "dashboard-tests-service-secret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServiceProcess:
    """One service started as `make run` would start it, its output kept in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], url: str):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.url = url
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.process: subprocess.Popen[bytes] = processes.spawn(argv, env=env, stdout=self._log)

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        processes.stop(self.process, signal.SIGTERM, 10.0, whole_group=True)
        self._log.close()


def uvicorn_argv(factory: str, port: int) -> list[str]:
    # Without TRUSTED_PROXIES neither service believes X-Forwarded-For, as `python -m api` and
    # `python -m dashboard` run them (uvicorn's own default trusts it from 127.0.0.1).
    return [sys.executable, "-m", "uvicorn", "--factory", factory, "--no-proxy-headers",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]  # fmt: skip


@pytest.fixture(scope="session")
def live_api(database_url: str, redis_url: str) -> Iterator[str]:
    """The real API in test mode (no payment worker: payments stay pending unless a test
    finalises them in SQL)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TEST_MODE": "true",
        "TEST_PROCESSING_DELAY": "0",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_INTERVALS_TEST": "true",
        "SERVICE_SECRET": SERVICE_SECRET,
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    }
    api = ServiceProcess(
        "api", uvicorn_argv("api.main:create_app", port), env, f"http://127.0.0.1:{port}"
    )
    try:
        api.wait_until_healthy()
        yield api.url
    finally:
        api.stop()


@pytest.fixture(scope="session")
def live_dashboard(live_api: str, redis_url: str) -> Iterator[str]:
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # The dashboard must start without them: it never opens the database.
        if key not in ("DATABASE_URL", "PORT")
    }
    env |= {
        "REDIS_URL": redis_url,
        "API_URL": live_api,
        "CHECKOUT_URL": "http://127.0.0.1:3001",
        "SERVICE_SECRET": SERVICE_SECRET,
        "LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
    }
    dashboard = ServiceProcess(
        "dashboard",
        uvicorn_argv("dashboard.main:create_app", port),
        env,
        f"http://127.0.0.1:{port}",
    )
    try:
        dashboard.wait_until_healthy()
        yield dashboard.url
    finally:
        dashboard.stop()


@dataclass
class Stack:
    """The running API and dashboard, with a clean database (test merchant seeded)."""

    api_url: str
    dashboard_url: str
    db: object
    redis: object = None

    def disable_endpoint(self, endpoint_id: str, reason: str) -> None:
        """As the dispatcher disables an endpoint, behind the dashboard's back; the dashboard
        sees it once its banner cache runs out (BANNER_CACHE_SECONDS), which this skips."""
        self.db.execute(
            "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = %s WHERE id = %s",
            (reason, endpoint_id),
        )
        for key in self.redis.scan_iter(match="dashboard:disabled-endpoints:*"):
            self.redis.delete(key)

    def api(self, method: str, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
        return httpx.request(
            method, f"{self.api_url}{path}", headers=headers or {}, timeout=10, **kwargs
        )

    def create_payment(
        self,
        headers: dict[str, str] = TEST_MERCHANT_HEADERS,
        amount: int = 50000,
        status: str | None = None,
        method: str = "upi",
    ) -> dict:
        """An order and a payment through the API; `status` finalises it as a worker would."""
        order = self.api("POST", "/api/v1/orders", headers, json={"amount": amount})
        assert order.status_code == 201, order.text
        body = {"order_id": order.json()["id"], "method": "upi", "vpa": "shopper@okbank"}
        if method == "card":
            card = {"number": "4111111111111111", "expiry_month": "12",
                    "expiry_year": "2035", "cvv": "123", "holder_name": "Asha Rao"}  # fmt: skip
            body = {"order_id": order.json()["id"], "method": "card", "card": card}
        payment = self.api("POST", "/api/v1/payments", headers, json=body)
        assert payment.status_code == 201, payment.text
        created = payment.json()
        if status is not None:
            self.db.execute(
                "UPDATE payments SET status = %s WHERE id = %s", (status, created["id"])
            )
            if status == "success":
                self.db.execute(
                    "UPDATE orders SET status = 'paid' WHERE id = %s", (created["order_id"],)
                )
            created["status"] = status
        return created

    def sign_up(
        self, email: str = "owner@acme.test", password: str = NEW_MERCHANT_PASSWORD
    ) -> dict:
        response = self.api(
            "POST",
            "/api/v1/merchants",
            json={"name": "Acme Stores", "email": email, "password": password},
        )
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def stack(live_api: str, live_dashboard: str, db, redis) -> Stack:
    return Stack(api_url=live_api, dashboard_url=live_dashboard, db=db, redis=redis)


# --- HTTP as a browser would ----------------------------------------------------------------

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def http_login(
    stack: Stack, email: str = TEST_MERCHANT_EMAIL, password: str = ANY_PASSWORD
) -> httpx.Client:
    """A cookie-keeping client logged in through the login form."""
    client = httpx.Client(base_url=stack.dashboard_url, timeout=10)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(form.text)},
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def http_client(stack: Stack) -> Iterator[httpx.Client]:
    """A cookie-keeping client of the dashboard that has not logged in."""
    with httpx.Client(base_url=stack.dashboard_url, timeout=10) as client:
        yield client


@pytest.fixture
def logged_in_client(stack: Stack) -> Iterator[httpx.Client]:
    """A cookie-keeping client of the dashboard, logged in as the test merchant."""
    client = http_login(stack)
    yield client
    client.close()


@pytest.fixture
def login_over_http(stack: Stack):
    """login(email, password) -> a logged-in client (closed after the test)."""
    clients: list[httpx.Client] = []

    def login(email: str = TEST_MERCHANT_EMAIL, password: str = ANY_PASSWORD):
        clients.append(http_login(stack, email, password))
        return clients[-1]

    yield login
    for client in clients:
        client.close()


@pytest.fixture(name="csrf_token")
def csrf_token_fixture():
    """csrf_token(html) -> the token of the page's first form."""
    return csrf_token


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium(request):
    """The session's Chromium. Playwright's sync API allows one instance per thread, so a
    root-level `browser` fixture (shared with tests/checkout) is used when there is one."""
    try:
        return request.getfixturevalue("browser")
    except pytest.FixtureLookupError:
        return request.getfixturevalue("_dashboard_browser")


@pytest.fixture(scope="session")
def _dashboard_browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def save_screenshots(page, name: str) -> list[Path]:
    """The page as it is now, full length, at desktop width and at 360 px."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    original = page.viewport_size
    saved = []
    for label, size in (("desktop", DESKTOP), ("360px", PHONE)):
        page.set_viewport_size(size)
        path = ARTIFACTS_DIR / f"{safe_name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    if original:
        page.set_viewport_size(original)
    return saved


@pytest.fixture
def page(chromium, request, test_failed):
    context = chromium.new_context(viewport=DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    if test_failed():
        try:
            save_screenshots(page, f"failed-{request.node.name}")
        except Exception as error:  # a broken page must not hide the test's own failure
            print(f"could not save screenshots: {error}")
    context.close()


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def browser_login(
    page, stack: Stack, email: str = TEST_MERCHANT_EMAIL, password: str = ANY_PASSWORD
) -> None:
    page.goto(f"{stack.dashboard_url}/login")
    page.fill(tid("email-input"), email)
    page.fill(tid("password-input"), password)
    page.click(tid("login-button"))
    page.wait_for_url(f"{stack.dashboard_url}/dashboard")


@pytest.fixture
def login_in_browser(stack: Stack):
    """login(page, email=..., password=...) through the login form."""
    return lambda page, **kwargs: browser_login(page, stack, **kwargs)


@pytest.fixture
def logged_in_page(page, stack: Stack):
    browser_login(page, stack)
    return page


@pytest.fixture(scope="session")
def expect():
    """Playwright's retrying assertions: they wait for the page that a click loads."""
    return pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(name="save_screenshots")
def save_screenshots_fixture():
    return save_screenshots
