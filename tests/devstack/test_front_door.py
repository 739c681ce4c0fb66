"""`make run` as a person sees it in a terminal: coloured console lines per service, a banner
whose URLs all answer (a hosted checkout link for a fresh order among them), the test mode
stated, and web services silent while idle so the banner stays on screen."""

import dataclasses
import json
import os
import pty
import re
import subprocess
import sys
import textwrap
import threading
import time

import httpx
import pytest

from devstack import run
from devstack.services import Service
from live import LOG_DIR, free_port

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WEB_SERVICES = ("api", "checkout", "dashboard", "checkout-demo")
DRIVER = textwrap.dedent("""
    import dataclasses, json, sys
    from devstack import run, services
    ports = json.loads(sys.argv[1])

    def on_free_ports():
        moved = []
        for s in services.local_services({"PORT": str(ports["api"])}):
            env = dict(s.env)
            if "PORT" in env:
                env["PORT"] = str(ports[s.name])
            if "METRICS_PORT" in env:
                env["METRICS_PORT"] = str(ports[s.name])
            moved.append(dataclasses.replace(s, port=ports[s.name] if s.port else None, env=env))
        return moved

    run.local_services = on_free_ports
    sys.exit(run.main())
""")


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
    names = [*WEB_SERVICES, "payment-worker", "refund-worker", "webhook-dispatcher"]
    ports = {name: free_port() for name in names}
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TEST_MODE": "true",
        "TEST_PROCESSING_DELAY": "250",
        "API_URL": f"http://127.0.0.1:{ports['api']}",
        "CHECKOUT_URL": f"http://127.0.0.1:{ports['checkout']}",
        "DASHBOARD_URL": f"http://127.0.0.1:{ports['dashboard']}",
    }
    env.pop("LOG_FORMAT", None)
    env.pop("NO_COLOR", None)
    terminal = Terminal([sys.executable, "-c", DRIVER, json.dumps(ports)], env)
    try:
        terminal.wait_for("Ctrl-C stops everything", timeout=120)
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


def test_make_run_in_a_terminal(terminal_stack, merchant_headers):
    terminal, ports = terminal_stack
    banner = banner_of(terminal.text)
    assert banner[1].startswith("TEST_MODE: on. Every payment succeeds after 250 ms")

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
    assert any(line.strip() == "make receiver" for line in banner)

    # Every service's lines carry a coloured prefix and are console lines, not JSON.
    service_lines = [
        line
        for line in terminal.text.splitlines()
        if line.startswith("\x1b[") and " | " in ANSI.sub("", line)
    ]
    sources = {ANSI.sub("", line).split(" | ")[0].strip() for line in service_lines}
    assert {"migrate", *WEB_SERVICES} <= sources
    bodies = [ANSI.sub("", line).split(" | ", 1)[1] for line in service_lines]
    assert bodies and not any(body.lstrip().startswith("{") for body in bodies)

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


def test_the_banner_says_when_test_mode_is_off():
    service = Service("api", ("true",), 8000, paths=("/docs",))
    env = {"DATABASE_URL": "postgresql://x", "REDIS_URL": "redis://x"}
    banner = run._banner([dataclasses.replace(service)], env, None)
    assert "TEST_MODE: off." in banner
    assert "http://localhost:8000/docs" in banner.splitlines()[5]
