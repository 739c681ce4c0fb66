import threading
import time

import psycopg
import pytest

from factories import (
    card_payment_body,
    create_order,
    create_payment,
    events_of,
    upi_payment_body,
)
from payment_worker.tasks import decide_outcomes, finalize_due_batch, finalize_due_payments
from shared.backends.worker import runtime
from shared.domain.simulation import APPROVED, DECLINED

ALREADY_PAID = ("ORDER_ALREADY_PAID", "Order already paid")


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
    ids = [
        create_payment(
            client, merchant_headers, upi_payment_body(create_order(client, merchant_headers)["id"])
        )["id"]
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
    for _ in range(3):
        order = create_order(client, merchant_headers)
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


# One order, one successful payment (docs/api.md#one-successful-payment-per-order)


def _outcomes(db, payment_ids: list[str]) -> dict[str, tuple[str, str | None, str | None]]:
    rows = db.execute(
        "SELECT id, status, error_code, error_description FROM payments WHERE id = ANY(%s)",
        (payment_ids,),
    ).fetchall()
    return {r["id"]: (r["status"], r["error_code"], r["error_description"]) for r in rows}


def test_two_pending_payments_of_one_order_in_one_batch_succeed_once(
    client, merchant_headers, db, worker_env, webhook_url
):
    # The reported case: two UPI payments of an order of 50000 before the first finishes.
    order = create_order(client, merchant_headers, amount=50000)
    first, second = (
        create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
        for _ in range(2)
    )

    assert finalize_due_batch(runtime()) == 2

    outcomes = _outcomes(db, [first, second])
    assert outcomes[first] == ("success", None, None)  # the bank answered it first
    assert outcomes[second] == ("failed", *ALREADY_PAID)
    collected = db.execute(
        "SELECT coalesce(sum(amount), 0) AS s FROM payments WHERE status = 'success'"
    ).fetchone()["s"]
    assert collected == 50000
    assert (
        client.get(f"/api/v1/orders/{order['id']}", headers=merchant_headers).json()["status"]
        == "paid"
    )
    [failed] = events_of(db, "payment.failed")
    payment = failed["body"]["data"]["payment"]
    assert (payment["id"], payment["status"], payment["error_code"]) == (
        second, "failed", "ORDER_ALREADY_PAID"
    )  # fmt: skip
    assert payment["error_description"] == "Order already paid"
    assert len(events_of(db, "payment.success")) == 1
    public = client.get(f"/api/v1/payments/{second}/public").json()
    assert (public["error_code"], public["error_description"]) == ALREADY_PAID


def test_payment_pending_when_its_order_was_paid_earlier_fails_already_paid(
    client, merchant_headers, db, worker_env, webhook_url
):
    order = create_order(client, merchant_headers)
    first = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    second = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    db.execute(
        "UPDATE payments SET process_after = now() + interval '1 hour' WHERE id = %s", (second,)
    )
    assert finalize_due_batch(runtime()) == 1  # the first alone: success, order paid
    db.execute("UPDATE payments SET process_after = now() WHERE id = %s", (second,))

    assert finalize_due_batch(runtime()) == 1

    assert _outcomes(db, [first, second]) == {
        first: ("success", None, None), second: ("failed", *ALREADY_PAID)
    }  # fmt: skip
    refund = client.post(f"/api/v1/payments/{second}/refunds", headers=merchant_headers, json={})
    assert refund.status_code == 400
    capture = client.post(f"/api/v1/payments/{second}/capture", headers=merchant_headers)
    assert capture.status_code == 400


def test_batch_waits_for_another_workers_uncommitted_success_of_the_same_order(
    client, merchant_headers, db, database_url, worker_env, webhook_url
):
    # Worker A has finalised the first payment and marked the order paid, but not committed
    # yet; worker B's batch holds the second payment (SKIP LOCKED gave them different rows).
    order = create_order(client, merchant_headers)
    first = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    second = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    done: list[int] = []
    with psycopg.connect(database_url) as worker_a:
        worker_a.execute("SELECT 1 FROM payments WHERE id = %s FOR UPDATE", (first,))
        worker_a.execute("UPDATE payments SET status = 'success' WHERE id = %s", (first,))
        worker_a.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (order["id"],))
        worker_b = threading.Thread(target=lambda: done.append(finalize_due_batch(runtime())))
        worker_b.start()
        time.sleep(0.5)
        assert worker_b.is_alive(), "worker B decided without waiting for the order"
        worker_a.commit()
    worker_b.join(10)

    assert done == [1]
    assert _outcomes(db, [first, second])[second] == ("failed", *ALREADY_PAID)


def test_batch_succeeds_when_the_other_workers_transaction_rolls_back(
    client, merchant_headers, db, database_url, worker_env, webhook_url
):
    # Worker A dies mid-transaction: its success never happened, so B's payment may succeed.
    order = create_order(client, merchant_headers)
    first = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    second = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    done: list[int] = []
    with psycopg.connect(database_url) as worker_a:
        worker_a.execute("SELECT 1 FROM payments WHERE id = %s FOR UPDATE", (first,))
        worker_a.execute("UPDATE payments SET status = 'success' WHERE id = %s", (first,))
        worker_a.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (order["id"],))
        worker_b = threading.Thread(target=lambda: done.append(finalize_due_batch(runtime())))
        worker_b.start()
        time.sleep(0.3)
        worker_a.rollback()
    worker_b.join(10)

    assert done == [1]
    assert _outcomes(db, [second])[second] == ("success", None, None)
    finalize_due_batch(runtime())  # the first is due again: the order is paid now
    assert _outcomes(db, [first])[first] == ("failed", *ALREADY_PAID)


def test_order_with_a_success_but_not_marked_paid_does_not_block_the_batch(
    client, merchant_headers, db, worker_env, webhook_url
):
    # An order whose success is recorded but whose status was never set (data fixed by hand):
    # a second success would hit the unique index and fail every tick for every payment due.
    order = create_order(client, merchant_headers)
    first = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    second = create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
    other_order = create_order(client, merchant_headers)
    other = create_payment(client, merchant_headers, upi_payment_body(other_order["id"]))["id"]
    db.execute("UPDATE payments SET status = 'success' WHERE id = %s", (first,))

    assert finalize_due_batch(runtime()) == 2

    assert _outcomes(db, [second, other]) == {
        second: ("failed", *ALREADY_PAID), other: ("success", None, None)
    }  # fmt: skip


def test_declined_payment_leaves_the_order_to_the_next_approved_one():
    due = [
        {"id": "pay_1", "method": "card", "order_id": "order_a"},
        {"id": "pay_2", "method": "upi", "order_id": "order_a"},
        {"id": "pay_3", "method": "upi", "order_id": "order_a"},
        {"id": "pay_4", "method": "upi", "order_id": "order_b"},
    ]
    outcomes = decide_outcomes(
        due, {"order_b"}, lambda p: APPROVED if p["method"] == "upi" else DECLINED
    )

    assert [(o[0], o[1], o[2]) for o in outcomes] == [
        ("pay_1", "failed", "PAYMENT_FAILED"),
        ("pay_2", "success", None),
        ("pay_3", "failed", "ORDER_ALREADY_PAID"),
        ("pay_4", "failed", "ORDER_ALREADY_PAID"),
    ]


def test_database_refuses_a_second_successful_payment_of_an_order(client, merchant_headers, db):
    order = create_order(client, merchant_headers)
    first, second = (
        create_payment(client, merchant_headers, upi_payment_body(order["id"]))["id"]
        for _ in range(2)
    )
    db.execute("UPDATE payments SET status = 'success' WHERE id = %s", (first,))

    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("UPDATE payments SET status = 'success' WHERE id = %s", (second,))


@pytest.mark.parametrize("success_setting", ["true", "false"])
@pytest.mark.parametrize(
    ("body", "status", "error_code"),
    [
        (lambda order_id: upi_payment_body(order_id, "success@razorpay"), "success", None),
        (lambda order_id: upi_payment_body(order_id, "Failure@Razorpay"), "failed", "PAYMENT_FAILED"),
        (lambda order_id: card_payment_body(order_id, "4000 0000 0000 0002"), "failed", "CARD_DECLINED"),
        (lambda order_id: card_payment_body(order_id, "4000-0000-0000-9995"), "failed", "INSUFFICIENT_FUNDS"),
    ],
    ids=["success-vpa", "failure-vpa", "declined-card", "insufficient-funds-card"],
)  # fmt: skip
def test_test_values_answer_the_same_in_every_mode(
    client, merchant_headers, db, worker_env, webhook_url, success_setting, body, status, error_code
):
    worker_env.setenv("TEST_PAYMENT_SUCCESS", success_setting)
    runtime.cache_clear()
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, body(order["id"]))
    assert payment["status"] == "pending"

    assert finalize_due_payments() == 1

    stored = client.get(f"/api/v1/payments/{payment['id']}/public").json()
    assert (stored["status"], stored["error_code"]) == (status, error_code)
    assert (stored["error_description"] is None) == (error_code is None)
    event = "payment.success" if status == "success" else "payment.failed"
    assert [e["body"]["data"]["payment"]["id"] for e in events_of(db, event)] == [payment["id"]]


def test_test_card_outcome_is_stored_without_the_card_number(
    client, merchant_headers, db, worker_env
):
    order = create_order(client, merchant_headers)
    payment = create_payment(
        client, merchant_headers, card_payment_body(order["id"], "4000 0000 0000 0002")
    )

    row = db.execute("SELECT * FROM payments WHERE id = %s", (payment["id"],)).fetchone()
    assert row["test_outcome"] == "CARD_DECLINED" and row["card_last4"] == "0002"
    assert not any("4000000000000002" in str(value) for value in row.values())


def test_test_value_outcome_does_not_change_when_the_job_runs_again(
    client, merchant_headers, db, worker_env, webhook_url
):
    order = create_order(client, merchant_headers)
    payment = create_payment(
        client, merchant_headers, card_payment_body(order["id"], "4000000000009995")
    )
    finalize_due_payments()
    before = db.execute("SELECT status, error_code, updated_at FROM payments").fetchall()
    worker_env.setenv("TEST_PAYMENT_SUCCESS", "true")
    runtime.cache_clear()

    assert finalize_due_payments() == 0

    assert db.execute("SELECT status, error_code, updated_at FROM payments").fetchall() == before
    assert before[0]["error_code"] == "INSUFFICIENT_FUNDS"
    assert [e["body"]["data"]["payment"]["id"] for e in events_of(db, "payment.failed")] == [
        payment["id"]
    ]


def test_other_values_still_follow_the_mode(client, merchant_headers, worker_env, webhook_url):
    worker_env.setenv("TEST_PAYMENT_SUCCESS", "false")
    runtime.cache_clear()
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, card_payment_body(order["id"]))

    finalize_due_payments()

    stored = client.get(f"/api/v1/payments/{payment['id']}/public").json()
    assert (stored["status"], stored["error_code"]) == ("failed", "PAYMENT_FAILED")
