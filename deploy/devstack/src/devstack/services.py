"""The processes `make run` starts, in start order: adding one is a line in `local_services`."""

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

# Loopback unless HOST says otherwise: the seeded test merchant accepts any password, so a
# gateway open to the network would hand its API secret to anyone on the same Wi-Fi.
# `HOST=0.0.0.0 make run` opens every service to the network (a phone or VM testing it).
DEFAULT_HOST = "127.0.0.1"
# Names that a single service reads in place of HOST/PORT when set (a shared environment file
# can hold them beside the API's PORT). `make run` chooses every service's address itself, so
# its children do not get them.
SERVICE_ADDRESS_VARIABLES = ("DASHBOARD_HOST", "DASHBOARD_PORT", "DEMO_PORT")
# How much lower than the API's the OS scheduling priority (nice) of the work nobody waits on
# is: the workers and the dispatcher, which also run as batch processes (processes.spawn).
# When the cores are short, a shopper's request goes first and the background gets about half
# the CPU share of a request-serving process, so it still keeps up (nice 10, a ninth, let
# deliveries lag 15 s on a busy 2-core machine); when the cores are not short, it changes
# nothing.
BACKGROUND_NICE = 3


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    port: int | None = None  # make run waits until it answers; None for queue workers
    env: dict[str, str] = field(default_factory=dict)  # on top of the shared environment
    paths: tuple[str, ...] = ("/",)  # the URLs printed once everything is up
    nice: int = 0  # added to the process's niceness: > 0 yields the CPU to the others


def python_module(module: str, *args: str) -> tuple[str, ...]:
    """`python -m module args`, with the interpreter of the current virtualenv."""
    return (sys.executable, "-m", module, *args)


def listen_host(environ: Mapping[str, str] = os.environ) -> str:
    """The address every service listens on: HOST, or loopback."""
    return environ.get("HOST", "").strip() or DEFAULT_HOST


def web_service(
    name: str,
    argv: tuple[str, ...],
    port: int,
    host: str,
    paths: tuple[str, ...],
    env: dict[str, str] | None = None,
) -> Service:
    """A web service, told where to listen by PORT and HOST: every one reads them."""
    listen = {"PORT": str(port), "HOST": host}
    return Service(name, argv, port, env={**(env or {}), **listen}, paths=paths)


def local_services(environ: Mapping[str, str] = os.environ) -> list[Service]:
    host = listen_host(environ)
    api_port = int(environ.get("PORT", "8000"))
    api_listen = ("--host", host, "--port", str(api_port))
    # uvicorn inside, started by the API's own entry point so a SIGTERM stop exits 0; it logs
    # each request itself and takes client addresses from the socket (TRUSTED_PROXIES aside).
    api_argv = python_module("api", *api_listen)
    # This many API processes share the one port (the API keeps no state of its own;
    # api.metrics pools their metrics). One by default: the API runs on asyncio, and on a
    # small machine that also runs the workers and PostgreSQL a second process cost more CPU
    # per order and gave fewer orders per second (README's performance section).
    api_env = {"WEB_CONCURRENCY": environ.get("WEB_CONCURRENCY", "1")}
    return [
        web_service("api", api_argv, api_port, host, ("/docs",), env=api_env),
        # Each worker serves its Prometheus metrics on a port of its own.
        Service(
            "payment-worker",
            python_module("payment_worker"),
            env={"METRICS_PORT": "9101"},
            nice=BACKGROUND_NICE,
        ),
        Service(
            "refund-worker",
            python_module("refund_worker"),
            env={"METRICS_PORT": "9102"},
            nice=BACKGROUND_NICE,
        ),
        Service(
            "webhook-dispatcher",
            python_module("webhook_dispatcher"),
            env={"METRICS_PORT": "9103"},
            nice=BACKGROUND_NICE,
        ),
        web_service("checkout", python_module("checkout"), 3001, host, ("/checkout.js",)),
        web_service("dashboard", python_module("dashboard"), 3000, host, ("/login",)),
        web_service("checkout-demo", python_module("checkout.demo"), 3002, host, ("/",)),
    ]
