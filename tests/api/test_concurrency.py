"""Concurrent requests against a real API process."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from factories import TEST_MERCHANT_HEADERS

pytestmark = pytest.mark.slow


def test_twenty_simultaneous_partial_refunds_never_exceed_the_payment(start_service, db):
    api = start_service("api")
    with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=30) as http:
        order = http.post("/api/v1/orders", json={"amount": 10000}).json()
        body = {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
        payment = http.post("/api/v1/payments", json=body).json()
        db.execute("UPDATE payments SET status = 'success' WHERE id = %s", (payment["id"],))

        def refund(_: int) -> int:
            path = f"/api/v1/payments/{payment['id']}/refunds"
            return http.post(path, json={"amount": 700}).status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(refund, range(20)))

    assert statuses.count(201) == 14  # 14 x 700 = 9800 <= 10000 < 15 x 700
    assert statuses.count(400) == 6
    total = db.execute("SELECT sum(amount) AS s FROM refunds").fetchone()["s"]
    assert total == 9800


def test_fifty_simultaneous_identical_requests_create_one_payment(start_service, db):
    api = start_service("api")
    with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=30) as http:
        order = http.post("/api/v1/orders", json={"amount": 10000}).json()
        body = {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}

        def pay(_: int) -> httpx.Response:
            return http.post("/api/v1/payments", json=body, headers={"Idempotency-Key": "once"})

        with ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(pay, range(50)))

    created = [r for r in responses if r.status_code == 201]
    conflicts = [r for r in responses if r.status_code == 409]
    assert len(created) + len(conflicts) == 50
    assert len({r.json()["id"] for r in created}) == 1
    assert all(r.headers["retry-after"] == "1" for r in conflicts)
    assert db.execute("SELECT count(*) AS n FROM payments").fetchone()["n"] == 1
