"""What `make run` starts."""

import sys

from devstack.run import child_environment
from devstack.services import SERVICE_ADDRESS_VARIABLES, local_services


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


def _hosts(environ: dict[str, str]) -> dict[str, str]:
    hosts = {}
    for service in local_services(environ):
        if service.name == "api":
            hosts["api"] = service.argv[service.argv.index("--host") + 1]
            assert service.env["HOST"] == hosts["api"]
        elif service.port is not None:
            hosts[service.name] = service.env["HOST"]
    return hosts


def test_every_web_service_listens_on_loopback_by_default() -> None:
    hosts = _hosts({})

    assert hosts.keys() == {"api", "checkout", "dashboard", "checkout-demo"}
    assert set(hosts.values()) == {"127.0.0.1"}


def test_host_opens_every_web_service_to_the_network() -> None:
    assert set(_hosts({"HOST": "0.0.0.0"}).values()) == {"0.0.0.0"}  # noqa: S104


def test_every_web_service_is_given_its_own_port_as_port() -> None:
    web = [service for service in local_services({"PORT": "9100"}) if service.port is not None]

    assert {service.name: service.env["PORT"] for service in web} == {
        "api": "9100", "checkout": "3001", "dashboard": "3000", "checkout-demo": "3002",
    }  # fmt: skip


def test_children_do_not_get_a_single_services_address(monkeypatch) -> None:
    # They would win over the PORT and HOST that make run gives the dashboard and the demo.
    for variable in SERVICE_ADDRESS_VARIABLES:
        monkeypatch.setenv(variable, "4999")

    assert not set(child_environment()) & set(SERVICE_ADDRESS_VARIABLES)


def test_every_child_shares_one_service_secret(monkeypatch) -> None:
    """The API believes the visitor address the dashboard names only with it: one per run,
    the same for every child, unless the environment sets one."""
    monkeypatch.delenv("SERVICE_SECRET", raising=False)
    generated = child_environment()["SERVICE_SECRET"]
    assert len(generated) >= 16 and child_environment()["SERVICE_SECRET"] != generated

    monkeypatch.setenv("SERVICE_SECRET", "an operator's own secret")
    assert child_environment()["SERVICE_SECRET"] == "an operator's own secret"
