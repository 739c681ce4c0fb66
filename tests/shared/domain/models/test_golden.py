"""The resource models (shared.domain.models), and golden bytes: the webhook body of every
event type, and the API's response for every resource, built from fixed rows and compared
byte for byte (key order included) with files captured before the resources became typed
models (docs/webhooks.md#body: webhook bodies are signed as sent, so they never change shape). `GOLDEN_WRITE=1` rewrites the files: only
ever from code known to be right. `from_row` builds what pydantic's `model_construct` and
`model_validate` build, and `columns()` selects what `from_row` reads."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from factories import TEST_MERCHANT_HEADERS
from shared.domain import events
from shared.domain.models import (
    EVENT_TYPES,
    Event,
    MerchantCredentials,
    Order,
    Payment,
    PublicOrder,
    PublicPayment,
    Refund,
    Resource,
    WebhookEndpoint,
    WebhookLog,
)
from shared.domain.seed import TEST_MERCHANT_ID

GOLDEN = Path(__file__).parent / "golden"
CREATED = datetime(2026, 1, 15, 10, 30, 0, 123456, tzinfo=UTC)
UPDATED = datetime(2026, 1, 15, 10, 31, 10, 987000, tzinfo=UTC)
TIMESTAMP = 1768473070

ORDER = {
    "id": "order_NXhj67fGH2jk9mPq", "merchant_id": TEST_MERCHANT_ID, "amount": 50000,
    "currency": "INR", "receipt": "receipt_1", "notes": {"customer": "Asha Rao", "n": 1},
    "status": "paid", "created_at": CREATED, "updated_at": UPDATED,
}  # fmt: skip
PAYMENT = {
    "id": "pay_H8sK3jD9s2L1pQr7", "order_id": ORDER["id"], "merchant_id": TEST_MERCHANT_ID,
    "amount": 50000, "currency": "INR", "method": "card", "status": "success",
    "captured": True, "vpa": None, "card_network": "visa", "card_last4": "1111",
    "error_code": None, "error_description": None, "amount_refunded": 10000,
    "amount_refundable": 30000, "correlation_id": "req-1", "created_at": CREATED,
    "updated_at": UPDATED,
}  # fmt: skip
FAILED_PAYMENT = PAYMENT | {
    "id": "pay_Z8sK3jD9s2L1pQr0", "method": "upi", "status": "failed", "captured": False,
    "vpa": "asha.rao@okaxis", "card_network": None, "card_last4": None,
    "error_code": "BAD_REQUEST_ERROR", "error_description": "Payment declined by bank: ₹ limit",
    "amount_refunded": 0, "amount_refundable": 0,
}  # fmt: skip
REFUNDS = [
    {"id": "rfnd_K2mP9sQ4rT7vX1zB", "payment_id": PAYMENT["id"], "merchant_id": TEST_MERCHANT_ID,
     "amount": 10000, "reason": "Customer returned the \"item\"", "status": "processed",
     "correlation_id": "req-2", "created_at": CREATED, "updated_at": UPDATED,
     "processed_at": UPDATED},
    {"id": "rfnd_A2mP9sQ4rT7vX1zC", "payment_id": PAYMENT["id"], "merchant_id": TEST_MERCHANT_ID,
     "amount": 10000, "reason": None, "status": "pending", "correlation_id": None,
     "created_at": UPDATED, "updated_at": UPDATED, "processed_at": None},
]  # fmt: skip
ENDPOINT = {
    "id": "we_Q7sK2mP9xR4tV8wZ", "url": "https://fulfilment.example.com/webhooks",
    "events": ["payment.success", "refund.processed"], "description": "Fulfilment",
    "status": "disabled", "is_default": False, "secret": "whsec_x",
    "disabled_reason": "the endpoint answered 410 Gone", "created_at": CREATED,
    "updated_at": UPDATED,
}  # fmt: skip


EVENT = {
    "id": "0b7e4c1e-7b8f-4a4e-9d0c-3f1a2b3c4d5e", "merchant_id": TEST_MERCHANT_ID,
    "type": "payment.success", "correlation_id": "req-1", "object_id": PAYMENT["id"],
    "created_at": CREATED,
    "body": '{"event":"payment.success","timestamp":1768473070,"data":{"payment":{"id":"x"}}}',
}  # fmt: skip
LOG = {
    "id": "1c8e4c1e-7b8f-4a4e-9d0c-3f1a2b3c4d5f", "merchant_id": TEST_MERCHANT_ID,
    "event": "payment.success", "event_id": EVENT["id"], "endpoint_id": ENDPOINT["id"],
    "object_id": PAYMENT["id"], "payload": EVENT["body"], "status": "failed", "attempts": 1,
    "last_attempt_at": UPDATED, "next_retry_at": None, "response_code": 500,
    "created_at": CREATED, "updated_at": UPDATED,
}  # fmt: skip
ATTEMPT = {
    "webhook_log_id": LOG["id"], "attempt_number": 1, "scheduled_attempt": 1,
    "attempted_at": UPDATED, "duration_ms": 42, "response_code": 500,
    "response_body": "oops", "error": None,
}  # fmt: skip


def webhook_bodies() -> dict[str, str]:
    """Every event type's body, built the way the API and the workers build it."""

    def payment_resource(row: dict[str, Any]) -> dict[str, Any]:
        return Payment.from_row(row).model_dump()

    def refund_resource(row: dict[str, Any]) -> dict[str, Any]:
        return Refund.from_row(row).model_dump()

    data: dict[str, dict[str, Any]] = {
        "payment.created": {"payment": payment_resource(PAYMENT | {"status": "pending",
                            "captured": False, "amount_refunded": 0, "amount_refundable": 0})},
        "payment.success": {"payment": payment_resource(PAYMENT)},
        "payment.failed": {"payment": payment_resource(FAILED_PAYMENT)},
        "refund.created": {"refund": refund_resource(REFUNDS[1])},
        "refund.processed": {"refund": refund_resource(REFUNDS[0])},
        "webhook.test": {"message": "This is a test webhook from Payment Gateway",
                         "merchant_id": TEST_MERCHANT_ID},
        "webhook_endpoint.disabled": {"endpoint": WebhookEndpoint.from_row(ENDPOINT).model_dump(exclude={"secret"})},
    }  # fmt: skip
    data["payment.pending"] = data["payment.created"]
    return {event: events.event_body(event, value) for event, value in data.items()}


def check(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("GOLDEN_WRITE"):
        path.write_bytes(actual)
    assert actual == path.read_bytes(), name


def test_every_event_type_has_a_golden_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events.time, "time", lambda: TIMESTAMP + 0.75)
    bodies = webhook_bodies()
    assert sorted(bodies) == sorted(EVENT_TYPES)
    for event, body in bodies.items():
        check(f"webhook.{event}.json", body.encode())


def insert(db: psycopg.Connection, table: str, row: dict[str, Any]) -> None:
    row = {k: json.dumps(v) if k == "notes" else v for k, v in row.items()
           if k != "amount_refundable"} | ({"merchant_id": TEST_MERCHANT_ID} if table ==
           "webhook_endpoints" else {})  # fmt: skip
    columns = ", ".join(row)
    values = ", ".join(f"%({k})s" for k in row)
    db.execute(f"INSERT INTO {table} ({columns}) VALUES ({values})", row)


def test_api_responses_of_every_resource(client: TestClient, db: psycopg.Connection) -> None:
    insert(db, "orders", ORDER)
    insert(db, "orders", ORDER | {"id": "order_Zqhj67fGH2jk9mP0", "status": "attempted",
                                  "receipt": None, "notes": {}})  # fmt: skip
    insert(db, "payments", PAYMENT)
    insert(db, "payments", FAILED_PAYMENT | {"order_id": "order_Zqhj67fGH2jk9mP0"})
    for refund in REFUNDS:
        insert(db, "refunds", refund)
    insert(db, "webhook_endpoints", ENDPOINT)
    insert(db, "events", EVENT)
    insert(db, "webhook_logs", LOG)
    insert(db, "webhook_attempts", ATTEMPT)
    db.execute("UPDATE merchants SET created_at = %s WHERE id = %s", (CREATED, TEST_MERCHANT_ID))
    db.commit()
    login = {"email": "test@example.com", "password": "any password"}
    response = client.post("/api/v1/merchants/login", json=login)
    check("api.merchant.json", response.content)
    h = TEST_MERCHANT_HEADERS
    for name, path, headers in [
        ("order", f"/api/v1/orders/{ORDER['id']}", h),
        ("orders", "/api/v1/orders?limit=5", h),
        ("order.public", f"/api/v1/orders/{ORDER['id']}/public", {}),
        ("payment", f"/api/v1/payments/{PAYMENT['id']}", h),
        ("payments", "/api/v1/payments?limit=5", h),
        ("payment.public", f"/api/v1/payments/{FAILED_PAYMENT['id']}/public", {}),
        ("refund", f"/api/v1/refunds/{REFUNDS[0]['id']}", h),
        ("refunds", f"/api/v1/payments/{PAYMENT['id']}/refunds", h),
        ("event", f"/api/v1/events/{EVENT['id']}", h),
        ("events", "/api/v1/events", h),
        ("webhook_log", f"/api/v1/webhooks/{LOG['id']}", h),
        ("webhook_logs", "/api/v1/webhooks?limit=5", h),
        ("webhook_endpoint", f"/api/v1/webhooks/endpoints/{ENDPOINT['id']}", h),
        ("webhook_endpoints", "/api/v1/webhooks/endpoints", h),
    ]:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (name, response.text)
        check(f"api.{name}.json", response.content)


# --- the models' own mechanics --------------------------------------------------------------

MERCHANT = {
    "id": "550e8400-e29b-41d4-a716-446655440000", "name": "Asha", "email": "a@example.com",
    "api_key": "key_live_1", "api_secret": "secret_live_1", "webhook_secret": "whsec_1",
    "webhook_url": "", "created_at": CREATED,
}  # fmt: skip
ROWS: list[tuple[type[Resource], dict]] = [
    (Order, ORDER), (PublicOrder, ORDER | {"merchant_name": "Asha"}), (Payment, PAYMENT),
    (PublicPayment, PAYMENT), (Refund, REFUNDS[0]), (Refund, REFUNDS[1]), (Event, EVENT),
    (WebhookLog, LOG | {"last_error": None}), (WebhookEndpoint, ENDPOINT),
    (MerchantCredentials, MERCHANT),
]  # fmt: skip


@pytest.mark.parametrize(("model", "row"), ROWS)
def test_from_row_builds_what_pydantic_builds(model: type[Resource], row: dict) -> None:
    resource = model.from_row(row)
    values = resource.model_dump()
    constructed = model.model_construct(**values)
    assert resource == constructed == model.model_validate(values)
    assert resource.model_fields_set == constructed.model_fields_set
    assert resource.model_dump_json() == model.model_validate(values).model_dump_json()
    with pytest.raises(ValueError, match="frozen"):
        resource.id = "changed"  # type: ignore[misc]


def test_merchant_without_a_default_endpoint_shows_no_url() -> None:
    assert MerchantCredentials.from_row(MERCHANT).webhook_url is None


def test_columns_are_what_from_row_reads() -> None:
    assert Payment.columns(computed=False) == (
        "id, order_id, amount, currency, method, status, captured, vpa, card_network, "
        "card_last4, error_code, error_description, amount_refunded, created_at, updated_at, "
        "merchant_id, correlation_id"
    )
    assert "AS amount_refundable" in Payment.columns("p")
    assert WebhookEndpoint.columns().startswith("id, url, events, description, status, is_default,")
    assert Event.columns() == "id, type, created_at, body"
    with pytest.raises(KeyError):
        Refund.from_row({k: v for k, v in REFUNDS[0].items() if k != "processed_at"})
