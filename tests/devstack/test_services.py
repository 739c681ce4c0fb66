"""What `make run` starts."""

import sys

from devstack.services import local_services


def _api_argv(environ: dict[str, str]) -> tuple[int | None, tuple[str, ...]]:
    [api] = [service for service in local_services(environ) if service.name == "api"]
    return api.port, api.argv


def test_api_listens_on_8000_by_default() -> None:
    port, argv = _api_argv({})

    assert port == 8000
    listen = ("--host", "0.0.0.0", "--port", "8000")  # noqa: S104
    assert argv == (sys.executable, "-m", "api", *listen)


def test_api_port_follows_the_port_variable() -> None:
    port, argv = _api_argv({"PORT": "9100"})

    assert port == 9100
    assert argv[-2:] == ("--port", "9100")
