import pytest

from factories import (
    DIRECTION_CONTROLS,
    TEXTS_WITHOUT_CONTROLS,
    create_order,
    create_payment,
    headers_for,
    shown_text_refusal,
    sign_up,
    successful_payment,
    upi_payment_body,
)


def refund(client, headers, payment_id, **body):
    return client.post(f"/api/v1/payments/{payment_id}/refunds", json=body, headers=headers)


def test_create_refund_returns_pending_refund(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)

    response = refund(
        client, merchant_headers, payment["id"], amount=10000, reason="Customer request"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("rfnd_") and len(body["id"]) == 21
    assert (body["payment_id"], body["amount"], body["reason"], body["status"]) == (
        payment["id"], 10000, "Customer request", "pending",
    )  # fmt: skip
    assert body["created_at"].endswith("Z")


def test_a_reason_with_a_direction_control_is_refused_and_no_refund_is_made(
    client, merchant_headers, db
):
    """A refund's reason is shown on the dashboard and sent in webhooks as typed: the invisible
    controls that reorder text are refused, naming `reason`, and nothing is refunded.
    Right-to-left text and emoji joiners are not controls."""
    payment = successful_payment(client, merchant_headers, db, amount=50000)

    for control in DIRECTION_CONTROLS:
        response = refund(
            client, merchant_headers, payment["id"], amount=100, reason=f"{control}tseuqer"
        )
        assert response.status_code == 400, (hex(ord(control)), response.text)
        assert response.json()["error"] == shown_text_refusal("reason")
    assert db.execute("SELECT count(*) AS n FROM refunds").fetchone()["n"] == 0

    for text in TEXTS_WITHOUT_CONTROLS:
        response = refund(client, merchant_headers, payment["id"], amount=100, reason=text)
        assert response.status_code == 201, response.text
        assert response.json()["reason"] == text


def test_refund_without_amount_refunds_what_is_left(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db, amount=50000)
    refund(client, merchant_headers, payment["id"], amount=20000)

    response = refund(client, merchant_headers, payment["id"])

    assert response.status_code == 201 and response.json()["amount"] == 30000


def test_a_refund_without_a_body_refunds_the_whole_amount(client, merchant_headers, db):
    # As capture: a bare POST (curl -X POST) is `{}`, not "Request body is missing".
    payment = successful_payment(client, merchant_headers, db, amount=50000)

    response = client.post(f"/api/v1/payments/{payment['id']}/refunds", headers=merchant_headers)

    assert response.status_code == 201, response.text
    assert response.json()["amount"] == 50000


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_only_successful_payments_refund(client, merchant_headers, db, status):
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    db.execute("UPDATE payments SET status = %s", (status,))

    response = refund(client, merchant_headers, payment["id"], amount=100)

    assert response.status_code == 400
    assert response.json()["error"]["description"] == "Payment not in refundable state"


def test_refund_beyond_available_amount_is_refused(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db, amount=50000)
    assert refund(client, merchant_headers, payment["id"], amount=30000).status_code == 201

    response = refund(client, merchant_headers, payment["id"], amount=20001)

    assert response.status_code == 400
    # Reported: no `field`, though the amount given is the one field at fault (contract 4).
    assert response.json() == {
        "error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "Refund amount exceeds available amount",
            "field": "amount",
        }
    }


# docs/api.md#refunds: left out refunds what is left; anything given must be a positive integer.
# 100.0 too: JSON has no integer type of its own, and a client sending 100.0 computes amounts
# in floating point (Stripe refuses it as well).
NOT_A_REFUND_AMOUNT = [None, 0, -100, "100", "", 10.5, 100.0, 1e3, True, False, [], {}, [100]]


@pytest.mark.parametrize("amount", NOT_A_REFUND_AMOUNT)
def test_refund_amount_must_be_a_positive_integer(client, merchant_headers, db, amount):
    payment = successful_payment(client, merchant_headers, db)
    response = refund(client, merchant_headers, payment["id"], amount=amount)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert db.execute("SELECT count(*) AS n FROM refunds").fetchone()["n"] == 0


def test_explicit_null_amount_refunds_nothing(client, merchant_headers, db):
    # Reported: {"amount": null} was taken as "refund what is left" (201, the full amount).
    payment = successful_payment(client, merchant_headers, db, amount=50000)

    response = refund(client, merchant_headers, payment["id"], amount=None)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert "amount" in response.json()["error"]["description"]
    assert db.execute("SELECT count(*) AS n FROM refunds").fetchone()["n"] == 0
    left = refund(client, merchant_headers, payment["id"])  # leaving it out still means all
    assert left.status_code == 201 and left.json()["amount"] == 50000


def test_refund_amount_is_documented_as_an_integer_never_null(client):
    schema = client.get("/openapi.json").json()["components"]["schemas"]["RefundCreate"]
    amount = schema["properties"]["amount"]
    assert (amount["type"], amount["exclusiveMinimum"]) == ("integer", 0)
    assert "anyOf" not in amount and "amount" not in schema.get("required", [])


def test_refund_of_a_fully_refunded_payment_without_amount_is_refused(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db, amount=50000)
    assert refund(client, merchant_headers, payment["id"]).status_code == 201

    response = refund(client, merchant_headers, payment["id"])

    assert response.status_code == 400
    assert response.json()["error"]["description"] == "Refund amount exceeds available amount"
    assert "field" not in response.json()["error"]  # no field was given: the payment is at fault


def test_refunds_of_unknown_or_foreign_payments_are_404(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)
    other = headers_for(sign_up(client))

    assert refund(client, other, payment["id"], amount=100).status_code == 404
    assert client.get(f"/api/v1/payments/{payment['id']}/refunds", headers=other).status_code == 404
    assert refund(client, merchant_headers, "pay_AAAAAAAAAAAAAAAA", amount=100).status_code == 404


def test_get_and_list_refunds(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)
    first = refund(client, merchant_headers, payment["id"], amount=100).json()
    second = refund(client, merchant_headers, payment["id"], amount=200).json()

    fetched = client.get(f"/api/v1/refunds/{first['id']}", headers=merchant_headers)
    listed = client.get(
        f"/api/v1/payments/{payment['id']}/refunds", headers=merchant_headers
    ).json()

    assert fetched.status_code == 200 and fetched.json()["processed_at"] is None
    assert [r["id"] for r in listed["data"]] == [second["id"], first["id"]] and listed["total"] == 2


def test_foreign_refund_is_404(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)
    created = refund(client, merchant_headers, payment["id"], amount=100).json()
    other = headers_for(sign_up(client))

    theirs = client.get(f"/api/v1/refunds/{created['id']}", headers=other)
    unknown = client.get("/api/v1/refunds/rfnd_AAAAAAAAAAAAAAAA", headers=other)

    assert theirs.status_code == unknown.status_code == 404
    assert (
        theirs.json()
        == unknown.json()
        == {"error": {"code": "NOT_FOUND_ERROR", "description": "Refund not found"}}
    )


def test_payment_carries_amount_refundable_less_pending_and_processed_refunds(
    client, merchant_headers, db
):
    payment = successful_payment(client, merchant_headers, db, amount=50000)
    pending = create_payment(
        client,
        merchant_headers,
        upi_payment_body(create_order(client, merchant_headers, amount=20000)["id"]),
    )
    refund(client, merchant_headers, payment["id"], amount=20000)
    processed = refund(client, merchant_headers, payment["id"], amount=5000).json()
    failed = refund(client, merchant_headers, payment["id"], amount=1000).json()
    db.execute(
        "UPDATE refunds SET status = 'processed', processed_at = now() WHERE id = %s",
        (processed["id"],),
    )
    db.execute("UPDATE refunds SET status = 'failed' WHERE id = %s", (failed["id"],))

    fetched = client.get(f"/api/v1/payments/{payment['id']}", headers=merchant_headers).json()
    listed = client.get("/api/v1/payments", headers=merchant_headers).json()["data"]

    assert fetched["amount_refundable"] == 50000 - 20000 - 5000
    assert {p["id"]: p["amount_refundable"] for p in listed} == {
        payment["id"]: 25000,
        pending["id"]: 0,
    }
    assert pending["amount_refundable"] == 0
