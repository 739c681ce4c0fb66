import pytest

from factories import (
    create_order,
    create_payment,
    headers_for,
    sign_up,
    successful_payment,
    upi_payment_body,
)


def capture(client, headers, payment_id, **body):
    return client.post(f"/api/v1/payments/{payment_id}/capture", json=body or None, headers=headers)


def test_capture_successful_payment(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)

    response = capture(client, merchant_headers, payment["id"], amount=payment["amount"])

    assert response.status_code == 200
    assert response.json()["captured"] is True and response.json()["status"] == "success"


def test_capture_without_body(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)
    assert capture(client, merchant_headers, payment["id"]).json()["captured"] is True


@pytest.mark.parametrize("state", ["pending", "failed", "captured"])
def test_only_uncaptured_successful_payments_capture(client, merchant_headers, db, state):
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    if state == "failed":
        db.execute("UPDATE payments SET status = 'failed'")
    if state == "captured":
        db.execute("UPDATE payments SET status = 'success', captured = true")

    response = capture(client, merchant_headers, payment["id"])

    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "BAD_REQUEST_ERROR", "description": "Payment not in capturable state"}
    }


def test_capture_amount_must_equal_payment(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db, amount=50000)

    response = capture(client, merchant_headers, payment["id"], amount=40000)

    assert response.status_code == 400
    # Reported: no `field`, though the amount is the one field at fault (contract 4).
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "Capture amount must equal the payment amount",
        "field": "amount",
    }
    assert db.execute("SELECT captured FROM payments").fetchone()["captured"] is False


@pytest.mark.parametrize("amount", [None, "50000", 50000.0, True, [50000]])
def test_capture_amount_when_given_must_be_an_integer(client, merchant_headers, db, amount):
    # Like a refund's: an explicit null is not "no amount" (it was captured, 200).
    payment = successful_payment(client, merchant_headers, db, amount=50000)

    response = client.post(
        f"/api/v1/payments/{payment['id']}/capture",
        json={"amount": amount},
        headers=merchant_headers,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert db.execute("SELECT captured FROM payments").fetchone()["captured"] is False


def test_capture_with_an_empty_object(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)
    response = client.post(
        f"/api/v1/payments/{payment['id']}/capture", json={}, headers=merchant_headers
    )
    assert response.status_code == 200 and response.json()["captured"] is True


def test_capture_unknown_or_foreign_payment_is_404(client, merchant_headers, db):
    payment = successful_payment(client, merchant_headers, db)
    other = headers_for(sign_up(client))

    assert capture(client, other, payment["id"]).status_code == 404
    assert capture(client, merchant_headers, "pay_AAAAAAAAAAAAAAAA").json()["error"][
        "description"
    ] == ("Payment not found")
