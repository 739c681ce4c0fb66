"""The processes `make run` starts, in start order: adding one is a line in `local_services`.

`service_addresses` is the one place that turns what the user set (HOST and each service's
port variable) into every port and URL the stack uses: where each service listens, the URLs
the services call each other by (API_URL, CHECKOUT_URL, DASHBOARD_URL), the banner's links and
the webhook receiver's address.
"""

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

# Loopback unless HOST says otherwise: the seeded test merchant accepts any password, so a
# gateway open to the network would hand its API secret to anyone on the same Wi-Fi.
# `HOST=0.0.0.0 make run` opens every service to the network (a phone or VM testing it).
DEFAULT_HOST = "127.0.0.1"
# Names that a single service reads in place of HOST/PORT when set (a shared environment file
# can hold them beside the API's PORT). `make run` reads the ports among them itself and gives
# each service its own PORT, so its children do not get them.
SERVICE_ADDRESS_VARIABLES = ("DASHBOARD_HOST", "DASHBOARD_PORT", "DEMO_PORT", "CHECKOUT_PORT")
# The variable that moves each port, and its default. PORT is the API's
# (docs/operations/running.md); each other service reads its own variable too when it runs alone.
PORT_VARIABLES = {
    "api": ("PORT", 8000),
    "checkout": ("CHECKOUT_PORT", 3001),
    "dashboard": ("DASHBOARD_PORT", 3000),
    "checkout-demo": ("DEMO_PORT", 3002),
    "receiver": ("RECEIVER_PORT", 4000),  # `make receiver`'s; make run only prints it
    # The first of the workers' three metrics ports, one each in start order.
    "metrics": ("METRICS_PORT", 9101),
}
# Set by the user, they win: a phone on the network needs the machine's address in the pages.
URL_VARIABLES = {"API_URL": "api", "CHECKOUT_URL": "checkout", "DASHBOARD_URL": "dashboard"}
WORKERS = ("payment-worker", "refund-worker", "webhook-dispatcher")
# Hosts that people and pages reach as localhost (a wildcard listens on loopback too).
LOCAL_HOSTS = ("127.0.0.1", "0.0.0.0", "::", "localhost", "::1")  # noqa: S104

# How much lower than the API's the OS scheduling priority (nice) of the work nobody waits on
# is: the workers and the dispatcher, which also run as batch processes (processes.spawn).
# When the cores are short, a shopper's request goes first and the background gets about half
# the CPU share of a request-serving process, so it still keeps up (nice 10, a ninth, let
# deliveries lag 15 s on a busy 2-core machine); when the cores are not short, it changes
# nothing.
BACKGROUND_NICE = 3


class AddressError(ValueError):
    """A port variable holds no valid port, or two services were given the same port; the
    message names the variables."""


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    port: int | None = None  # make run waits until it answers; None for queue workers
    env: dict[str, str] = field(default_factory=dict)  # on top of the shared environment
    paths: tuple[str, ...] = ("/",)  # the URLs printed once everything is up
    port_variable: str | None = None  # what moves `port`, named when the port is taken
    nice: int = 0  # added to the process's niceness: > 0 yields the CPU to the others


@dataclass(frozen=True)
class Addresses:
    """Where every part of the stack is: `host` to listen on and `ports` by service name (the
    keys of PORT_VARIABLES)."""

    host: str
    ports: dict[str, int]

    def url(self, name: str) -> str:
        """The base URL of service `name`, e.g. `http://localhost:3000`."""
        return self.at(self.ports[name])

    def at(self, port: int, *, reachable: bool = False) -> str:
        """`http://localhost:<port>`, or on HOST itself when it names one address (then the
        only one that answers). `reachable`: 127.0.0.1 rather than localhost, for a request
        of our own that must not depend on how localhost resolves."""
        if reachable:
            wildcard = self.host in ("0.0.0.0", "::", "localhost")  # noqa: S104
            host = "127.0.0.1" if wildcard else self.host
        else:
            host = "localhost" if self.host in LOCAL_HOSTS else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def service_urls(self, environ: Mapping[str, str]) -> dict[str, str]:
        """API_URL, CHECKOUT_URL and DASHBOARD_URL: as set in `environ`, else those of the
        ports."""
        return {
            variable: environ.get(variable, "").strip() or self.url(name)
            for variable, name in URL_VARIABLES.items()
        }


def python_module(module: str, *args: str) -> tuple[str, ...]:
    """`python -m module args`, with the interpreter of the current virtualenv."""
    return (sys.executable, "-m", module, *args)


def listen_host(environ: Mapping[str, str] = os.environ) -> str:
    """The address every service listens on: HOST, or loopback."""
    return environ.get("HOST", "").strip() or DEFAULT_HOST


def service_addresses(environ: Mapping[str, str] = os.environ) -> Addresses:
    """Every port from its variable (PORT_VARIABLES) or default. Raises AddressError naming the
    variable when one is not a port 1-65535, or when two services would share a port."""
    ports: dict[str, int] = {}
    for name, (variable, default) in PORT_VARIABLES.items():
        raw = environ.get(variable, "").strip()
        try:
            port = int(raw) if raw else default
        except ValueError:
            port = 0
        if not 1 <= port <= 65535:
            raise AddressError(f"{variable} is invalid: expected a port 1-65535, got {raw!r}")
        ports[name] = port
    taken: dict[int, str] = {}
    metrics = ports["metrics"]
    for name, port in [*ports.items(), *((w, metrics + i) for i, w in enumerate(WORKERS))]:
        if name == "metrics":
            continue
        if port in taken:
            raise AddressError(
                f"{_named(taken[port])} and {_named(name)} are both on port {port}: "
                "move one of them"
            )
        taken[port] = name
    return Addresses(listen_host(environ), ports)


def _named(name: str) -> str:
    if name in WORKERS:
        return f"{name}'s metrics (METRICS_PORT + {WORKERS.index(name)})"
    return f"{name} ({PORT_VARIABLES[name][0]})"


def web_service(
    name: str,
    argv: tuple[str, ...],
    addresses: Addresses,
    paths: tuple[str, ...],
    env: dict[str, str] | None = None,
) -> Service:
    """A web service, told where to listen by PORT and HOST: every one reads them."""
    port = addresses.ports[name]
    listen = {"PORT": str(port), "HOST": addresses.host}
    return Service(
        name, argv, port, env={**(env or {}), **listen}, paths=paths,
        port_variable=PORT_VARIABLES[name][0],
    )  # fmt: skip


def local_services(environ: Mapping[str, str] = os.environ) -> list[Service]:
    """What `make run` starts, on the addresses of `service_addresses(environ)` (which raises
    AddressError on a bad port variable)."""
    addresses = service_addresses(environ)
    api_listen = ("--host", addresses.host, "--port", str(addresses.ports["api"]))
    # uvicorn inside, started by the API's own entry point so a SIGTERM stop exits 0; it logs
    # each request itself and takes client addresses from the socket (TRUSTED_PROXIES aside).
    api_argv = python_module("api", *api_listen)
    # This many API processes share the one port (the API keeps no state of its own;
    # api.metrics pools their metrics). One by default: the API runs on asyncio, and on a
    # small machine that also runs the workers and PostgreSQL a second process cost more CPU
    # per order and gave fewer orders per second (README's performance section).
    api_env = {"WEB_CONCURRENCY": environ.get("WEB_CONCURRENCY", "1")}
    metrics = addresses.ports["metrics"]
    return [
        web_service("api", api_argv, addresses, ("/docs",), env=api_env),
        # Each worker serves its Prometheus metrics on a port of its own.
        Service(
            "payment-worker",
            python_module("payment_worker"),
            env={"METRICS_PORT": str(metrics)},
            nice=BACKGROUND_NICE,
        ),
        Service(
            "refund-worker",
            python_module("refund_worker"),
            env={"METRICS_PORT": str(metrics + 1)},
            nice=BACKGROUND_NICE,
        ),
        Service(
            "webhook-dispatcher",
            python_module("webhook_dispatcher"),
            env={"METRICS_PORT": str(metrics + 2)},
            nice=BACKGROUND_NICE,
        ),
        web_service("checkout", python_module("checkout"), addresses, ("/checkout.js",)),
        web_service("dashboard", python_module("dashboard"), addresses, ("/login",)),
        web_service("checkout-demo", python_module("checkout.demo"), addresses, ("/",)),
    ]
