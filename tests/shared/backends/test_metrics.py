"""Worker metrics: served on loopback unless METRICS_HOST says otherwise
(docs/operations/observability.md#metrics), with a `/livez` beside `/metrics` that compose's worker
healthcheck asks (docs/operations/running.md#probes)."""

import socket
import time

import httpx
import pytest

from live import free_port
from shared.backends.metrics import serve_worker_metrics
from shared.backends.worker import WorkerSettings


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: only picks the interface
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_metrics_listen_on_loopback_by_default():
    assert WorkerSettings(database_url="x", redis_url="y").metrics_host == "127.0.0.1"


def test_livez_follows_the_worker_loop_and_metrics_are_served():
    alive = True
    server = serve_worker_metrics(free_port(), alive=lambda: alive)
    assert server is not None
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        livez = httpx.get(f"{url}/livez")
        metrics = httpx.get(f"{url}/metrics")
        alive = False
        stopping = httpx.get(f"{url}/livez")
    finally:
        server.shutdown()
        server.server_close()

    assert (livez.status_code, livez.text) == (200, "ok\n")
    assert metrics.status_code == 200 and "gateway_jobs" in metrics.text
    assert stopping.status_code == 503


def test_a_worker_serves_livez_on_loopback_only(start_service):
    port = free_port()
    api = start_service("api")  # a worker waits for the API before it serves anything
    worker = start_service("payment_worker", METRICS_PORT=str(port), API_URL=api.url)
    deadline = time.monotonic() + 30
    while True:
        try:
            livez = httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, worker.log_path.read_text()[-2000:]
            time.sleep(0.2)

    assert livez.status_code == 200
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{address}:{port}/livez", timeout=2)
