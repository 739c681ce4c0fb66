import pytest

from factories import (
    DIRECTION_CONTROLS,
    TEXTS_WITHOUT_CONTROLS,
    create_order,
    headers_for,
    shown_text_refusal,
    sign_up,
)

TEST_MERCHANT_ID = "550e8400-e29b-41d4-a716-446655440000"


def test_create_order_returns_contract_body(client, merchant_headers, db):
    response = client.post(
        "/api/v1/orders",
        json={"amount": 50000, "currency": "INR", "receipt": "r1", "notes": {"k": "v"}},
        headers=merchant_headers,
    )

    assert response.status_code == 201
    order = response.json()
    assert order["id"].startswith("order_") and len(order["id"]) == len("order_") + 16
    assert order["id"][6:].isalnum() and order["id"][6:].isascii()
    assert order["merchant_id"] == TEST_MERCHANT_ID
    assert (order["amount"], order["currency"], order["receipt"]) == (50000, "INR", "r1")
    assert order["notes"] == {"k": "v"} and order["status"] == "created"
    assert order["created_at"].endswith("Z")
    stored = db.execute("SELECT amount, status FROM orders WHERE id = %s", (order["id"],))
    assert stored.fetchone() == {"amount": 50000, "status": "created"}


def test_currency_defaults_to_inr(client, merchant_headers):
    response = client.post("/api/v1/orders", json={"amount": 100}, headers=merchant_headers)
    assert response.status_code == 201
    assert response.json()["currency"] == "INR"


@pytest.mark.parametrize("amount", [99, 0, -5])
def test_amount_below_minimum_is_refused(client, merchant_headers, amount):
    response = client.post("/api/v1/orders", json={"amount": amount}, headers=merchant_headers)

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "amount must be at least 100",
            "field": "amount",
        }
    }


@pytest.mark.parametrize(
    "body",
    [{}, {"amount": "50000"}, {"amount": 500.5}, {"amount": True}, {"amount": 500, "currency": "USD"},
     {"amount": 500, "notes": ["x"]}, {"amount": 500, "receipt": "r" * 41},
     {"amount": None}, {"amount": 50000.0}, {"amount": 5e4}, {"amount": False}, {"amount": ""},
     {"amount": [50000]}, {"amount": {"value": 50000}}, {"amount": 50000, "currency": None}],
)  # fmt: skip
def test_invalid_order_bodies_are_bad_requests(client, merchant_headers, db, body):
    response = client.post("/api/v1/orders", json=body, headers=merchant_headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_a_receipt_or_note_with_a_direction_control_is_refused_and_no_order_is_made(
    client, merchant_headers, db
):
    """A receipt and notes are shown on the dashboard and sent in every webhook as typed: the
    invisible controls that reorder text are refused in the receipt, a note's key and a note's
    string value, naming the field, and no order is made. Right-to-left text and emoji
    joiners are not controls."""
    for control in DIRECTION_CONTROLS:
        for body, refused in (
            ({"receipt": f"{control}1-tpiecer"}, shown_text_refusal("receipt")),
            ({"notes": {f"{control}remotsuc": "Asha"}}, shown_text_refusal("notes", "notes keys")),
            ({"notes": {"customer": f"{control}ahsA"}}, shown_text_refusal("notes.customer")),
        ):
            response = client.post(
                "/api/v1/orders", json={"amount": 50000} | body, headers=merchant_headers
            )
            assert response.status_code == 400, (hex(ord(control)), body, response.text)
            assert response.json()["error"] == refused
    assert db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0

    for text in TEXTS_WITHOUT_CONTROLS:
        order = create_order(client, merchant_headers, receipt=text, notes={text: text})
        assert (order["receipt"], order["notes"]) == (text, {text: text})


def test_get_order_includes_updated_at(client, merchant_headers):
    order = create_order(client, merchant_headers)

    response = client.get(f"/api/v1/orders/{order['id']}", headers=merchant_headers)

    assert response.status_code == 200
    assert response.json()["id"] == order["id"]
    assert response.json()["updated_at"].endswith("Z")


def test_unknown_order_is_not_found(client, merchant_headers):
    response = client.get("/api/v1/orders/order_AAAAAAAAAAAAAAAA", headers=merchant_headers)

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "NOT_FOUND_ERROR", "description": "Order not found"}
    }


def test_another_merchants_order_is_not_found(client, merchant_headers):
    theirs = create_order(client, headers_for(sign_up(client)))

    mine = client.get(f"/api/v1/orders/{theirs['id']}", headers=merchant_headers)
    unknown = client.get("/api/v1/orders/order_AAAAAAAAAAAAAAAA", headers=merchant_headers)

    assert mine.status_code == unknown.status_code == 404
    assert mine.json() == unknown.json()


def test_list_orders_is_newest_first_and_paginated(client, merchant_headers):
    ids = [create_order(client, merchant_headers, receipt=f"r{i}")["id"] for i in range(3)]
    create_order(client, headers_for(sign_up(client)))

    first = client.get("/api/v1/orders?limit=2", headers=merchant_headers).json()
    second = client.get("/api/v1/orders?limit=2&offset=2", headers=merchant_headers).json()

    assert [o["id"] for o in first["data"]] == ids[::-1][:2]
    assert [o["id"] for o in second["data"]] == ids[::-1][2:]
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=abc"])
def test_list_rejects_bad_pagination(client, merchant_headers, query):
    response = client.get(f"/api/v1/orders?{query}", headers=merchant_headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_public_order_needs_no_credentials(client, merchant_headers):
    order = create_order(client, merchant_headers, amount=12345)

    response = client.get(f"/api/v1/orders/{order['id']}/public")

    assert response.status_code == 200
    assert response.json() == {
        "id": order["id"],
        "amount": 12345,
        "currency": "INR",
        "status": "created",
        "merchant_name": "Test Merchant",
    }


def test_public_order_unknown_is_not_found(client):
    response = client.get("/api/v1/orders/order_AAAAAAAAAAAAAAAA/public")
    assert response.status_code == 404
    assert response.json()["error"]["description"] == "Order not found"


def test_totals_beyond_ten_thousand_are_estimates(client, merchant_headers, db):
    db.execute(
        "INSERT INTO orders (id, merchant_id, amount)"
        " SELECT 'order_' || lpad(n::text, 16, '0'), '550e8400-e29b-41d4-a716-446655440000', 100"
        " FROM generate_series(1, 10050) AS n"
    )
    db.execute("ANALYZE orders")

    page = client.get("/api/v1/orders?limit=2", headers=merchant_headers).json()

    assert page["total_is_estimate"] is True
    assert 10_001 <= page["total"] <= 12_000  # the planner's estimate, at least what was counted
    assert len(page["data"]) == 2


def test_totals_up_to_ten_thousand_are_exact(client, merchant_headers):
    create_order(client, merchant_headers)
    page = client.get("/api/v1/orders", headers=merchant_headers).json()
    assert (page["total"], page["total_is_estimate"]) == (1, False)


def test_list_orders_filters_by_status(client, merchant_headers, db):
    older = create_order(client, merchant_headers)
    paid = create_order(client, merchant_headers)
    newer = create_order(client, merchant_headers)
    db.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (paid["id"],))

    def listed(status: str) -> dict:
        response = client.get(f"/api/v1/orders?status={status}", headers=merchant_headers)
        assert response.status_code == 200, response.text
        return response.json()

    created, paid_only = listed("created"), listed("paid")
    assert [o["id"] for o in created["data"]] == [newer["id"], older["id"]]
    assert created["total"] == 2
    assert [o["id"] for o in paid_only["data"]] == [paid["id"]] and paid_only["total"] == 1


def test_an_unknown_order_status_is_refused_naming_the_field(client, merchant_headers):
    response = client.get("/api/v1/orders?status=shipped", headers=merchant_headers)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("BAD_REQUEST_ERROR", "status")
    assert error["description"] == "status must be 'created' or 'paid'"


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_note_too_large_for_a_number_says_it_must_be_finite(client, merchant_headers, number):
    """Reported: a note of 1e999 (JSON's way past the largest double: infinity) answered
    "notes.a must be a string", though strings are one of four kinds a note takes; the
    number is at fault for not being finite."""
    body = '{"amount": 50000, "notes": {"a": ' + number + "}}"

    response = client.post(
        "/api/v1/orders",
        content=body,
        headers=merchant_headers | {"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "notes.a must be a finite number",
        "field": "notes.a",
    }
