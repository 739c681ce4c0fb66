"""An order is paid once, whatever the concurrency (docs/api.md#one-successful-payment-per-order):
parallel payment attempts for one order through the merchant and the public endpoint, two API
processes, and three payment-worker processes finalising them."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from factories import TEST_MERCHANT_HEADERS

pytestmark = pytest.mark.slow

ORDERS = 8
ATTEMPTS = 5
TIMEOUT_S = 60


def test_parallel_payments_of_one_order_collect_its_amount_once(start_service, db, webhook_url):
    # Two API processes whose simulated bank answers at different delays, so the payments of
    # one order fall due at different moments and land in different workers' batches too.
    apis = [
        start_service("api", TEST_PROCESSING_DELAY="800"),
        start_service("api", TEST_PROCESSING_DELAY="1500"),
    ]
    for _ in range(3):
        start_service("payment_worker", API_URL=apis[0].url)
    with httpx.Client(headers=TEST_MERCHANT_HEADERS, timeout=30) as http:
        orders = [
            http.post(f"{apis[0].url}/api/v1/orders", json={"amount": 50000}).json()
            for _ in range(ORDERS)
        ]

        def attempt(job: tuple[int, int]) -> tuple[str, httpx.Response]:
            number, attempt_number = job
            order_id = orders[number]["id"]
            api = apis[(number + attempt_number) % 2].url
            body = {"order_id": order_id, "method": "upi", "vpa": f"shopper{attempt_number}@upi"}
            if attempt_number % 2:  # the checkout page's endpoint, no credentials
                return order_id, httpx.post(f"{api}/api/v1/payments/public", json=body, timeout=30)
            return order_id, http.post(f"{api}/api/v1/payments", json=body)

        jobs = [(n, a) for n in range(ORDERS) for a in range(ATTEMPTS)]
        with ThreadPoolExecutor(ATTEMPTS * 2) as pool:
            answers = list(pool.map(attempt, jobs))

    created = {}
    for order_id, response in answers:
        if response.status_code == 201:
            created[response.json()["id"]] = order_id
        else:  # the order was paid before this attempt reached the database
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
            assert response.json()["error"]["description"] == "Order already paid"
    # Most attempts of an order are pending together: that is the race this test is about.
    assert len(created) > ORDERS * 2

    deadline = time.monotonic() + TIMEOUT_S
    while db.execute("SELECT count(*) AS n FROM payments WHERE status = 'pending'").fetchone()["n"]:
        assert time.monotonic() < deadline, "payments still pending"
        time.sleep(0.2)

    payments = db.execute(
        "SELECT id, order_id, amount, status, error_code, error_description FROM payments"
    ).fetchall()
    assert {p["id"] for p in payments} == set(created)
    for order in orders:
        of_order = [p for p in payments if p["order_id"] == order["id"]]
        successes = [p for p in of_order if p["status"] == "success"]
        assert len(successes) == 1, f"{order['id']}: {of_order}"
        assert sum(p["amount"] for p in successes) <= order["amount"]
        assert all(
            (p["error_code"], p["error_description"]) == ("ORDER_ALREADY_PAID", "Order already paid")
            for p in of_order if p["status"] == "failed"
        ), of_order  # fmt: skip
    assert {o["status"] for o in db.execute("SELECT status FROM orders").fetchall()} == {"paid"}
    failed_events = db.execute(
        "SELECT payload::jsonb -> 'data' -> 'payment' AS p FROM webhook_logs"
        " WHERE event = 'payment.failed'"
    ).fetchall()
    failed = {p["id"] for p in payments if p["status"] == "failed"}
    assert {e["p"]["id"] for e in failed_events} == failed and len(failed_events) == len(failed)
    assert {(e["p"]["error_code"], e["p"]["error_description"]) for e in failed_events} <= {
        ("ORDER_ALREADY_PAID", "Order already paid")
    }
