import threading

from factories import create_order, create_payment, events_of, upi_payment_body
from payment_worker.tasks import finalize_due_batch, finalize_due_payments
from shared.worker import runtime


def test_due_payment_succeeds_and_marks_order_paid(
    client, merchant_headers, db, worker_env, webhook_url
):
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    assert finalize_due_payments() == 1

    stored = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant_headers).json()
    assert stored["status"] == "success" and stored["error_code"] is None
    assert (
        client.get(f"/api/v1/orders/{order['id']}", headers=merchant_headers).json()["status"]
        == "paid"
    )
    success = events_of(db, "payment.success")
    assert len(success) == 1 and success[0]["body"]["data"]["payment"]["status"] == "success"


def test_declined_payment_fails_with_payment_failed(
    client, merchant_headers, db, worker_env, webhook_url
):
    worker_env.setenv("TEST_PAYMENT_SUCCESS", "false")
    runtime.cache_clear()
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    finalize_due_payments()

    stored = client.get(f"/api/v1/payments/{payment['id']}/public").json()
    assert stored["status"] == "failed" and stored["error_code"] == "PAYMENT_FAILED"
    assert stored["error_description"]
    assert (
        client.get(f"/api/v1/orders/{order['id']}", headers=merchant_headers).json()["status"]
        == "attempted"
    )
    assert [e["event"] for e in events_of(db, "payment.failed")] == ["payment.failed"]


def test_payment_not_yet_due_is_left_pending(client, merchant_headers, db, worker_env):
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    db.execute("UPDATE payments SET process_after = now() + interval '1 hour'")

    assert finalize_due_batch(runtime()) == 0

    assert client.get(f"/api/v1/payments/{payment['id']}/public").json()["status"] == "pending"


def test_concurrent_jobs_finalize_each_payment_once(
    client, merchant_headers, db, worker_env, webhook_url
):
    order = create_order(client, merchant_headers)
    ids = [
        create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
        for _ in range(60)
    ]
    current = runtime()
    done: list[int] = []

    def run() -> None:
        done.append(finalize_due_batch(current))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(done) == 60
    outcomes = db.execute(
        "SELECT count(*) AS n FROM webhook_logs WHERE event IN ('payment.success', 'payment.failed')"
    ).fetchone()
    assert outcomes["n"] == 60
    statuses = db.execute(
        "SELECT DISTINCT status FROM payments WHERE id = ANY(%s)", (ids,)
    ).fetchall()
    assert statuses == [{"status": "success"}]


def test_running_the_job_again_changes_nothing(
    client, merchant_headers, db, worker_env, webhook_url
):
    order = create_order(client, merchant_headers)
    create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    finalize_due_payments()
    before = db.execute("SELECT id, status, updated_at FROM payments").fetchall()

    assert finalize_due_payments() == 0

    assert db.execute("SELECT id, status, updated_at FROM payments").fetchall() == before
    assert len(events_of(db, "payment.success")) == 1


def test_job_counts_completed_items(client, merchant_headers, worker_env, redis):
    order = create_order(client, merchant_headers)
    for _ in range(3):
        create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    finalize_due_payments()

    status = client.get("/api/v1/test/jobs/status").json()
    assert status["queues"]["payments"]["completed"] == 3
    assert status["completed"] >= 3 and status["pending"] == 0


def test_jobs_and_items_are_counted_for_prometheus(client, merchant_headers, worker_env):
    from prometheus_client import REGISTRY

    def sample(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    jobs_before = sample("gateway_jobs_total", queue="payments", outcome="completed")
    items_before = sample("gateway_work_items_total", queue="payments")
    order = create_order(client, merchant_headers)
    create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    finalize_due_payments()

    assert sample("gateway_jobs_total", queue="payments", outcome="completed") == jobs_before + 1
    assert sample("gateway_work_items_total", queue="payments") == items_before + 1
