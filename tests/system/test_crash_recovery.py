"""Real worker processes, killed with SIGKILL mid-batch while Redis is flushed: every payment
and refund still reaches exactly one final state, with exactly one outcome event."""

import time
from urllib.parse import urlsplit

import httpx
import pytest

from devstack.embedded import start_redis
from factories import TEST_MERCHANT_HEADERS

pytestmark = pytest.mark.slow

TIMEOUT_S = 60


def wait_until(predicate, timeout: float = TIMEOUT_S, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(every)
    raise TimeoutError(predicate.__doc__ or "condition not met")


def outcome_events_per_item(db, events: tuple[str, ...], key: str) -> dict[str, int]:
    rows = db.execute(
        "SELECT payload::jsonb -> 'data' -> %s ->> 'id' AS id, count(*) AS n FROM webhook_logs"
        " WHERE event = ANY(%s) GROUP BY 1",
        (key, list(events)),
    ).fetchall()
    return {row["id"]: row["n"] for row in rows}


def test_payments_survive_worker_kills_and_redis_flush(start_service, db, redis, webhook_url):
    api = start_service("api", TEST_PROCESSING_DELAY="300")
    worker = start_service("payment_worker", API_URL=api.url, TEST_PROCESSING_DELAY="300")
    payment_ids: list[str] = []

    with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=10) as http:
        for number in range(200):
            order = http.post("/api/v1/orders", json={"amount": 10000 + number}).json()
            payment = http.post(
                "/api/v1/payments", json={"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
            )
            assert payment.status_code == 201, payment.text
            payment_ids.append(payment.json()["id"])
            if number in (60, 140):
                worker.kill()  # mid-batch: a tick is running for earlier payments
                redis.flushdb()  # the queued ticks and wake-up flags are gone too
                worker = start_service(
                    "payment_worker", API_URL=api.url, TEST_PROCESSING_DELAY="300"
                )

    def all_final():
        """all 200 payments final"""
        row = db.execute(
            "SELECT count(*) AS n FROM payments WHERE id = ANY(%s) AND status <> 'pending'",
            (payment_ids,),
        ).fetchone()
        return row["n"] == 200

    wait_until(all_final)
    outcomes = outcome_events_per_item(db, ("payment.success", "payment.failed"), "payment")
    assert set(outcomes) == set(payment_ids)
    assert set(outcomes.values()) == {1}, "a payment was finalised twice"
    paid = db.execute(
        "SELECT count(*) AS n FROM orders o JOIN payments p ON p.order_id = o.id"
        " WHERE p.id = ANY(%s) AND o.status = 'paid'",
        (payment_ids,),
    ).fetchone()
    assert paid["n"] == 200

    redis.flushdb()  # while the worker runs: it must register again

    def worker_registered_again():
        """the restarted worker shows in job status after the flush"""
        return httpx.get(f"{api.url}/api/v1/test/jobs/status").json()["queues"]["payments"][
            "workers"
        ]

    wait_until(worker_registered_again, timeout=10)


def test_refunds_survive_worker_kills_and_redis_flush(start_service, db, redis, webhook_url):
    api = start_service("api", TEST_PROCESSING_DELAY="200")
    start_service("payment_worker", API_URL=api.url)
    refund_worker = start_service("refund_worker", API_URL=api.url, TEST_PROCESSING_DELAY="200")

    with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=10) as http:
        payment_ids = []
        for _ in range(20):
            created = http.post("/api/v1/orders", json={"amount": 10000})
            assert created.status_code == 201, created.text
            order = created.json()
            body = {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
            payment_ids.append(http.post("/api/v1/payments", json=body).json()["id"])

        def all_paid():
            """payments succeeded"""
            statuses = {http.get(f"/api/v1/payments/{pid}").json()["status"] for pid in payment_ids}
            return statuses == {"success"}

        wait_until(all_paid)
        refund_ids = []
        for number, payment_id in enumerate(payment_ids * 5):
            response = http.post(f"/api/v1/payments/{payment_id}/refunds", json={"amount": 2000})
            assert response.status_code == 201, response.text
            refund_ids.append(response.json()["id"])
            if number == 50:
                refund_worker.kill()
                redis.flushdb()
                refund_worker = start_service("refund_worker", API_URL=api.url)

    def all_processed():
        """all refunds processed"""
        row = db.execute(
            "SELECT count(*) AS n FROM refunds WHERE status = 'processed' AND id = ANY(%s)",
            (refund_ids,),
        ).fetchone()
        return row["n"] == len(refund_ids)

    wait_until(all_processed)
    refunded = db.execute(
        "SELECT DISTINCT amount_refunded FROM payments WHERE id = ANY(%s)", (payment_ids,)
    ).fetchall()
    assert refunded == [{"amount_refunded": 10000}]
    processed = outcome_events_per_item(db, ("refund.processed",), "refund")
    assert set(processed) == set(refund_ids) and set(processed.values()) == {1}


def test_payment_created_while_redis_is_down_is_processed_by_the_sweep(start_service, db):
    broken_api = start_service("api", REDIS_URL="redis://127.0.0.1:1/0")
    working_api = start_service("api")
    start_service("payment_worker", API_URL=working_api.url)

    with httpx.Client(base_url=broken_api.url, headers=TEST_MERCHANT_HEADERS, timeout=10) as http:
        order = http.post("/api/v1/orders", json={"amount": 10000}).json()
        response = http.post(
            "/api/v1/payments", json={"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
        )

    assert response.status_code == 201 and response.json()["status"] == "pending"

    def finalised():
        """the sweep finalised the payment"""
        row = db.execute("SELECT status FROM payments WHERE id = %s", (response.json()["id"],))
        return row.fetchone()["status"] == "success"

    wait_until(finalised, timeout=10)


def test_worker_outlives_redis_going_down_while_its_tick_runs(start_service, db, tmp_path):
    # A Redis of its own, so that it can be stopped and started again on the same port.
    own_redis = start_redis(tmp_path)
    port = urlsplit(own_redis.url).port
    env = {"REDIS_URL": own_redis.url, "TEST_PROCESSING_DELAY": "3000"}
    api = start_service("api", **env)
    worker = start_service("payment_worker", API_URL=api.url, **env)
    try:
        with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=10) as http:

            def pay() -> str:
                order = http.post("/api/v1/orders", json={"amount": 10000}).json()
                body = {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
                return http.post("/api/v1/payments", json=body).json()["id"]

            def worker_registered():
                """the payment worker shows in job status"""
                assert worker.process.poll() is None, "the worker exited when Redis went away"
                status = http.get("/api/v1/test/jobs/status")
                return status.status_code == 200 and status.json()["queues"]["payments"]["workers"]

            wait_until(worker_registered, timeout=20)
            pay()
            time.sleep(2)  # a tick now waits for the payment, due at 3 s
            own_redis.stop()
            time.sleep(3)  # the tick finalises it, then finds Redis gone for its bookkeeping
            own_redis = start_redis(tmp_path, port=port)

            wait_until(worker_registered, timeout=20)
            payment_id = pay()

            def finalised():
                """a payment created after the restart is finalised"""
                return http.get(f"/api/v1/payments/{payment_id}").json()["status"] == "success"

            wait_until(finalised, timeout=15)
    finally:
        own_redis.stop()
