"""The payments service (api.payments.service) called as an endpoint would, without HTTP: a real
pool and Redis (the `api_runtime` fixture), the `db` connection for what it left behind."""

import pytest
from rq import Queue

from api.orders.errors import OrderAlreadyPaid, OrderNotFound
from api.payments import service
from api.payments.errors import (
    CaptureAmountMismatch,
    InvalidVpa,
    PaymentNotCapturable,
    PaymentNotFound,
)
from api.payments.schemas import CaptureRequest, PaymentCreate
from factories import (
    TEST_CARDS,
    card_payment_body,
    listening,
    other_merchant_id,
    service_order,
    service_payment,
    settle,
    upi_payment_body,
    without_key,
)
from shared.backends.due import due_channel
from shared.backends.queues import PAYMENTS_QUEUE, WEBHOOKS_QUEUE
from shared.domain.seed import TEST_MERCHANT_ID


def order_status(db, order_id: str) -> str:
    return db.execute("SELECT status FROM orders WHERE id = %s", (order_id,)).fetchone()["status"]


def payment_count(db) -> int:
    return db.execute("SELECT count(*) AS n FROM payments").fetchone()["n"]


# --- creating a payment for an order --------------------------------------------------------


def test_a_payment_is_created_pending_for_the_order_amount(api_runtime, db):
    order = service_order(api_runtime, amount=12345)

    payment = service_payment(api_runtime, order["id"])

    assert payment["id"].startswith("pay_")
    assert (payment["order_id"], payment["amount"], payment["currency"]) == (
        order["id"], 12345, "INR",
    )  # fmt: skip
    assert (payment["method"], payment["vpa"], payment["status"]) == (
        "upi",
        "user@paytm",
        "pending",
    )
    assert (payment["captured"], payment["amount_refunded"], payment["amount_refundable"]) == (
        False, 0, 0,
    )  # fmt: skip
    stored = db.execute("SELECT merchant_id, status FROM payments WHERE id = %s", (payment["id"],))
    assert {k: str(v) for k, v in stored.fetchone().items()} == {
        "merchant_id": TEST_MERCHANT_ID, "status": "pending",
    }  # fmt: skip
    assert order_status(db, order["id"]) == "attempted"


def test_a_card_payment_keeps_only_network_and_last_four(api_runtime, db):
    order = service_order(api_runtime)
    body = PaymentCreate.model_validate(card_payment_body(order["id"], TEST_CARDS["mastercard"]))

    payment = api_runtime.run(
        without_key(
            api_runtime.db,
            lambda tx: service.create_payment(api_runtime, tx, TEST_MERCHANT_ID, body),
        )
    ).model_dump()

    assert (payment["method"], payment["card_network"], payment["card_last4"]) == (
        "card", "mastercard", "4444",
    )  # fmt: skip
    assert payment["vpa"] is None


def test_the_checkout_path_pays_an_order_without_naming_its_merchant(api_runtime, db):
    order = service_order(api_runtime)

    payment = service_payment(api_runtime, order["id"], merchant_id=None)

    row = db.execute("SELECT merchant_id FROM payments WHERE id = %s", (payment["id"],)).fetchone()
    assert str(row["merchant_id"]) == TEST_MERCHANT_ID


def test_a_payment_wakes_the_worker_through_postgresql_not_redis(api_runtime, redis, database_url):
    """No Redis round trip per payment (docs/operations/scaling.md#due-work): its insert NOTIFYs on
    commit, and the payment worker's sweep, hearing it, queues a tick (shared.backends.worker)."""
    order = service_order(api_runtime)

    with listening(database_url, PAYMENTS_QUEUE, WEBHOOKS_QUEUE) as heard:
        service_payment(api_runtime, order["id"])
        channels = heard(0.5)

    assert channels == {due_channel(PAYMENTS_QUEUE)}  # no webhook URL: no delivery
    assert Queue(PAYMENTS_QUEUE, connection=redis).count == 0
    assert redis.keys("gateway:tick-queued:*") == []


def test_a_merchant_with_a_webhook_url_gets_created_and_pending_events(
    api_runtime, db, webhook_url, database_url
):
    order = service_order(api_runtime)

    with listening(database_url, WEBHOOKS_QUEUE) as heard:
        payment = service_payment(api_runtime, order["id"])
        channels = heard(0.5)

    rows = db.execute("SELECT event, payload::jsonb -> 'data' -> 'payment' ->> 'id' AS payment_id"
                      " FROM webhook_logs ORDER BY event").fetchall()  # fmt: skip
    assert rows == [
        {"event": "payment.created", "payment_id": payment["id"]},
        {"event": "payment.pending", "payment_id": payment["id"]},
    ]
    assert channels == {due_channel(WEBHOOKS_QUEUE)}


def test_a_paid_order_refuses_another_payment_and_nothing_is_written(api_runtime, db, redis):
    order = service_order(api_runtime)
    settle(db, service_payment(api_runtime, order["id"]))

    with pytest.raises(OrderAlreadyPaid) as refused:
        service_payment(api_runtime, order["id"])

    assert refused.value.description == "Order already paid"
    assert refused.value.status_code == 400
    assert payment_count(db) == 1 and order_status(db, order["id"]) == "paid"


@pytest.mark.parametrize(
    "order_id", ["order_AAAAAAAAAAAAAAAA", "order_x", "pay_AAAAAAAAAAAAAAAA", ""]
)
def test_an_unknown_or_malformed_order_is_not_found(api_runtime, db, order_id):
    with pytest.raises(OrderNotFound) as missing:
        service_payment(api_runtime, order_id)

    assert (missing.value.status_code, missing.value.description) == (404, "Order not found")
    assert payment_count(db) == 0


def test_another_merchants_order_is_not_found_and_left_untouched(api_runtime, db):
    order = service_order(api_runtime, merchant_id=other_merchant_id(api_runtime))

    with pytest.raises(OrderNotFound):
        service_payment(api_runtime, order["id"])

    assert payment_count(db) == 0 and order_status(db, order["id"]) == "created"


def test_an_invalid_instrument_is_refused_and_nothing_is_written(api_runtime, db):
    order = service_order(api_runtime)
    body = PaymentCreate.model_validate(upi_payment_body(order["id"], vpa="not a vpa"))

    with pytest.raises(InvalidVpa):
        api_runtime.run(
            without_key(
                api_runtime.db,
                lambda tx: service.create_payment(api_runtime, tx, TEST_MERCHANT_ID, body),
            )
        )

    assert payment_count(db) == 0 and order_status(db, order["id"]) == "created"


# --- capture rules ---------------------------------------------------------------------------


def capture(api_runtime, payment_id: str, amount: int | None = None, merchant_id=TEST_MERCHANT_ID):
    body = CaptureRequest.model_validate({} if amount is None else {"amount": amount})
    return api_runtime.run(
        without_key(
            api_runtime.db, lambda tx: service.capture_payment(tx, merchant_id, payment_id, body)
        )
    ).model_dump()


def test_a_successful_payment_is_captured_once(api_runtime, db):
    payment = settle(db, service_payment(api_runtime, service_order(api_runtime)["id"]))

    captured = capture(api_runtime, payment["id"])

    assert (captured["status"], captured["captured"]) == ("success", True)
    assert captured["amount_refundable"] == payment["amount"]
    with pytest.raises(PaymentNotCapturable) as again:
        capture(api_runtime, payment["id"])
    assert again.value.description == "Payment not in capturable state"


def test_a_capture_amount_must_equal_the_payment_amount(api_runtime, db):
    order = service_order(api_runtime, amount=50000)
    payment = settle(db, service_payment(api_runtime, order["id"]))

    with pytest.raises(CaptureAmountMismatch):
        capture(api_runtime, payment["id"], amount=49999)
    assert capture(api_runtime, payment["id"], amount=50000)["captured"] is True


@pytest.mark.parametrize("status", ["pending", "failed"])
def test_only_a_successful_payment_is_capturable(api_runtime, db, status):
    payment = settle(db, service_payment(api_runtime, service_order(api_runtime)["id"]), status)

    with pytest.raises(PaymentNotCapturable):
        capture(api_runtime, payment["id"])

    row = db.execute("SELECT captured FROM payments WHERE id = %s", (payment["id"],)).fetchone()
    assert row["captured"] is False


def test_another_merchants_payment_is_not_found_for_capture(api_runtime, db):
    payment = settle(db, service_payment(api_runtime, service_order(api_runtime)["id"]))

    with pytest.raises(PaymentNotFound):
        capture(api_runtime, payment["id"], merchant_id=other_merchant_id(api_runtime))
