"""`python -m devstack.run` (`make run`): the whole gateway on this machine; Ctrl-C stops it.

Without DATABASE_URL / REDIS_URL it starts embedded servers whose data lives in ./.data/.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import IO, NoReturn, Self

from devstack import processes
from devstack.embedded import EmbeddedServerError, start_postgres, start_redis
from devstack.services import (
    SERVICE_ADDRESS_VARIABLES,
    Service,
    listen_host,
    local_services,
    python_module,
)

DATA_DIR = Path(".data")
MIGRATE_ARGV = python_module("shared.migrations")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOCAL_DEFAULTS = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# One ANSI colour per source on a terminal (cyan, yellow, green, magenta, blue, and bright ones).
COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")
# What the banner calls each service's page; others are shown under their own name.
BANNER_TITLES = {
    "api": "API docs",
    "checkout-demo": "Demo shop",
    "dashboard": "Dashboard",
    "checkout": "checkout.js",
}
TRUE_VALUES = ("1", "true", "yes", "on")


class StackFailed(Exception):
    """A part of the stack failed to start or died; the message says which."""


class Console:
    """Writes whole lines prefixed with their source, so concurrent outputs never interleave."""

    def __init__(self, names: list[str], colour: bool | None = None) -> None:
        """`colour`: one colour per source name (default: when stdout is a terminal)."""
        self._width = max(len(name) for name in names)
        self._lock = threading.Lock()
        colour = sys.stdout.isatty() if colour is None else colour
        self._prefixes = {
            name: (
                f"\x1b[{COLOURS[i % len(COLOURS)]}m{name:>{self._width}} |\x1b[0m"
                if colour
                else f"{name:>{self._width}} |"
            )
            for i, name in enumerate(names)
        }

    def say(self, source: str, text: str) -> None:
        prefix = self._prefixes.get(source) or f"{source:>{self._width}} |"
        with self._lock:
            for line in text.splitlines() or [""]:
                sys.stdout.write(f"{prefix} {line}\n")
            sys.stdout.flush()

    def show(self, text: str) -> None:
        """Print without a prefix, so the block can be copied as it stands."""
        with self._lock:
            sys.stdout.write(f"{text}\n")
            sys.stdout.flush()

    def follow(self, source: str, stream: IO[bytes]) -> threading.Thread:
        """Copy `stream` line by line until it closes, on a daemon thread."""

        def pump() -> None:
            for raw in iter(stream.readline, b""):
                self.say(source, raw.decode(errors="replace").rstrip("\r\n"))

        thread = threading.Thread(target=pump, name=f"output-{source}", daemon=True)
        thread.start()
        return thread


class Child:
    """A started service: its process and the thread copying its output."""

    def __init__(self, service: Service, env: Mapping[str, str], console: Console) -> None:
        self.service = service
        self.process = processes.spawn(
            service.argv, env={**env, **service.env}, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        self._output = console.follow(service.name, self.process.stdout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        processes.stop(self.process, signal.SIGTERM, STOP_TIMEOUT_S, whole_group=True)
        self._output.join(timeout=2)

    def wait_until_listening(self) -> None:
        port = self.service.port
        if port is None:
            return
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _port_answers(port):
            self.raise_if_exited("while starting")
            if time.monotonic() > deadline:
                raise StackFailed(f"{self.service.name} did not listen on port {port} in time")
            time.sleep(0.2)

    def raise_if_exited(self, when: str) -> None:
        code = self.process.poll()
        if code is None:
            return
        how = (
            f"was killed by {signal.Signals(-code).name}"
            if code < 0
            else f"exited with code {code}"
        )
        raise StackFailed(f"{self.service.name} {how} {when}")


def main() -> int:
    services = local_services()
    console = Console(["devstack", "migrate", *(service.name for service in services)])
    previous_handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    # SIGINT too: a background job (`make run &`) starts with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt of its own.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    try:
        code = _run_until_stopped(services, console)
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    console.say("devstack", "stopped")
    return code


def _run_until_stopped(services: list[Service], console: Console) -> int:
    with ExitStack() as stack:
        try:
            _check_ports_free(services)
            env = _environment(stack, console)
            _migrate(env, console)
            children = [stack.enter_context(Child(s, env, console)) for s in services]
            for child in children:
                child.wait_until_listening()
            console.show(_banner(services, env, _checkout_link(services, env)))
            _supervise(children)
        except KeyboardInterrupt:
            console.say("devstack", "stopping...")
            return 0
        except (StackFailed, EmbeddedServerError) as exc:
            console.say("devstack", f"error: {exc}")
            return 1
        finally:
            # Children run in their own sessions: a second Ctrl-C must not cut the cleanup short.
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_IGN)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def child_environment() -> dict[str, str]:
    """What every child gets before the database and Redis URLs are known."""
    env = {**LOCAL_DEFAULTS, **os.environ, "PYTHONUNBUFFERED": "1"}
    for variable in SERVICE_ADDRESS_VARIABLES:
        env.pop(variable, None)
    # The dashboard and the API share it so the API believes the visitor address the dashboard
    # names; every process here is on 127.0.0.1, so an address could not tell them apart.
    if not env.get("SERVICE_SECRET", "").strip():
        env["SERVICE_SECRET"] = secrets.token_urlsafe(32)
    # Children write into our pipe, so they cannot see the terminal: readable lines for a
    # person at one, JSON for anything reading our output (LOG_FORMAT in the environment wins).
    env.setdefault("LOG_FORMAT", "console" if sys.stdout.isatty() else "json")
    return env


def _environment(stack: ExitStack, console: Console) -> dict[str, str]:
    env = child_environment()
    if not env.get("DATABASE_URL"):
        console.say("devstack", f"starting embedded PostgreSQL in {DATA_DIR}/postgres")
        env["DATABASE_URL"] = stack.enter_context(start_postgres(DATA_DIR)).url
    if not env.get("REDIS_URL"):
        console.say("devstack", "starting embedded Redis")
        env["REDIS_URL"] = stack.enter_context(start_redis(DATA_DIR)).url
    return env


def _migrate(env: Mapping[str, str], console: Console) -> None:
    process = processes.spawn(MIGRATE_ARGV, env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    output = console.follow("migrate", process.stdout)
    try:
        code = process.wait()
    finally:
        processes.stop(process, signal.SIGTERM, STOP_TIMEOUT_S)
        output.join(timeout=2)
    if code != 0:
        command = " ".join(MIGRATE_ARGV[1:])
        raise StackFailed(f"migrations failed: `python {command}` exited with code {code}")


def _check_ports_free(services: list[Service]) -> None:
    for service in services:
        if service.port is not None and _port_answers(service.port):
            raise StackFailed(
                f"port {service.port} for {service.name} is taken; is another `make run` running?"
            )


def _supervise(children: list[Child]) -> NoReturn:
    """Wait for Ctrl-C, or raise when a child dies on its own."""
    while True:
        for child in children:
            child.raise_if_exited("unexpectedly")
        time.sleep(0.5)


def _port_answers(port: int) -> bool:
    host = listen_host()
    # A wildcard address is reached on loopback; a specific one only on itself.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    try:
        with socket.create_connection((reachable, port), timeout=1):
            return True
    except OSError:
        return False


def _merchant_keys(env: Mapping[str, str]) -> tuple[str, str]:
    key = env.get("TEST_API_KEY") or env.get("API_KEY") or "key_test_abc123"
    secret = env.get("TEST_API_SECRET") or env.get("API_SECRET") or "secret_test_xyz789"
    return key, secret


def _checkout_link(services: list[Service], env: Mapping[str, str]) -> str | None:
    """A hosted checkout URL for a ₹500 order created now as the test merchant; None when the
    stack has no API and checkout, or the order could not be made (the banner says so)."""
    ports = {service.name: service.port for service in services}
    if ports.get("api") is None or ports.get("checkout") is None:
        return None
    key, secret = _merchant_keys(env)
    request = urllib.request.Request(
        f"http://127.0.0.1:{ports['api']}/api/v1/orders",
        data=json.dumps({"amount": 50000, "currency": "INR", "receipt": "make_run"}).encode(),
        headers={"X-Api-Key": key, "X-Api-Secret": secret, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            order_id = json.load(response)["id"]
    except (OSError, ValueError, KeyError):
        return None
    return f"http://localhost:{ports['checkout']}/checkout?order_id={order_id}"


def _test_mode(env: Mapping[str, str]) -> str:
    """The banner's line on the simulated bank. It names the variable, TEST_MODE: the
    dashboard's "Test mode" badge means something else, a merchant on test keys."""
    if env.get("TEST_MODE", "").strip().lower() not in TRUE_VALUES:
        return (
            "TEST_MODE: off. Payments succeed at random after 5-10 s "
            "(TEST_MODE=true make run: every one succeeds after 1 s)."
        )
    succeeds = env.get("TEST_PAYMENT_SUCCESS", "true").strip().lower() in TRUE_VALUES
    delay = env.get("TEST_PROCESSING_DELAY", "").strip() or "1000"
    return f"TEST_MODE: on. Every payment {'succeeds' if succeeds else 'fails'} after {delay} ms."


def _banner(services: list[Service], env: Mapping[str, str], checkout_link: str | None) -> str:
    api_key, api_secret = _merchant_keys(env)
    api_port = next((s.port for s in services if s.name == "api"), 8000)
    urls = [
        f"  {BANNER_TITLES.get(service.name, service.name):<20} "
        f"http://localhost:{service.port}{path}"
        for service in services
        if service.port is not None
        for path in service.paths
    ]
    if any(service.name == "checkout" for service in services):
        link = checkout_link or "(no order could be created: see the api lines above)"
        urls.append(f"  {'Hosted checkout':<20} {link}")
    rule = "-" * 72
    host = listen_host(env)
    exposure = (
        f"Listening on {host} only; HOST=0.0.0.0 make run opens it to your network."
        if host in ("127.0.0.1", "localhost", "::1")
        else f"Listening on {host}: anyone who reaches it can log in as the test merchant."
    )
    return "\n".join(
        [
            rule,
            "The payment gateway is running. Ctrl-C stops everything.",
            _test_mode(env),
            exposure,
            "",
            *urls,
            f"  {'PostgreSQL':<20} {env['DATABASE_URL']}",
            f"  {'Redis':<20} {env['REDIS_URL']}",
            "",
            f"Test merchant: X-Api-Key: {api_key}  X-Api-Secret: {api_secret}",
            f"Dashboard login: {env.get('TEST_MERCHANT_EMAIL') or 'test@example.com'}, any password.",
            "",
            f"  curl -s -X POST http://localhost:{api_port}/api/v1/orders \\",
            f"    -H 'X-Api-Key: {api_key}' -H 'X-Api-Secret: {api_secret}' \\",
            "    -H 'Content-Type: application/json' \\",
            """    -d '{"amount": 50000, "currency": "INR", "receipt": "receipt_1"}'""",
            "",
            "Watch webhooks arrive: start the test receiver in another terminal (it verifies",
            'both signatures; RECEIVER_ARGS="--fail-first 2" shows retries, the first after',
            "1 min, or 5 s with WEBHOOK_RETRY_INTERVALS_TEST=true make run), then point the",
            "test merchant at it:",
            "",
            "  make receiver",
            f"  curl -s -X PUT http://localhost:{api_port}/api/v1/webhooks/config \\",
            f"    -H 'X-Api-Key: {api_key}' -H 'X-Api-Secret: {api_secret}' \\",
            "    -H 'Content-Type: application/json' \\",
            """    -d '{"webhook_url": "http://localhost:4000/webhook"}'""",
            rule,
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
