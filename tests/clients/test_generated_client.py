"""The OpenAPI document is good enough for a generator: openapi-python-client builds a client
from it, and that client creates an order and pays it against the live API."""

import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api.config import ApiSettings
from api.main import create_app

DOCUMENT = create_app(
    ApiSettings(database_url="postgresql://unused", redis_url="redis://unused", log_level="error")
).openapi()
OPERATIONS = [
    (path, method, operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
]


def test_operation_ids_are_short_and_unique():
    ids = [operation["operationId"] for _, _, operation in OPERATIONS]
    assert len(ids) == len(set(ids))
    assert {"create_order", "create_payment", "capture_payment", "create_refund",
            "list_events", "get_event", "retry_webhook", "get_webhook_config"} <= set(ids)  # fmt: skip
    assert not [i for i in ids if "_api_v1_" in i]


def test_closed_sets_are_enums():
    schemas = DOCUMENT["components"]["schemas"]
    payment = schemas["Payment"]["properties"]
    assert payment["status"]["enum"] == ["pending", "success", "failed"]
    assert payment["method"]["enum"] == ["upi", "card"]
    assert ["visa", "mastercard", "amex", "rupay", "unknown"] in [
        option.get("enum") for option in payment["card_network"]["anyOf"]
    ]
    assert "payment.success" in schemas["WebhookLog"]["properties"]["event"]["enum"]
    assert "refund.processed" in schemas["Event"]["properties"]["type"]["enum"]
    assert schemas["Refund"]["properties"]["status"]["enum"] == ["pending", "processed", "failed"]


def test_every_schema_and_operation_has_examples():
    for name, schema in DOCUMENT["components"]["schemas"].items():
        assert schema.get("examples"), name
    for path, method, operation in OPERATIONS:
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        assert body is None or "example" in body, (method, path)
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            assert media is None or "example" in media or "examples" in media, (
                method,
                path,
                status,
            )


def test_response_headers_tags_servers():
    create_payment = DOCUMENT["paths"]["/api/v1/payments"]["post"]["responses"]
    assert "Idempotent-Replayed" in create_payment["201"]["headers"]
    assert "Retry-After" in create_payment["409"]["headers"]
    assert "Retry-After" in create_payment["503"]["headers"]
    assert all(
        "X-Request-Id" in r["headers"] for _, _, o in OPERATIONS for r in o["responses"].values()
    )
    assert {tag["name"] for tag in DOCUMENT["tags"]} >= {"orders", "payments", "events", "webhooks"}
    assert all(tag["description"] for tag in DOCUMENT["tags"])
    assert DOCUMENT["servers"][0]["url"]


def test_webhook_events_are_documented_with_payload_schemas():
    webhooks = DOCUMENT["webhooks"]
    assert set(webhooks) == {"payment.created", "payment.pending", "payment.success",
                             "payment.failed", "refund.created", "refund.processed",
                             "webhook.test", "webhook_endpoint.disabled"}  # fmt: skip
    success = webhooks["payment.success"]["post"]
    ref = success["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/PaymentEventBody")
    headers = {p["name"] for p in success["parameters"] if p["in"] == "header"}
    assert headers == {
        "X-Webhook-Signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }


@pytest.mark.slow
def test_a_generated_client_creates_a_paid_order(api_url, tmp_path):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(DOCUMENT))
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [str(generator), "generate", "--path", str(spec), "--meta", "none",
         "--output-path", str(tmp_path / "generated")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module("generated")
        create_order = importlib.import_module("generated.api.orders.create_order")
        create_payment = importlib.import_module("generated.api.payments.create_payment")
        get_payment = importlib.import_module("generated.api.payments.get_payment")
        models = importlib.import_module("generated.models")

        client = package.Client(
            base_url=api_url,
            headers={"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"},
        )
        order = create_order.sync(client=client, body=models.OrderCreate(amount=50000))
        assert isinstance(order, models.Order), order
        payment = create_payment.sync(
            client=client,
            body=models.PaymentCreate(
                order_id=order.id, method=models.PaymentCreateMethod.UPI, vpa="user@paytm"
            ),
        )
        assert isinstance(payment, models.Payment), payment
        deadline = time.monotonic() + 20
        while payment.status == models.PaymentStatus.PENDING and time.monotonic() < deadline:
            time.sleep(0.1)
            payment = get_payment.sync(client=client, payment_id=payment.id)
        assert payment.status == models.PaymentStatus.SUCCESS
        assert payment.order_id == order.id and payment.amount == 50000
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "generated" or m.startswith("generated.")]:
            del sys.modules[name]
