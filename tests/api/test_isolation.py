"""A merchant never learns that another merchant's resource exists (docs/api.md#merchant-isolation):
for every merchant endpoint that takes an id, another merchant's id gets exactly the bytes an
unknown id gets, and changes nothing."""

import pytest

from factories import (
    create_order,
    create_payment,
    headers_for,
    sign_up,
    successful_payment,
    upi_payment_body,
)

# Well-formed ids that exist nowhere, and one that is not even an id.
UNKNOWN = {
    "order": "order_AAAAAAAAAAAAAAAA",
    "payment": "pay_AAAAAAAAAAAAAAAA",
    "refund": "rfnd_AAAAAAAAAAAAAAAA",
    "webhook": "7f0c2a52-7a61-4c52-9d7b-3a3f6a0f0e11",
}
MALFORMED = {"order": "order_x", "payment": "pay_x", "refund": "rfnd_x", "webhook": "not-a-uuid"}

# (method, path template, the kind of id it takes, body)
ENDPOINTS = [
    ("GET", "/api/v1/orders/{}", "order", None),
    ("GET", "/api/v1/payments/{}", "payment", None),
    ("POST", "/api/v1/payments/{}/capture", "payment", {}),
    ("POST", "/api/v1/payments/{}/refunds", "payment", {"amount": 100}),
    ("GET", "/api/v1/payments/{}/refunds", "payment", None),
    ("GET", "/api/v1/refunds/{}", "refund", None),
    ("GET", "/api/v1/webhooks/{}", "webhook", None),
    ("POST", "/api/v1/webhooks/{}/retry", "webhook", None),
    # A delivery's log id is its event's id.
    ("GET", "/api/v1/events/{}", "webhook", None),
    ("GET", "/api/v1/events/{}/delivery", "webhook", None),
]


@pytest.fixture
def foreign(client, db, merchant_headers, webhook_url) -> dict[str, str]:
    """Another merchant's order, successful payment, refund and webhook log; the test
    merchant has resources of its own too, so nothing is empty by accident."""
    successful_payment(client, merchant_headers, db)
    other = headers_for(sign_up(client))
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE NOT is_test", (webhook_url,)
    )
    payment = successful_payment(client, other, db)
    refund = client.post(
        f"/api/v1/payments/{payment['id']}/refunds", json={"amount": 100}, headers=other
    ).json()
    log = db.execute(
        "SELECT l.id::text AS id FROM webhook_logs l JOIN merchants m ON m.id = l.merchant_id"
        " WHERE NOT m.is_test LIMIT 1"
    ).fetchone()
    return {
        "order": payment["order_id"],
        "payment": payment["id"],
        "refund": refund["id"],
        "webhook": log["id"],
    }


def snapshot(db) -> list:
    return [
        db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        for table in ("orders", "payments", "refunds", "webhook_logs", "webhook_attempts")
    ]


def call(client, method, path, body, headers):
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "template", "kind", "body"), ENDPOINTS)
def test_another_merchants_id_answers_as_an_unknown_one(
    client, db, merchant_headers, foreign, method, template, kind, body
):
    before = snapshot(db)

    theirs = call(client, method, template.format(foreign[kind]), body, merchant_headers)
    unknown = call(client, method, template.format(UNKNOWN[kind]), body, merchant_headers)
    malformed = call(client, method, template.format(MALFORMED[kind]), body, merchant_headers)

    assert theirs.status_code == unknown.status_code == malformed.status_code == 404
    assert theirs.content == unknown.content == malformed.content
    assert theirs.headers["content-type"] == unknown.headers["content-type"]
    assert snapshot(db) == before, "another merchant's resource was changed"


@pytest.mark.parametrize("idempotency_key", [None, "isolation-key-1"])
def test_paying_another_merchants_order_answers_as_an_unknown_order(
    client, db, merchant_headers, foreign, idempotency_key
):
    headers = merchant_headers | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
    other_order = create_order(client, headers_for(sign_up(client, email="third@shop.test")))
    before = snapshot(db)

    theirs = client.post(
        "/api/v1/payments", json=upi_payment_body(other_order["id"]), headers=headers
    )
    unknown = client.post(
        "/api/v1/payments", json=upi_payment_body(UNKNOWN["order"]), headers=headers
    )

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.content == unknown.content
    assert snapshot(db) == before


def test_lists_show_only_the_merchants_own_resources(client, db, merchant_headers, foreign):
    own_payment = create_payment(
        client,
        merchant_headers,
        upi_payment_body(create_order(client, merchant_headers)["id"]),
    )

    for path in ("/api/v1/orders", "/api/v1/payments", "/api/v1/webhooks"):
        listed = client.get(path, headers=merchant_headers).json()
        ids = {item["id"] for item in listed["data"]}
        assert ids and not ids & set(foreign.values()), path
    assert own_payment["id"] in {
        p["id"] for p in client.get("/api/v1/payments", headers=merchant_headers).json()["data"]
    }
