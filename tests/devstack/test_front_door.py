"""`make run` as a person sees it in a terminal, every port moved by its variable: short
coloured console lines per service, a banner whose URLs all answer (a hosted checkout link for
a fresh order among them) and that states the simulated bank's mode, a payment through the
checkout on the moved ports, and web services silent while idle so the banner stays on
screen."""

import contextlib
import os
import pty
import re
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from devstack import run
from devstack.services import Service, service_addresses
from live import LOG_DIR, free_port

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WEB_SERVICES = ("api", "checkout", "dashboard", "checkout-demo")
# Every port make run uses, moved by its own variable (METRICS_PORT: the first of three).
PORT_VARIABLES = {"api": "PORT", "checkout": "CHECKOUT_PORT", "dashboard": "DASHBOARD_PORT",
                  "checkout-demo": "DEMO_PORT", "receiver": "RECEIVER_PORT"}  # fmt: skip
# Set by the user, they would win over the moved ports; this stack must derive them itself.
DERIVED = ("API_URL", "CHECKOUT_URL", "DASHBOARD_URL", "HOST", "METRICS_PORT",
           "DASHBOARD_HOST", "LOG_FORMAT", "NO_COLOR")  # fmt: skip


def free_ports_in_a_row(count: int) -> int:
    """The first of `count` consecutive ports that are free now."""
    while True:
        first = free_port()
        if first + count > 65535:
            continue
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    held.enter_context(socket.create_server(("127.0.0.1", port)))
            return first
        except OSError:
            continue


class Terminal:
    """A process whose stdout is a pseudo-terminal, read on a thread."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace").replace("\r\n", "\n")

    def wait_for(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"never printed {marker!r}:\n{self.text[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reader.join(5)
        os.close(self._master)


@pytest.fixture
def terminal_stack(database_url: str, redis_url: str, db, redis):
    """`python -m devstack.run` in a terminal, every port moved by its variable to a free one."""
    ports = {name: free_port() for name in PORT_VARIABLES}
    env = {k: v for k, v in os.environ.items() if k not in DERIVED}
    env |= {variable: str(ports[name]) for name, variable in PORT_VARIABLES.items()}
    env |= {
        "METRICS_PORT": str(free_ports_in_a_row(3)),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TEST_MODE": "true",
        "TEST_PROCESSING_DELAY": "250",
    }
    terminal = Terminal([sys.executable, "-m", "devstack.run"], env)
    try:
        terminal.wait_for("Ctrl-C stops everything", timeout=120)
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / "make-run-terminal.log").write_text(terminal.text)
        terminal.wait_for("-" * 72 + "\n", timeout=5)  # the banner's closing rule
        yield terminal, ports
    finally:
        terminal.stop()


def banner_of(text: str) -> list[str]:
    plain = ANSI.sub("", text)
    start = plain.index("The payment gateway is running")
    end = plain.index("-" * 72, start)
    return plain[start:end].splitlines()


def test_make_run_in_a_terminal_with_every_port_moved(terminal_stack, merchant_headers):
    terminal, ports = terminal_stack
    banner = banner_of(terminal.text)
    assert banner[1].startswith(
        "Simulated bank: deterministic (TEST_MODE=true). Every payment succeeds after 250 ms"
    )

    listed = banner[: next(i for i, line in enumerate(banner) if "PostgreSQL" in line)]
    urls = [m.group(0) for line in listed for m in [re.search(r"http://localhost:\S+", line)] if m]
    assert urls[0] == f"http://localhost:{ports['api']}/docs"
    for url in urls:
        assert httpx.get(url.replace("localhost", "127.0.0.1"), timeout=10).status_code == 200, url
    [checkout_link] = [line for line in banner if line.strip().startswith("Hosted checkout")]
    order_id = checkout_link.rpartition("order_id=")[2]
    order = httpx.get(
        f"http://127.0.0.1:{ports['api']}/api/v1/orders/{order_id}", headers=merchant_headers
    )
    assert order.status_code == 200 and order.json()["status"] == "created"
    assert any(
        line.strip() == f"make receiver RECEIVER_PORT={ports['receiver']}" for line in banner
    )
    assert f'"webhook_url": "http://localhost:{ports["receiver"]}/webhook"' in "\n".join(banner)

    # Every service's lines carry a coloured prefix and are short console lines, not JSON.
    service_lines = [
        line
        for line in terminal.text.splitlines()
        if line.startswith("\x1b[") and " | " in ANSI.sub("", line)
    ]
    sources = {ANSI.sub("", line).split(" | ")[0].strip() for line in service_lines}
    assert {"migrate", *WEB_SERVICES} <= sources
    bodies = [ANSI.sub("", line).split(" | ", 1)[1] for line in service_lines]
    assert bodies and not any(body.lstrip().startswith("{") for body in bodies)
    logged = [body for body in bodies if re.match(r"\d\d:\d\d:\d\d \[", body)]
    assert logged, bodies
    # Once 200 characters on average: the service named twice, microsecond timestamps.
    assert sum(map(len, logged)) / len(logged) < 100, logged
    assert not any("service=" in body for body in logged)
    # A healthy start waits for the API as info, never in yellow warnings.
    assert [body for body in logged if "[warning]" in body] == []

    # PORT=8001 make run once moved the API alone: the workers still called 8000 and every
    # payment stayed pending; the checkout, dashboard and demo shop had no port variable.
    checkout_url = checkout_link.split()[-1].replace("localhost", "127.0.0.1")
    assert checkout_url.startswith(f"http://127.0.0.1:{ports['checkout']}/checkout?order_id=")
    order_id = checkout_url.rpartition("order_id=")[2]

    page = httpx.get(checkout_url, timeout=10)
    assert page.status_code == 200
    api_url = re.search(r'<meta name="gateway-api-url" content="([^"]+)"', page.text).group(1)
    assert api_url == f"http://localhost:{ports['api']}"  # where the shopper's browser pays

    with httpx.Client(base_url=api_url.replace("localhost", "127.0.0.1"), timeout=10) as api:
        origin = {"Origin": f"http://localhost:{ports['checkout']}"}
        body = {"order_id": order_id, "method": "upi", "vpa": "shopper@okbank"}
        created = api.post("/api/v1/payments/public", json=body, headers=origin)
        assert created.status_code == 201, created.text
        payment_id = created.json()["id"]
        deadline = time.monotonic() + 30
        status = "pending"
        while status == "pending" and time.monotonic() < deadline:
            time.sleep(0.3)
            status = api.get(f"/api/v1/payments/{payment_id}/public", headers=origin).json()[
                "status"
            ]
        assert status == "success"

    # The dashboard and the demo shop reach the moved API too.
    dashboard = httpx.get(f"http://127.0.0.1:{ports['dashboard']}/readyz", timeout=10)
    assert dashboard.json()["api"] == "reachable"
    demo_order = httpx.post(
        f"http://127.0.0.1:{ports['checkout-demo']}/orders", json={}, timeout=10
    )
    assert demo_order.status_code == 201, demo_order.text

    # Idle: the web services say nothing more, so the banner stays on screen.
    time.sleep(2)  # the lines of this test's own requests above
    after_banner = len(terminal.text)
    time.sleep(10)
    idle = [ANSI.sub("", line) for line in terminal.text[after_banner:].splitlines() if line]
    assert [line for line in idle if line.split(" | ")[0].strip() in WEB_SERVICES] == []


def test_children_get_console_lines_only_on_a_terminal(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert run.child_environment()["LOG_FORMAT"] == "console"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    assert run.child_environment()["LOG_FORMAT"] == "json"
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert run.child_environment()["LOG_FORMAT"] == "json"


def test_console_colours_each_source_only_on_a_terminal(capsys):
    run.Console(["api", "dashboard"], colour=True).say("api", "hello")
    run.Console(["api", "dashboard"], colour=True).say("dashboard", "hello")
    coloured = capsys.readouterr().out.splitlines()
    assert coloured[0].startswith("\x1b[") and coloured[1].startswith("\x1b[")
    assert coloured[0][:5] != coloured[1][:5]  # one colour per service
    assert ANSI.sub("", coloured[0]) == "      api | hello"
    run.Console(["api", "dashboard"], colour=False).say("api", "hello")
    assert capsys.readouterr().out == "      api | hello\n"


def test_the_banner_names_the_simulated_bank_not_a_test_mode():
    # The banner's "TEST_MODE: off" beside the dashboard's "Test mode" badge (a merchant on
    # test keys) read as a contradiction: the banner speaks of the simulated bank.
    service = Service("api", ("true",), 8000, paths=("/docs",))
    env = {"DATABASE_URL": "postgresql://x", "REDIS_URL": "redis://x"}
    keys = ("key_test_abc123", "secret_test_xyz789")
    banner = run._banner([service], env, None, keys, service_addresses({}))
    assert banner.splitlines()[2] == (
        "Simulated bank: random (TEST_MODE=false). Payments succeed at random after 5-10 s;"
        " TEST_MODE=true make run: every one succeeds after 1 s."
    )
    assert "http://localhost:8000/docs" in banner.splitlines()[5]
    assert "test mode" not in banner.lower()
    failing = run._banner(
        [service], env | {"TEST_MODE": "true", "TEST_PAYMENT_SUCCESS": "false"}, None, keys,
        service_addresses({}),
    )  # fmt: skip
    assert "Simulated bank: deterministic (TEST_MODE=true). Every payment fails after 1000 ms." in (
        failing
    )


def receiver_hint(banner: str) -> str:
    """The banner's paragraph on the test receiver, as one line; its lines fit 80 columns."""
    lines = banner.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Watch webhooks arrive"))
    paragraph = lines[start : lines.index("", start)]
    assert all(len(line) <= 80 for line in paragraph), paragraph
    return " ".join(paragraph)


@pytest.mark.parametrize(
    ("value", "first_retry"),
    [
        (None, "the first after 1 min, or 5 s with WEBHOOK_RETRY_INTERVALS_TEST=true make run"),
        ("false", "the first after 1 min, or 5 s with WEBHOOK_RETRY_INTERVALS_TEST=true make run"),
        ("true", "the first after 5 s, as WEBHOOK_RETRY_INTERVALS_TEST=true is set"),
        ("1", "the first after 5 s, as WEBHOOK_RETRY_INTERVALS_TEST=1 is set"),
    ],
)
def test_the_banner_states_the_retry_schedule_in_effect(value, first_retry):
    # With WEBHOOK_RETRY_INTERVALS_TEST=true already set, it still offered to set it for 5 s.
    service = Service("api", ("true",), 8000, paths=("/docs",))
    env = {"DATABASE_URL": "postgresql://x", "REDIS_URL": "redis://x"}
    if value is not None:
        env["WEBHOOK_RETRY_INTERVALS_TEST"] = value
    keys = ("key_test_abc123", "secret_test_xyz789")
    hint = receiver_hint(run._banner([service], env, None, keys, service_addresses({})))
    assert f'RECEIVER_ARGS="--fail-first 2" shows retries, {first_retry}), then point' in hint
    assert hint.count("WEBHOOK_RETRY_INTERVALS_TEST") == 1
