"""What `make run` starts, and where: every port from its variable, every URL from the ports."""

import os
import re
import subprocess
import sys

import pytest

from devstack import processes
from devstack.run import child_environment
from devstack.services import (
    BACKGROUND_NICE,
    SERVICE_ADDRESS_VARIABLES,
    AddressError,
    local_services,
    service_addresses,
)


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
    for port, variable in enumerate(SERVICE_ADDRESS_VARIABLES, start=4990):
        monkeypatch.setenv(variable, str(port))

    assert not set(child_environment()) & set(SERVICE_ADDRESS_VARIABLES)


def test_the_work_nobody_waits_on_runs_at_a_lower_priority_than_requests() -> None:
    nice = {service.name: service.nice for service in local_services({})}

    assert BACKGROUND_NICE > 0
    assert nice == {
        "api": 0, "checkout": 0, "dashboard": 0, "checkout-demo": 0,
        "payment-worker": BACKGROUND_NICE, "refund-worker": BACKGROUND_NICE,
        "webhook-dispatcher": BACKGROUND_NICE,
    }  # fmt: skip


def test_a_child_started_nicer_runs_at_that_priority() -> None:
    # With autogrouping (Linux's default) each session is scheduled as one group: a nice value
    # inside the child's new session alone would yield only to the child's own threads.
    script = (
        "import os, pathlib; group = pathlib.Path('/proc/self/autogroup');"
        "print(os.nice(0), group.read_text().split()[-1] if group.exists() else '-',"
        " os.sched_getscheduler(0) == os.SCHED_BATCH)"
    )
    child = processes.spawn([sys.executable, "-c", script], stdout=subprocess.PIPE, nice=7)
    output, _ = child.communicate(timeout=30)
    process_nice, group_nice, batch = output.decode().split()

    assert int(process_nice) == os.nice(0) + 7
    assert group_nice in ("7", "-")
    assert batch == "True"  # it waits for the running process's slice to end when it wakes


MOVED = {"PORT": "8101", "CHECKOUT_PORT": "8102", "DASHBOARD_PORT": "8103", "DEMO_PORT": "8104",
         "RECEIVER_PORT": "8105", "METRICS_PORT": "8106"}  # fmt: skip


def test_every_port_moves_with_its_own_variable() -> None:
    services = {service.name: service for service in local_services(MOVED)}

    assert {name: s.port for name, s in services.items() if s.port} == {
        "api": 8101, "checkout": 8102, "dashboard": 8103, "checkout-demo": 8104,
    }  # fmt: skip
    assert {name: s.env["PORT"] for name, s in services.items() if s.port} == {
        "api": "8101", "checkout": "8102", "dashboard": "8103", "checkout-demo": "8104",
    }  # fmt: skip
    metrics = [s.env["METRICS_PORT"] for s in services.values() if s.port is None]
    assert metrics == ["8106", "8107", "8108"]
    assert service_addresses(MOVED).url("receiver") == "http://localhost:8105"
    # The variable that moves each is what a busy port names.
    assert {s.name: s.port_variable for s in services.values() if s.port} == {
        "api": "PORT", "checkout": "CHECKOUT_PORT", "dashboard": "DASHBOARD_PORT",
        "checkout-demo": "DEMO_PORT",
    }  # fmt: skip


def test_the_services_call_each_other_on_the_moved_ports(monkeypatch) -> None:
    # PORT=8001 make run once moved the API alone: workers and dashboard still called 8000.
    for variable in ("API_URL", "CHECKOUT_URL", "DASHBOARD_URL", "HOST"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in MOVED.items():
        monkeypatch.setenv(variable, value)

    env = child_environment()

    assert env["API_URL"] == "http://localhost:8101"
    assert env["CHECKOUT_URL"] == "http://localhost:8102"
    assert env["DASHBOARD_URL"] == "http://localhost:8103"


def test_urls_the_user_set_win(monkeypatch) -> None:
    monkeypatch.setenv("PORT", "8101")
    monkeypatch.setenv("API_URL", "http://192.168.1.5:8101")

    assert child_environment()["API_URL"] == "http://192.168.1.5:8101"


def test_urls_name_the_host_when_it_is_one_address() -> None:
    addresses = service_addresses({"HOST": "192.168.1.5", "DASHBOARD_PORT": "3100"})

    assert addresses.service_urls({})["DASHBOARD_URL"] == "http://192.168.1.5:3100"
    assert service_addresses({"HOST": "0.0.0.0"}).url("api") == "http://localhost:8000"  # noqa: S104


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DASHBOARD_PORT": "three thousand"}, "DASHBOARD_PORT is invalid: expected a port"),
        ({"DEMO_PORT": "70000"}, "DEMO_PORT is invalid"),
        ({"PORT": "0"}, "PORT is invalid"),
        (
            {"CHECKOUT_PORT": "3000"},
            "checkout (CHECKOUT_PORT) and dashboard (DASHBOARD_PORT) are both on port 3000",
        ),
        ({"PORT": "9102"}, "api (PORT) and refund-worker's metrics (METRICS_PORT + 1)"),
    ],
)
def test_a_bad_port_variable_is_named(environ: dict[str, str], message: str) -> None:
    with pytest.raises(AddressError, match=re.escape(message)):
        local_services(environ)


def test_every_child_shares_one_service_secret(monkeypatch) -> None:
    """The API believes the visitor address the dashboard names only with it: one per run,
    the same for every child, unless the environment sets one."""
    monkeypatch.delenv("SERVICE_SECRET", raising=False)
    generated = child_environment()["SERVICE_SECRET"]
    assert len(generated) >= 16 and child_environment()["SERVICE_SECRET"] != generated

    monkeypatch.setenv("SERVICE_SECRET", "an operator's own secret")
    assert child_environment()["SERVICE_SECRET"] == "an operator's own secret"
