"""What `make run` starts."""

import os
import subprocess
import sys

from devstack import processes
from devstack.run import child_environment
from devstack.services import BACKGROUND_NICE, SERVICE_ADDRESS_VARIABLES, local_services


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
