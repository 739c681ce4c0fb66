"""What `make run` starts."""

import sys

from devstack.services import local_services


def _api_argv(environ: dict[str, str]) -> tuple[int | None, tuple[str, ...]]:
    [api] = [service for service in local_services(environ) if service.name == "api"]
    return api.port, api.argv


def test_api_listens_on_8000_by_default() -> None:
    port, argv = _api_argv({})

    assert port == 8000
    assert argv == (sys.executable, "-m", "api", "--host", "127.0.0.1", "--port", "8000")


def test_api_port_follows_the_port_variable() -> None:
    port, argv = _api_argv({"PORT": "9100"})

    assert port == 9100
    assert argv[argv.index("--port") + 1] == "9100"


# Where each web service is told to listen: the variable it reads.
HOST_VARIABLES = {"checkout": "HOST", "dashboard": "DASHBOARD_HOST", "checkout-demo": "HOST"}


def _hosts(environ: dict[str, str]) -> dict[str, str]:
    hosts = {}
    for service in local_services(environ):
        if service.name == "api":
            hosts["api"] = service.argv[service.argv.index("--host") + 1]
        elif service.name in HOST_VARIABLES:
            hosts[service.name] = service.env[HOST_VARIABLES[service.name]]
    return hosts


def test_every_web_service_listens_on_loopback_by_default() -> None:
    hosts = _hosts({})

    assert hosts.keys() == {"api", "checkout", "dashboard", "checkout-demo"}
    assert set(hosts.values()) == {"127.0.0.1"}


def test_host_opens_every_web_service_to_the_network() -> None:
    assert set(_hosts({"HOST": "0.0.0.0"}).values()) == {"0.0.0.0"}  # noqa: S104
