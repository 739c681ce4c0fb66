"""/livez and /readyz (docs/operations/running.md#probes): the process is up; it can take traffic,
which needs PostgreSQL and the schema at the latest migration (a worker ticking against an API
that answered before `migrate` finished met `relation "payments" does not exist`), but not
Redis: without it the API still takes payments, so a Redis outage must not take every replica
out of service."""

import time

from fastapi.testclient import TestClient

from api.main import create_app
from shared.backends.migrations import apply_migrations, migration_files


def test_livez_and_readyz_when_everything_answers(client):
    livez, readyz = client.get("/livez"), client.get("/readyz")

    assert (livez.status_code, livez.json()) == (200, {"status": "alive"})
    assert readyz.status_code == 200
    body = readyz.json()
    assert (body["status"], body["database"], body["redis"]) == ("ready", "connected", "connected")
    assert (body["schema_version"], body["pending_migrations"]) == ("latest", [])


def test_livez_answers_and_readyz_refuses_without_the_database(settings):
    broken = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/x"})
    with TestClient(create_app(broken)) as client:
        livez, readyz = client.get("/livez"), client.get("/readyz")

    assert livez.status_code == 200
    assert readyz.status_code == 503
    assert (readyz.json()["database"], readyz.json()["schema_version"]) == (
        "disconnected",
        "unknown",
    )


def test_without_redis_readyz_says_so_and_the_api_still_takes_a_payment(
    settings, db, merchant_headers
):
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(broken), headers=merchant_headers) as client:
        readyz = client.get("/readyz")
        order = client.post("/api/v1/orders", json={"amount": 50000})
        payment = client.post(
            "/api/v1/payments",
            json={"order_id": order.json()["id"], "method": "upi", "vpa": "shopper@upi"},
        )

    assert readyz.status_code == 200
    assert (readyz.json()["status"], readyz.json()["redis"]) == ("ready", "disconnected")
    assert (order.status_code, payment.status_code) == (201, 201)
    assert payment.json()["status"] == "pending"


def test_readyz_waits_for_the_latest_migration_while_health_does_not(settings, empty_database):
    fresh = settings.model_copy(update={"database_url": empty_database})
    with TestClient(create_app(fresh)) as client:
        before, health = client.get("/readyz"), client.get("/health")
        apply_migrations(empty_database)
        after = client.get("/readyz")

    assert health.status_code == 200  # /health only asks the dependencies
    assert before.status_code == 503
    assert before.json()["schema_version"] == "pending"
    assert before.json()["pending_migrations"] == [version for version, _ in migration_files()]
    assert after.status_code == 200


def test_responses_close_their_connection_once_the_replica_is_being_stopped(
    settings, db, monkeypatch, tmp_path
):
    """An orchestrator marks a replica it is stopping (the Kubernetes preStop hook); its
    keep-alive clients are then told to reconnect elsewhere before uvicorn's SIGTERM closes
    idle connections (a request sent on one at that moment was cut in a live rolling restart)."""
    mark = tmp_path / "draining"
    monkeypatch.setattr("api.main.DRAINING_MARK", mark)
    with TestClient(create_app(settings)) as client:
        before = client.get("/livez")
        mark.touch()
        time.sleep(0.15)  # looked for at most every 0.1 s (DrainMiddleware.recheck_s)
        after, refused = client.get("/readyz"), client.post("/api/v1/orders", json={})

    assert before.status_code == 200 and "connection" not in before.headers
    assert after.status_code == 200 and after.headers["connection"] == "close"
    assert refused.status_code == 401 and refused.headers["connection"] == "close"
