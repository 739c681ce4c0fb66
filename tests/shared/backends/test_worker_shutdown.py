"""SIGTERM stops a worker cleanly: exit code 0, promptly, and what it claimed is finished or
given back, never left leased (docs/operations/running.md#stopping)."""

import signal
import threading
import time

import httpx
import pytest

from factories import TEST_MERCHANT_HEADERS

pytestmark = pytest.mark.slow

DELIVERIES = 1200


def wait_until(predicate, timeout: float, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(every)
    raise TimeoutError(predicate.__doc__ or "condition not met")


def stop(process, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout)
    return code, time.monotonic() - started


def test_dispatcher_stopped_mid_tick_finishes_what_it_sent_and_leaves_nothing_leased(
    start_service, start_receiver, db, private_redis
):
    env = {"REDIS_URL": private_redis.url}
    # A slow merchant: each delivery takes 1 s, so the backlog outlasts any tick.
    receiver = start_receiver(delay_s=1.0)
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (receiver.url,)
    )
    db.execute(
        """
        INSERT INTO webhook_logs (merchant_id, event, payload, next_retry_at)
        SELECT id, 'webhook.test', '{"event":"webhook.test","n":' || n || '}', now()
        FROM merchants, generate_series(1, %s) AS n WHERE is_test
        """,
        (DELIVERIES,),
    )
    api = start_service("api", **env)
    first = start_service("webhook_dispatcher", API_URL=api.url, **env)

    def leased() -> int:
        return db.execute(
            "SELECT count(*) AS n FROM webhook_logs"
            " WHERE status = 'pending' AND next_retry_at > now() + interval '5 seconds'"
        ).fetchone()["n"]

    wait_until(leased, timeout=30)
    time.sleep(0.3)  # its first attempts are in flight at the slow receiver
    code, took = stop(first.process, timeout=20)

    assert code == 0
    assert took < 8, f"the dispatcher took {took:.1f} s to stop"
    assert leased() == 0, "deliveries left leased by a stopped dispatcher"
    errors = [
        line for line in first.log_path.read_text().splitlines() if '"level": "error"' in line
    ]
    assert errors == [], "a clean stop logs no error (its HTTP session is closed)"

    start_service("webhook_dispatcher", API_URL=api.url, **env)

    def all_delivered():
        """every delivery succeeded"""
        return (
            db.execute(
                "SELECT count(*) AS n FROM webhook_logs WHERE status = 'success'"
            ).fetchone()["n"]
            == DELIVERIES
        )

    wait_until(all_delivered, timeout=60, every=0.5)
    received = [event["webhook_id"] for event in receiver.events]
    assert len(received) == len(set(received)) == DELIVERIES, "a delivery was sent twice"
    attempts = db.execute(
        "SELECT count(*) AS n, count(DISTINCT webhook_log_id) AS logs FROM webhook_attempts"
    ).fetchone()
    assert attempts == {"n": DELIVERIES, "logs": DELIVERIES}


def test_payment_worker_under_load_stops_at_once_with_exit_code_0(start_service, db, private_redis):
    env = {"TEST_PROCESSING_DELAY": "200", "REDIS_URL": private_redis.url}
    api = start_service("api", **env)
    worker = start_service("payment_worker", API_URL=api.url, **env)
    stop_load = threading.Event()
    payment_ids: list[str] = []

    def load():
        with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=10) as http:
            while not stop_load.wait(0.05):
                order = http.post("/api/v1/orders", json={"amount": 10000}).json()
                body = {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
                payment_ids.append(http.post("/api/v1/payments", json=body).json()["id"])

    loader = threading.Thread(target=load)
    loader.start()
    try:

        def finalising():
            """the worker's tick is busy finalising"""
            return db.execute(
                "SELECT count(*) AS n FROM payments WHERE status = 'success'"
            ).fetchone()["n"]

        wait_until(finalising, timeout=30)
        time.sleep(2)  # well into a tick that would run for 10 s
        code, took = stop(worker.process, timeout=20)
    finally:
        stop_load.set()
        loader.join()

    assert code == 0
    assert took < 3, f"the worker took {took:.1f} s to stop"
    # Nothing half done: a payment is pending or final, with its events, never in between.
    start_service("payment_worker", API_URL=api.url, **env)

    def all_final():
        """every payment finalised after a restart"""
        return (
            db.execute(
                "SELECT count(*) AS n FROM payments WHERE id = ANY(%s) AND status = 'pending'",
                (payment_ids,),
            ).fetchone()["n"]
            == 0
        )

    wait_until(all_final, timeout=20, every=0.2)
    outcomes = db.execute(
        "SELECT count(*) AS n FROM webhook_logs WHERE event IN ('payment.success',"
        " 'payment.failed')"
    ).fetchone()
    assert outcomes["n"] in (0, len(payment_ids))  # events only where a webhook URL is set
