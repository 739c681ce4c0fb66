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
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any, LiteralString, NoReturn, Self

import psycopg

from devstack import processes
from devstack.embedded import EmbeddedServerError, start_postgres, start_redis
from devstack.services import (
    SERVICE_ADDRESS_VARIABLES,
    AddressError,
    Addresses,
    Service,
    listen_host,
    local_services,
    python_module,
    service_addresses,
)
from shared.domain.seed import TEST_MERCHANT_ID

DATA_DIR = Path(".data")
MIGRATE_ARGV = python_module("shared.backends.migrations")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# How often make run looks whether the test merchant's API secret changed (a rotation).
CREDENTIALS_CHECK_S = 5.0
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
# What the services' settings (pydantic) read as true, whatever the case.
TRUE_VALUES = ("1", "true", "yes", "on", "t", "y")
# The banner's paragraphs are wrapped to this many columns.
BANNER_WIDTH = 80


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
            service.argv, env={**env, **service.env}, stdout=subprocess.PIPE, nice=service.nice
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
    try:
        addresses = service_addresses()
        services = local_services()
    except AddressError as exc:
        Console(["devstack"]).say("devstack", f"error: {exc}")
        return 1
    console = Console(["devstack", "migrate", *(service.name for service in services)])
    previous_handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    # SIGINT too: a background job (`make run &`) starts with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt of its own.
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    try:
        code = _run_until_stopped(services, addresses, console)
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    console.say("devstack", "stopped")
    return code


def _run_until_stopped(services: list[Service], addresses: Addresses, console: Console) -> int:
    with ExitStack() as stack:
        try:
            _check_ports_free(services, addresses)
            env = _environment(stack, console)
            _migrate(env, console)
            children = [stack.enter_context(Child(s, env, console)) for s in services]
            for child in children:
                child.wait_until_listening()
            merchant = TestMerchantKeys(env)
            keys = merchant.read()
            link = _checkout_link(services, addresses, keys)
            console.show(_banner(services, env, link, keys, addresses))
            _supervise(children, merchant, console)
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
    """What every child gets before the database and Redis URLs are known: among it the URLs
    the services call each other by, derived from the same ports they listen on."""
    env = {**LOCAL_DEFAULTS, **os.environ, "PYTHONUNBUFFERED": "1"}
    env.update(service_addresses(os.environ).service_urls(os.environ))
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
        console.say("devstack", f"starting embedded Redis in {DATA_DIR}/redis")
        # Durable: dashboard sessions and rate-limit windows outlive a restart of make run.
        env["REDIS_URL"] = stack.enter_context(start_redis(DATA_DIR, durable=True)).url
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


def _check_ports_free(services: list[Service], addresses: Addresses) -> None:
    """Raise StackFailed naming every port that another program holds, the variable that
    moves it and a free port to move it to."""
    ours = {service.port for service in services if service.port is not None}
    taken = [s for s in services if s.port is not None and _port_taken(addresses.host, s.port)]
    if not taken:
        return
    lines = []
    for service in taken:
        assert service.port is not None
        lines.append(f"port {service.port} ({service.name}) is in use by another program")
        if service.port_variable:
            free = _free_port_above(addresses.host, service.port, avoid=ours)
            lines[-1] += f"; {service.port_variable}={free} make run moves the {service.name}"
    if len(taken) == len(ours) > 1:
        lines.append("all of them are taken: is another `make run` running?")
    raise StackFailed("\n".join(lines))


def _port_taken(host: str, port: int) -> bool:
    """Whether a service could not listen on `host`:`port`, or a browser opening localhost
    there would reach another program (one listening on ::1 only, say)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in infos:
            with socket.socket(family, kind, proto) as probe:
                # As uvicorn binds: a port left in TIME_WAIT by a stopped server is free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError:
        return True
    return _port_answers(port, "localhost") or _port_answers(port, host)


def _free_port_above(host: str, port: int, avoid: set[int]) -> int:
    """The first port after `port` that is free and not in `avoid`."""
    for candidate in range(port + 1, min(port + 200, 65535)):
        if candidate not in avoid and not _port_taken(host, candidate):
            return candidate
    return port + 1000


def _supervise(children: list[Child], merchant: "TestMerchantKeys", console: Console) -> NoReturn:
    """Wait for Ctrl-C, or raise when a child dies on its own; meanwhile print the test
    merchant's new secret when it is rotated."""
    next_check = time.monotonic() + CREDENTIALS_CHECK_S
    while True:
        for child in children:
            child.raise_if_exited("unexpectedly")
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + CREDENTIALS_CHECK_S
            change = merchant.changed()
            if change is not None:
                console.say("devstack", change)
        time.sleep(0.5)


def _port_answers(port: int, host: str | None = None) -> bool:
    host = host or listen_host()
    # A wildcard address is reached on loopback; a specific one only on itself.
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    try:
        with socket.create_connection((reachable, port), timeout=1):
            return True
    except OSError:
        return False


class TestMerchantKeys:
    """The seeded test merchant's API key and secret as the database holds them now (a
    rotation from the dashboard or the API changes the secret; the seed never does)."""

    __test__ = False  # not a pytest class, although named Test...

    def __init__(self, env: Mapping[str, str]) -> None:
        self._database_url = env["DATABASE_URL"]
        self._fallback = _seeded_keys(env)
        self._shown: tuple[str, str] | None = None

    def read(self) -> tuple[str, str]:
        """(key, secret) from the database; the seed's values when it cannot be read (the
        banner is still worth printing)."""
        self._shown = self._query() or self._fallback
        return self._shown

    def changed(self) -> str | None:
        """A line for the console when the secret differs from the one last shown, saying
        until when the replaced one works; None when it is the same or the database does not
        answer."""
        replaced = self._shown
        current = self._query()
        if current is None or current == replaced:
            return None
        self._shown = current
        key, secret = current
        until = self._query_expiry(replaced[1]) if replaced else None
        previous = f"works until {until:%Y-%m-%d %H:%M %Z}" if until else "no longer works"
        return (
            f"the test merchant's API secret was rotated: X-Api-Key: {key}  X-Api-Secret: "
            f"{secret} (the replaced one {previous})"
        )

    def _query(self) -> tuple[str, str] | None:
        row = self._fetch("SELECT api_key, api_secret FROM merchants WHERE id = %s", ())
        return (str(row[0]), str(row[1])) if row else None

    def _query_expiry(self, secret: str) -> datetime | None:
        row = self._fetch(
            "SELECT expires_at FROM retired_api_secrets WHERE merchant_id = %s"
            " AND api_secret = %s AND expires_at > now()",
            (secret,),
        )
        return row[0] if row else None

    def _fetch(self, query: LiteralString, params: tuple[str, ...]) -> tuple[Any, ...] | None:
        """The first row of `query` on the test merchant (its id is the first parameter);
        None when there is none or the database does not answer."""
        try:
            with psycopg.connect(self._database_url, connect_timeout=3) as conn:
                return conn.execute(query, (TEST_MERCHANT_ID, *params)).fetchone()
        except psycopg.Error:
            return None


def _seeded_keys(env: Mapping[str, str]) -> tuple[str, str]:
    key = env.get("TEST_API_KEY") or env.get("API_KEY") or "key_test_abc123"
    secret = env.get("TEST_API_SECRET") or env.get("API_SECRET") or "secret_test_xyz789"
    return key, secret


def _checkout_link(
    services: list[Service], addresses: Addresses, keys: tuple[str, str]
) -> str | None:
    """A hosted checkout URL for a ₹500 order created now as the test merchant with `keys`;
    None when the stack has no API and checkout, or the order could not be made (the banner
    says so)."""
    ports = {service.name: service.port for service in services if service.port is not None}
    if "api" not in ports or "checkout" not in ports:
        return None
    key, secret = keys
    request = urllib.request.Request(  # noqa: S310 - our own http URL
        f"{addresses.at(ports['api'], reachable=True)}/api/v1/orders",
        data=json.dumps({"amount": 50000, "currency": "INR", "receipt": "make_run"}).encode(),
        headers={"X-Api-Key": key, "X-Api-Secret": secret, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            order_id = json.load(response)["id"]
    except (OSError, ValueError, KeyError):
        return None
    return f"{addresses.at(ports['checkout'])}/checkout?order_id={order_id}"


def _simulated_bank(env: Mapping[str, str]) -> str:
    """The banner's line on the simulated bank that TEST_MODE sets. It says "simulated bank",
    never "test mode": the dashboard's "Test keys" badge is about a merchant's keys."""
    if env.get("TEST_MODE", "").strip().lower() not in TRUE_VALUES:
        return (
            "Simulated bank: random (TEST_MODE=false). Payments succeed at random after 5-10 s;"
            " TEST_MODE=true make run: every one succeeds after 1 s."
        )
    succeeds = env.get("TEST_PAYMENT_SUCCESS", "true").strip().lower() in TRUE_VALUES
    delay = env.get("TEST_PROCESSING_DELAY", "").strip() or "1000"
    outcome = "succeeds" if succeeds else "fails"
    return (
        f"Simulated bank: deterministic (TEST_MODE=true). Every payment {outcome} after {delay} ms."
    )


def _receiver_hint(env: Mapping[str, str]) -> list[str]:
    """The banner's lines on the test receiver, with the retry schedule in effect: when
    WEBHOOK_RETRY_INTERVALS_TEST is on, it says so rather than offering to turn it on."""
    name = "WEBHOOK_RETRY_INTERVALS_TEST"
    value = env.get(name, "").strip()
    # A no-break space keeps "1 min" and "5 s" on one line; printed as a space.
    first_retry = (
        f"the first after 5\u00a0s, as {name}={value} is set"
        if value.lower() in TRUE_VALUES
        else f"the first after 1\u00a0min, or 5\u00a0s with {name}=true make run"
    )
    lines = textwrap.wrap(
        "Watch webhooks arrive: start the test receiver in another terminal (it verifies both"
        f' signatures; RECEIVER_ARGS="--fail-first 2" shows retries, {first_retry}), then point'
        " the test merchant at it:",
        width=BANNER_WIDTH,
        break_on_hyphens=False,
    )
    return [line.replace("\u00a0", " ") for line in lines]


def _banner(
    services: list[Service],
    env: Mapping[str, str],
    checkout_link: str | None,
    keys: tuple[str, str],
    addresses: Addresses,
) -> str:
    """What `make run` prints once every service answers: the URLs (on `addresses`), the
    simulated bank's mode and the test merchant's current `keys` (key, secret)."""
    api_key, api_secret = keys
    api = addresses.at(next((s.port for s in services if s.name == "api" and s.port), 8000))
    urls = [
        f"  {BANNER_TITLES.get(service.name, service.name):<20} {addresses.at(service.port)}{path}"
        for service in services
        if service.port is not None
        for path in service.paths
    ]
    if any(service.name == "checkout" for service in services):
        link = checkout_link or "(no order could be created: see the api lines above)"
        urls.append(f"  {'Hosted checkout':<20} {link}")
    rule = "-" * 72
    host = addresses.host
    exposure = (
        f"Listening on {host} only; HOST=0.0.0.0 make run opens it to your network."
        if host in ("127.0.0.1", "localhost", "::1")
        else f"Listening on {host}: anyone who reaches it can log in as the test merchant."
    )
    receiver_port = addresses.ports["receiver"]
    make_receiver = "make receiver" + (
        f" RECEIVER_PORT={receiver_port}" if receiver_port != 4000 else ""
    )
    return "\n".join(
        [
            rule,
            "The payment gateway is running. Ctrl-C stops everything.",
            _simulated_bank(env),
            exposure,
            "",
            *urls,
            f"  {'PostgreSQL':<20} {env['DATABASE_URL']}",
            f"  {'Redis':<20} {env['REDIS_URL']}",
            "",
            f"Test merchant: X-Api-Key: {api_key}  X-Api-Secret: {api_secret}",
            f"Dashboard login: {env.get('TEST_MERCHANT_EMAIL') or 'test@example.com'}, any password.",
            "",
            f"  curl -s -X POST {api}/api/v1/orders \\",
            f"    -H 'X-Api-Key: {api_key}' -H 'X-Api-Secret: {api_secret}' \\",
            "    -H 'Content-Type: application/json' \\",
            """    -d '{"amount": 50000, "currency": "INR", "receipt": "receipt_1"}'""",
            "",
            *_receiver_hint(env),
            "",
            f"  {make_receiver}",
            f"  curl -s -X PUT {api}/api/v1/webhooks/config \\",
            f"    -H 'X-Api-Key: {api_key}' -H 'X-Api-Secret: {api_secret}' \\",
            "    -H 'Content-Type: application/json' \\",
            f"""    -d '{{"webhook_url": "{addresses.url("receiver")}/webhook"}}'""",
            rule,
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
