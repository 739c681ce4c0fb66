import pytest

from factories import create_order, headers_for, sign_up, upi_payment_body


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
