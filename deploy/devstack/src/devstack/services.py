"""The processes `make run` starts, in start order: adding one is a line in `local_services`."""

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

# As in compose, so a phone or VM on this machine's network can reach the local gateway.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]
    port: int | None = None  # make run waits until it answers; None for queue workers
    env: dict[str, str] = field(default_factory=dict)  # on top of the shared environment
    paths: tuple[str, ...] = ("/",)  # the URLs printed once everything is up


def python_module(module: str, *args: str) -> tuple[str, ...]:
    """`python -m module args`, with the interpreter of the current virtualenv."""
    return (sys.executable, "-m", module, *args)


def local_services(environ: Mapping[str, str] = os.environ) -> list[Service]:
    api_port = int(environ.get("PORT", "8000"))
    api_listen = ("--host", ALL_INTERFACES, "--port", str(api_port))
    # The API logs every request itself, with its correlation id; uvicorn's access log would
    # say the same again.
    api_argv = python_module(
        "uvicorn", "--factory", "api.main:create_app", *api_listen, "--no-access-log"
    )
    # uvicorn runs this many API processes on the one port (the API keeps no state of its own;
    # api.metrics pools their metrics). Two use both cores of a small machine: measured in
    # README's performance section.
    api_env = {"WEB_CONCURRENCY": environ.get("WEB_CONCURRENCY", "2")}
    return [
        Service("api", api_argv, api_port, env=api_env, paths=("/", "/docs")),
        # Each worker serves its Prometheus metrics on a port of its own.
        Service("payment-worker", python_module("payment_worker"), env={"METRICS_PORT": "9101"}),
        Service("refund-worker", python_module("refund_worker"), env={"METRICS_PORT": "9102"}),
        Service(
            "webhook-dispatcher",
            python_module("webhook_dispatcher"),
            env={"METRICS_PORT": "9103"},
        ),
        # Checkout reads PORT like the API, so it is given its own here.
        Service(
            "checkout",
            python_module("checkout"),
            3001,
            env={"PORT": "3001", "HOST": ALL_INTERFACES},
            paths=("/checkout.js",),
        ),
        Service(
            "dashboard",
            python_module("dashboard"),
            3000,
            env={"DASHBOARD_PORT": "3000", "DASHBOARD_HOST": ALL_INTERFACES},
            paths=("/login",),
        ),
        Service(
            "checkout-demo",
            python_module("checkout.demo"),
            3002,
            env={"DEMO_PORT": "3002", "HOST": ALL_INTERFACES},
            paths=("/",),
        ),
    ]
