"""A worker takes no job before the API is ready, schema included: on a multi-replica start
the first ticks met `relation "payments" does not exist` while `migrate` still ran
(docs/operations/running.md#probes)."""

import time

import httpx

from live import free_port
from shared.backends.migrations import apply_migrations


def _livez(port: int) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code
    except httpx.HTTPError:
        return None


def test_a_worker_waits_for_the_schema_before_it_works(start_service, empty_database):
    api = start_service("api", DATABASE_URL=empty_database)  # /health answers 200 already
    port = free_port()
    worker = start_service("payment_worker", DATABASE_URL=empty_database, API_URL=api.url,
                           METRICS_PORT=str(port))  # fmt: skip

    # Once it has said a few things (it is up and has looked at its dependencies)...
    deadline = time.monotonic() + 30
    while len(worker.log_path.read_text().splitlines()) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    # ...it is still waiting: its metrics and /livez are served once it works.
    assert _livez(port) is None, worker.log_path.read_text()[-1500:]

    apply_migrations(empty_database)
    deadline = time.monotonic() + 30
    while _livez(port) != 200:
        assert time.monotonic() < deadline, "the worker did not start once the schema was ready"
        time.sleep(0.2)
