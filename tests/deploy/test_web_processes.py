"""The web services as `make run` starts them (the images run the same argv): a SIGTERM stop is
graceful and exits 0, not 143 (docs/operations/running.md#stopping), and healthcheck probes are not
logged."""

import signal
import time

import httpx
import pytest

from devstack import processes
from devstack.services import local_services
from live import LiveProcess, free_port

# The probes each answers, and a path that is logged (not a probe). Each reads its port in PORT.
PROBES = {
    "api": ("/health", "/livez", "/readyz", "/metrics"),
    "dashboard": ("/health", "/livez", "/readyz"),
    "checkout": ("/health",),
    "checkout-demo": ("/health",),
}
LOGGED = {"api": "/api/v1/test/merchant", "dashboard": "/login", "checkout": "/checkout.js",
          "checkout-demo": "/"}  # fmt: skip


def _start(name: str, env: dict[str, str]) -> LiveProcess:
    port = free_port()
    environ = {"PORT": str(port)}
    [service] = [s for s in local_services(environ) if s.name == name]
    process = LiveProcess(
        f"sigterm-{name}",
        list(service.argv),
        env | service.env | environ,
        f"http://127.0.0.1:{port}",
    )
    process.wait_until_healthy()
    return process


@pytest.mark.parametrize("name", sorted(PROBES))
def test_a_sigterm_stop_exits_0_and_probes_are_not_logged(name, service_env, db, redis):
    api = _start("api", service_env) if name == "dashboard" else None
    env = service_env | ({"API_URL": api.url} if api else {})
    service = _start(name, env)
    try:
        for path in PROBES[name]:
            httpx.get(f"{service.url}{path}", timeout=5)
        httpx.get(f"{service.url}{LOGGED[name]}", timeout=5)
        time.sleep(0.5)  # the request line is written after the response

        processes.stop(service.process, signal.SIGTERM, 15.0)
        returncode = service.process.returncode
    finally:
        service.stop()
        if api is not None:
            api.stop()

    log = service.log_path.read_text()
    assert returncode == 0, log[-2000:]
    assert LOGGED[name] in log  # requests are logged...
    for path in PROBES[name]:
        assert f'"{path}' not in log and f" {path} " not in log, path  # ...probes are not
