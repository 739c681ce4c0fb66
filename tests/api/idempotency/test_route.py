import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from api.config import ApiSettings
from api.idempotency.dependency import fingerprint
from api.main import create_app
from factories import (
    TEST_CARDS,
    card_payment_body,
    create_order,
    headers_for,
    sign_up,
    successful_payment,
    upi_payment_body,
)


def post(client, path, body, headers, key):
    return client.post(path, json=body, headers=headers | {"Idempotency-Key": key})


def test_same_request_replays_the_first_response_byte_for_byte(client, merchant_headers, db):
    first = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "key-1")
    again = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "key-1")

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 1


def test_same_json_in_another_spacing_is_the_same_request(client, merchant_headers):
    headers = merchant_headers | {"Idempotency-Key": "key-2", "Content-Type": "application/json"}
    first = client.post("/api/v1/orders", content=b'{"amount":5000,"receipt":"a"}', headers=headers)
    again = client.post(
        "/api/v1/orders", content=b'{ "receipt": "a", "amount": 5000 }', headers=headers
    )
    assert again.content == first.content


def test_replayed_payment_creates_no_new_payment_job_or_event(
    client, merchant_headers, db, redis, webhook_url
):
    order = create_order(client, merchant_headers)
    body = upi_payment_body(order["id"])
    first = post(client, "/api/v1/payments", body, merchant_headers, "pay-key")
    events = db.execute("SELECT count(*) AS n FROM webhook_logs").fetchone()["n"]
    redis.flushdb()

    again = post(client, "/api/v1/payments", body, merchant_headers, "pay-key")

    assert again.content == first.content
    assert db.execute("SELECT count(*) AS n FROM payments").fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM webhook_logs").fetchone()["n"] == events
    assert redis.keys("rq:job:*") == []


def test_different_body_is_a_mismatch(client, merchant_headers, db):
    post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "key-3")

    response = post(client, "/api/v1/orders", {"amount": 6000}, merchant_headers, "key-3")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_MISMATCH"
    assert db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 1


def test_different_endpoint_is_a_mismatch(client, merchant_headers):
    order = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "key-4").json()

    response = post(
        client, "/api/v1/payments", upi_payment_body(order["id"]), merchant_headers, "key-4"
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_MISMATCH"


def test_failed_validation_is_not_cached(client, merchant_headers, db):
    bad = post(client, "/api/v1/orders", {"amount": 50}, merchant_headers, "key-5")
    fixed = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "key-5")

    assert bad.status_code == 400 and fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


def test_domain_errors_are_not_cached_and_leave_nothing(client, merchant_headers, db):
    order = create_order(client, merchant_headers)
    bad = post(
        client, "/api/v1/payments", upi_payment_body(order["id"], "bad"), merchant_headers, "k6"
    )
    good = post(client, "/api/v1/payments", upi_payment_body(order["id"]), merchant_headers, "k6")

    assert bad.json()["error"]["code"] == "INVALID_VPA"
    assert good.status_code == 201


def test_keys_are_scoped_to_the_merchant(client, merchant_headers, db):
    other = headers_for(sign_up(client))
    mine = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "shared-key")
    theirs = post(client, "/api/v1/orders", {"amount": 5000}, other, "shared-key")

    assert theirs.status_code == 201 and theirs.json()["id"] != mine.json()["id"]


def test_expired_key_is_a_new_request(client, merchant_headers, db):
    first = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "old-key")
    db.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")

    again = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "old-key")

    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in again.headers


def test_key_held_by_a_running_request_is_a_conflict(client, merchant_headers, db, database_url):
    import psycopg

    # Another request holds the key: its row is claimed in a transaction that has not committed.
    with psycopg.connect(database_url) as holder:
        holder.execute(
            "INSERT INTO idempotency_keys (merchant_id, key, request_method, request_path,"
            " request_hash, expires_at) VALUES ('550e8400-e29b-41d4-a716-446655440000', 'busy',"
            " 'POST', '/api/v1/orders', 'x', now() + interval '1 day')"
        )
        response = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, "busy")
        holder.rollback()

    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "CONFLICT_ERROR"


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_malformed_keys_are_refused(client, merchant_headers, key):
    response = post(client, "/api/v1/orders", {"amount": 5000}, merchant_headers, key)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "Idempotency-Key must be 1 to 255 printable characters",
        "field": "Idempotency-Key",
    }


def test_idempotency_needs_valid_credentials(client):
    response = client.post(
        "/api/v1/orders",
        json={"amount": 5000},
        headers={"Idempotency-Key": "k", "X-Api-Key": "nope"},
    )
    assert response.status_code == 401


def test_public_payments_ignore_the_header(client, merchant_headers):
    order = create_order(client, merchant_headers)
    response = client.post(
        "/api/v1/payments/public",
        json=upi_payment_body(order["id"]),
        headers={"Idempotency-Key": "k"},
    )
    assert response.status_code == 201


# --- every merchant POST of the OpenAPI document -------------------------------------------

DOCUMENT = create_app(
    ApiSettings(database_url="postgresql://unused", redis_url="redis://unused", log_level="error")
).openapi()
MERCHANT_POSTS = [
    path
    for path, item in DOCUMENT["paths"].items()
    if "post" in item and item["post"].get("security")
]
ID_IN_TEXT = re.compile(r"\{(\w+_id)\}")


def new_ids(client, db, headers) -> dict[str, Callable[[], str]]:
    """How to make a new object of the test merchant's for each kind of id a path or a body
    names (`{payment_id}`, `"order_id"`): a route with a new kind of id teaches it here."""

    def order_id() -> str:
        return create_order(client, headers)["id"]

    def payment_id() -> str:  # a success payment of 50000 paise, not captured
        return successful_payment(client, headers, db)["id"]

    def webhook_id() -> str:
        response = client.post("/api/v1/webhooks/test", headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def endpoint_id() -> str:
        response = client.post(
            "/api/v1/webhooks/endpoints",
            json={"url": "http://127.0.0.1:9/other", "events": ["refund.processed"]},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return {
        "order_id": order_id,
        "payment_id": payment_id,
        "webhook_id": webhook_id,
        "endpoint_id": endpoint_id,
    }


def snapshot(db) -> dict[str, str]:
    """A digest of every row of every table: a replay may neither add nor change one."""
    tables = [
        row["table_name"]
        for row in db.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
    ]
    return {
        table: db.execute(
            "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)),"
            f" '') AS digest FROM {table} t"
        ).fetchone()["digest"]
        for table in tables
    }


def test_the_walk_finds_every_merchant_post():
    assert {
        "/api/v1/orders",
        "/api/v1/payments",
        "/api/v1/payments/{payment_id}/capture",
        "/api/v1/payments/{payment_id}/refunds",
        "/api/v1/merchants/rotate-api-secret",
        "/api/v1/webhooks/config/rotate-secret",
        "/api/v1/webhooks/test",
        "/api/v1/webhooks/{webhook_id}/retry",
        "/api/v1/webhooks/endpoints",
        "/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret",
        "/api/v1/webhooks/endpoints/{endpoint_id}/recover",
    } <= set(MERCHANT_POSTS)


@pytest.mark.parametrize("path", MERCHANT_POSTS)
def test_every_merchant_post_replays_its_first_response(
    path, client, merchant_headers, db, redis, webhook_url
):
    """The document's own example body, its ids (path and body) made new for the test merchant;
    the same key and body again is the first response byte for byte, and nothing new."""
    operation = DOCUMENT["paths"][path]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    makers = new_ids(client, db, merchant_headers)
    unknown = set(ID_IN_TEXT.findall(path)) - makers.keys()
    assert not unknown, f"teach new_ids() to make a {unknown}"
    url = path.format(**{name: makers[name]() for name in ID_IN_TEXT.findall(path)})
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    body = content.get("example")
    if isinstance(body, dict):
        body = {
            field: makers[field]() if field in makers else value for field, value in body.items()
        }
    if isinstance(body, dict):
        # A time in an example goes stale (recovery looks back at most 30 days): the last hour.
        now = datetime.now(UTC)
        times = {"since": now - timedelta(hours=1), "until": now}
        body = {
            field: times[field].isoformat() if field in times else value
            for field, value in body.items()
        }
    if body is not None and body.get("method") == "upi":
        body.pop("card", None)
    headers = merchant_headers | {"Idempotency-Key": f"walk {path}"}

    first = client.post(url, json=body, headers=headers)
    assert 200 <= first.status_code < 300, first.text
    before = snapshot(db)
    redis.flushdb()
    again = client.post(url, json=body, headers=headers)

    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert snapshot(db) == before
    assert redis.keys("rq:*") == []


def test_a_card_payments_key_keeps_no_plain_hash_of_its_number_and_cvv(
    client, merchant_headers, db
):
    # A plain SHA-256 of the body gave the card back to anyone who reads the table: the
    # payment shows the last four digits, which leaves about 10^15 numbers and CVVs to try.
    # The stored hash is scrypt salted with the merchant and the key (docs/idempotency.md).
    order = create_order(client, merchant_headers)
    body = card_payment_body(order["id"], cvv="123")
    assert post(client, "/api/v1/payments", body, merchant_headers, "card-key").status_code == 201
    (stored,) = db.execute("SELECT merchant_id, request_hash FROM idempotency_keys").fetchall()

    message = (
        b"POST /api/v1/payments\n"
        + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    )
    assert hashlib.sha256(message).hexdigest() != stored["request_hash"]
    salt = f"{stored['merchant_id']}\ncard-key".encode()
    scrypt = hashlib.scrypt(message, salt=salt, n=2**10, r=8, p=1, dklen=32)
    assert scrypt.hex() == stored["request_hash"]
    # Another key, the same body: another salt, another hash, so no search serves two rows.
    assert asyncio.run(fingerprint("POST", "/api/v1/payments", json.dumps(body).encode(),
                                   f"{stored['merchant_id']}\nother".encode())) != scrypt.hex()  # fmt: skip


def test_a_card_retry_replays_and_any_other_card_detail_is_a_mismatch(client, merchant_headers, db):
    order = create_order(client, merchant_headers)
    body = card_payment_body(order["id"], cvv="123")
    first = post(client, "/api/v1/payments", body, merchant_headers, "card-retry")
    again = post(client, "/api/v1/payments", body, merchant_headers, "card-retry")
    assert again.status_code == 201 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"

    # Another body is a mismatch (docs/idempotency.md#a-different-request), the card's middle
    # digits and CVV too.
    for change in ({"cvv": "321"}, {"number": "4000 0000 0000 1111"},
                   {"number": TEST_CARDS["mastercard"]}, {"expiry_year": "2036"}):  # fmt: skip
        other = body | {"card": {**body["card"], **change}}
        response = post(client, "/api/v1/payments", other, merchant_headers, "card-retry")
        assert response.status_code == 422, change
        assert response.json()["error"]["code"] == "IDEMPOTENCY_KEY_MISMATCH"
    assert db.execute("SELECT count(*) AS n FROM payments").fetchone()["n"] == 1
