"""The checkout and the demo shop log like every other service (shared.core.logging): one line per
request with its correlation id, JSON lines in containers and pipes, console lines on a
terminal, and never compose's healthchecks."""

import json
import os

import httpx
import pytest

from devstack.services import local_services
from live import LiveProcess, free_port

pytestmark = pytest.mark.slow

PAGES = [("checkout", "/checkout.js"), ("checkout-demo", "/")]


def _serve_and_stop(name: str, page: str, **env: str) -> str:
    """Start `name` as `make run` does, ask for /health five times and `page` once, stop it;
    its whole output."""
    [service] = [s for s in local_services() if s.name == name]
    port = free_port()
    environ = {**os.environ, **service.env, "PORT": str(port), "HOST": "127.0.0.1", **env}
    process = LiveProcess(name, list(service.argv), environ, f"http://127.0.0.1:{port}")
    try:
        process.wait_until_healthy()
        for _ in range(5):
            assert httpx.get(f"{process.url}/health").status_code == 200
        response = httpx.get(f"{process.url}{page}", headers={"X-Request-Id": "req_access_log"})
        assert response.status_code == 200
        assert response.headers["X-Request-Id"] == "req_access_log"
    finally:
        process.stop()
    return process.log_path.read_text()


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_json_lines_when_not_on_a_terminal(name: str, page: str):
    # `auto`, the default: the output is a file here, as it is a pipe in a container.
    log = _serve_and_stop(name, page, LOG_FORMAT="auto")

    lines = [json.loads(line) for line in log.splitlines()]  # uvicorn's own lines too
    requests = [line for line in lines if line["event"] == "request"]
    assert [(r["method"], r["path"], r["status"]) for r in requests] == [("GET", page, 200)]
    assert requests[0]["service"] == name
    assert requests[0]["correlation_id"] == "req_access_log"
    assert any(line["event"].startswith("Uvicorn running on") for line in lines)
    assert "/health" not in log


@pytest.mark.parametrize(("name", "page"), PAGES)
def test_console_lines_for_a_person(name: str, page: str):
    log = _serve_and_stop(name, page, LOG_FORMAT="console", NO_COLOR="1")

    [request] = [line for line in log.splitlines() if " request " in line]
    assert f"path={page} " in request and "status=200" in request
    assert "correlation_id=req_access_log" in request
    assert not request.lstrip().startswith("{")
    assert "/health" not in log
