import json
import re

import pytest

from factories import (
    TEST_CARDS,
    card_payment_body,
    create_order,
    create_payment,
    headers_for,
    sign_up,
    upi_payment_body,
)

CARD_NUMBER = TEST_CARDS["visa"]


def test_upi_payment_is_created_pending_with_order_amount(client, merchant_headers, db):
    order = create_order(client, merchant_headers, amount=75000)

    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    assert payment["id"].startswith("pay_") and len(payment["id"]) == 20
    assert payment["status"] == "pending"
    assert (payment["amount"], payment["currency"]) == (75000, "INR")
    assert (payment["method"], payment["vpa"]) == ("upi", "user@paytm")
    assert payment["captured"] is False and payment["amount_refunded"] == 0
    assert payment["error_code"] is None and payment["error_description"] is None
    order_status = db.execute("SELECT status FROM orders WHERE id = %s", (order["id"],)).fetchone()
    assert order_status["status"] == "attempted"


def test_payments_are_due_in_postgresql_and_the_api_queues_nothing(
    client, merchant_headers, redis, db
):
    from rq import Queue

    order = create_order(client, merchant_headers)
    for _ in range(3):
        create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    # PostgreSQL holds what is due and when; the commit's NOTIFY wakes the payment worker's
    # sweep, which queues the tick (tests/shared/backends/test_worker_wakeups.py): the API itself, nothing.
    assert Queue("payments", connection=redis).jobs == []
    due = db.execute("SELECT count(*) AS n FROM payments WHERE process_after <= now()").fetchone()
    assert due["n"] == 3  # the test settings use TEST_PROCESSING_DELAY=0


@pytest.mark.parametrize("network", ["visa", "mastercard", "amex", "rupay", "unknown"])
def test_card_network_detection(client, merchant_headers, network):
    order = create_order(client, merchant_headers)

    payment = create_payment(
        client, merchant_headers, card_payment_body(order["id"], number=TEST_CARDS[network])
    )

    assert payment["card_network"] == network
    assert payment["card_last4"] == TEST_CARDS[network][-4:]
    assert payment["vpa"] is None


def _holds_cvv(text: str, cvv: str) -> bool:
    """Whether JSON `text` carries `cvv` as a value (a string or a number) or a `cvv` key. Not
    a bare substring test: the digits turn up by chance in a timestamp's fraction or a random
    id (one run in about fifty)."""
    as_value = re.compile(rf'"{cvv}"|[:\[,]\s*{cvv}\s*[,\]}}]')
    return bool(as_value.search(text)) or "cvv" in text.lower()


def test_card_number_and_cvv_are_never_stored_or_returned(client, merchant_headers, db):
    order = create_order(client, merchant_headers)
    body = card_payment_body(order["id"], number="4111-1111 1111-1111", cvv="987")

    created = client.post("/api/v1/payments", json=body, headers=merchant_headers)
    fetched = client.get(f"/api/v1/payments/{created.json()['id']}", headers=merchant_headers)
    public = client.get(f"/api/v1/payments/{created.json()['id']}/public")

    for response in (created, fetched, public):
        assert CARD_NUMBER not in response.text and not _holds_cvv(response.text, "987")
    row = db.execute("SELECT * FROM payments WHERE id = %s", (created.json()["id"],)).fetchone()
    stored = json.dumps(row, default=str)
    assert CARD_NUMBER not in stored and not _holds_cvv(stored, "987")
    events = json.dumps(db.execute("SELECT * FROM webhook_logs").fetchall(), default=str)
    assert CARD_NUMBER not in events


@pytest.mark.parametrize("vpa", ["user@paytm", "first.last@okaxis", "a_b-c@ybl", "UPPER123@Bank9"])
def test_valid_vpas_are_accepted(client, merchant_headers, vpa):
    order = create_order(client, merchant_headers)
    assert (
        create_payment(client, merchant_headers, upi_payment_body(order["id"], vpa))["vpa"] == vpa
    )


@pytest.mark.parametrize(
    "vpa",
    [
        "userpaytm",
        "user@",
        "@paytm",
        "user@pay.tm",
        "us er@paytm",
        "user@paytm@x",
        "user@pay-tm",
        "",
    ],
)
def test_invalid_vpas_are_refused(client, merchant_headers, db, vpa):
    order = create_order(client, merchant_headers)

    response = client.post(
        "/api/v1/payments", json=upi_payment_body(order["id"], vpa), headers=merchant_headers
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "INVALID_VPA", "description": "VPA format invalid", "field": "vpa"}
    }
    assert db.execute("SELECT count(*) AS n FROM payments").fetchone()["n"] == 0


@pytest.mark.parametrize(
    "number",
    ["4111111111111112",  # Luhn fails
     "411111111111",  # 12 digits
     "41111111111111111111",  # 20 digits
     "4111abcd11111111",
     ""],
)  # fmt: skip
def test_invalid_card_numbers_are_refused(client, merchant_headers, number):
    order = create_order(client, merchant_headers)

    response = client.post(
        "/api/v1/payments",
        json=card_payment_body(order["id"], number=number),
        headers=merchant_headers,
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "INVALID_CARD",
            "description": "Card validation failed",
            "field": "card.number",  # docs/api.md#errors: the dotted path of the field at fault
        }
    }


@pytest.mark.parametrize("cvv", ["12", "12345", "abc"])
def test_invalid_cvv_is_invalid_card(client, merchant_headers, cvv):
    order = create_order(client, merchant_headers)
    response = client.post(
        "/api/v1/payments", json=card_payment_body(order["id"], cvv=cvv), headers=merchant_headers
    )
    assert response.json()["error"] == {
        "code": "INVALID_CARD",
        "description": "Card validation failed",
        "field": "card.cvv",
    }


@pytest.mark.parametrize(
    ("month", "year", "field"),
    [("01", "2020", "expiry_year"), ("13", "2035", "expiry_month"), ("0", "2035", "expiry_month"),
     ("12", "235", "expiry_year"), ("ab", "30", "expiry_month")],
)  # fmt: skip
def test_expired_or_invalid_expiry_is_refused(client, merchant_headers, month, year, field):
    order = create_order(client, merchant_headers)

    response = client.post(
        "/api/v1/payments",
        json=card_payment_body(order["id"], expiry_month=month, expiry_year=year),
        headers=merchant_headers,
    )

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "EXPIRED_CARD",
            "description": "Card expiry date invalid",
            "field": f"card.{field}",
        }
    }


def test_payment_for_unknown_order_is_not_found(client, merchant_headers):
    response = client.post(
        "/api/v1/payments",
        json=upi_payment_body("order_AAAAAAAAAAAAAAAA"),
        headers=merchant_headers,
    )
    assert response.status_code == 404
    assert response.json()["error"]["description"] == "Order not found"


def test_payment_for_another_merchants_order_is_not_found(client, merchant_headers):
    theirs = create_order(client, headers_for(sign_up(client)))

    response = client.post(
        "/api/v1/payments", json=upi_payment_body(theirs["id"]), headers=merchant_headers
    )

    assert response.status_code == 404
    assert response.json()["error"]["description"] == "Order not found"


@pytest.mark.parametrize("path", ["/api/v1/payments", "/api/v1/payments/public"])
def test_payment_for_paid_order_is_refused(client, merchant_headers, db, path):
    order = create_order(client, merchant_headers)
    db.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (order["id"],))

    response = client.post(path, json=upi_payment_body(order["id"]), headers=merchant_headers)

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "BAD_REQUEST_ERROR", "description": "Order already paid"}
    }
    assert db.execute("SELECT count(*) AS n FROM payments").fetchone()["n"] == 0


@pytest.mark.parametrize(
    "body",
    [{"method": "upi", "vpa": "a@b"},
     {"order_id": "order_AAAAAAAAAAAAAAAA", "method": "cash"},
     {"order_id": "order_AAAAAAAAAAAAAAAA", "method": "upi"},
     {"order_id": "order_AAAAAAAAAAAAAAAA", "method": "card"},
     {"order_id": "order_AAAAAAAAAAAAAAAA", "method": "card", "card": {"number": "4111111111111111"}},
     {"order_id": 5, "method": "upi", "vpa": "a@b"}],
)  # fmt: skip
def test_malformed_payment_bodies_are_bad_requests(client, merchant_headers, body):
    response = client.post("/api/v1/payments", json=body, headers=merchant_headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_public_payment_creation_and_status(client, merchant_headers):
    order = create_order(client, merchant_headers)

    created = client.post("/api/v1/payments/public", json=upi_payment_body(order["id"]))
    status = client.get(f"/api/v1/payments/{created.json()['id']}/public")

    assert created.status_code == 201 and created.json()["status"] == "pending"
    assert status.status_code == 200
    assert status.json() == {
        "id": created.json()["id"],
        "order_id": order["id"],
        "amount": 50000,
        "currency": "INR",
        "method": "upi",
        "status": "pending",
        "error_code": None,
        "error_description": None,
    }


def test_public_payment_applies_the_same_rules(client, merchant_headers):
    order = create_order(client, merchant_headers)

    bad_vpa = client.post("/api/v1/payments/public", json=upi_payment_body(order["id"], "bad"))
    bad_card = client.post(
        "/api/v1/payments/public", json=card_payment_body(order["id"], number="4111111111111112")
    )
    unknown = client.post(
        "/api/v1/payments/public", json=upi_payment_body("order_AAAAAAAAAAAAAAAA")
    )

    assert bad_vpa.json()["error"]["code"] == "INVALID_VPA"
    assert bad_card.json()["error"]["code"] == "INVALID_CARD"
    assert unknown.status_code == 404


def test_get_payment_scoped_to_merchant(client, merchant_headers):
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    other = headers_for(sign_up(client))

    mine = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant_headers)
    theirs = client.get(f"/api/v1/payments/{payment['id']}", headers=other)
    unknown = client.get("/api/v1/payments/pay_AAAAAAAAAAAAAAAA", headers=other)

    assert mine.status_code == 200 and mine.json() == payment
    assert theirs.status_code == unknown.status_code == 404
    assert (
        theirs.json()
        == unknown.json()
        == {"error": {"code": "NOT_FOUND_ERROR", "description": "Payment not found"}}
    )


def test_list_payments_filters_by_status(client, merchant_headers, db):
    order = create_order(client, merchant_headers)
    first = create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    second = create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    db.execute("UPDATE payments SET status = 'failed' WHERE id = %s", (first["id"],))

    everything = client.get("/api/v1/payments", headers=merchant_headers).json()
    failed = client.get("/api/v1/payments?status=failed", headers=merchant_headers).json()
    bad = client.get("/api/v1/payments?status=weird", headers=merchant_headers)

    assert [p["id"] for p in everything["data"]] == [second["id"], first["id"]]
    assert [p["id"] for p in failed["data"]] == [first["id"]] and failed["total"] == 1
    assert bad.status_code == 400


def test_payment_events_recorded_only_with_a_webhook_url(client, merchant_headers, db):
    order = create_order(client, merchant_headers)
    create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    assert db.execute("SELECT count(*) AS n FROM webhook_logs").fetchone()["n"] == 0

    db.execute("SELECT set_default_webhook_url(id, 'http://127.0.0.1:4000/webhook') FROM merchants")
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))

    logs = db.execute("SELECT event, payload, status FROM webhook_logs ORDER BY event").fetchall()
    assert [log["event"] for log in logs] == ["payment.created", "payment.pending"]
    body = json.loads(logs[0]["payload"])
    assert body["data"]["payment"]["id"] == payment["id"]
    assert logs[0]["payload"] == json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    assert all(log["status"] == "pending" for log in logs)


def test_payment_stats_from_real_data(client, merchant_headers, db):
    ids = [
        create_payment(
            client,
            merchant_headers,
            upi_payment_body(create_order(client, merchant_headers, amount=10000)["id"]),
        )["id"]
        for _ in range(4)
    ]
    db.execute("UPDATE payments SET status = 'success' WHERE id = ANY(%s)", (ids[:2],))
    db.execute("UPDATE payments SET status = 'failed' WHERE id = %s", (ids[2],))
    create_order(client, headers_for(sign_up(client)))

    stats = client.get("/api/v1/payments/stats", headers=merchant_headers).json()

    assert stats == {
        "total_transactions": 4,
        "successful_transactions": 2,
        "failed_transactions": 1,
        "total_amount": 20000,
        "refunded_amount": 0,
        "success_rate": 50.0,
    }
