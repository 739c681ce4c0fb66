"""The checkout and the demo shop log what shoppers ask for, never compose's healthchecks."""

import os

import httpx
import pytest

from devstack.services import local_services
from live import LiveProcess, free_port

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("name", "page"), [("checkout", "/checkout.js"), ("checkout-demo", "/")])
def test_healthchecks_leave_no_access_line(name: str, page: str):
    [service] = [s for s in local_services() if s.name == name]
    port = free_port()
    env = {**os.environ, **service.env, "PORT": str(port), "HOST": "127.0.0.1"}
    process = LiveProcess(name, list(service.argv), env, f"http://127.0.0.1:{port}")
    try:
        process.wait_until_healthy()
        for _ in range(5):
            assert httpx.get(f"{process.url}/health").status_code == 200
        assert httpx.get(f"{process.url}{page}").status_code == 200
    finally:
        process.stop()
    log = process.log_path.read_text()
    assert "/health" not in log
    assert f'"GET {page} HTTP/1.1" 200' in log
