"""Migration 013: the plain SHA-256 request hashes that card payments' idempotency keys kept
(searchable for the card's number and CVV) are overwritten; other keys keep theirs."""

import psycopg

from shared.backends.migrations import apply_migrations

MERCHANT = "550e8400-e29b-41d4-a716-446655440000"


def test_card_payments_plain_hashes_are_overwritten_and_others_kept(scratch_database):
    url = scratch_database("_m013", before="013")
    rows = [  # key, path, response body
        ("card", "/api/v1/payments", b'{"id":"pay_A","method":"card","card_last4":"1111"}'),
        ("upi", "/api/v1/payments", b'{"id":"pay_B","method":"upi","vpa":"a@b"}'),
        ("order", "/api/v1/orders", b'{"id":"order_C","amount":50000}'),
        ("running", "/api/v1/payments", None),
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO merchants (id, name, email, api_key, api_secret, webhook_secret)"
            " VALUES (%s, 'M', 'm@example.com', 'k', 's', 'w') ON CONFLICT DO NOTHING",
            (MERCHANT,),
        )
        for key, path, response in rows:
            conn.execute(
                "INSERT INTO idempotency_keys (merchant_id, key, request_method, request_path,"
                " request_hash, response_status, response_body, expires_at)"
                " VALUES (%s, %s, 'POST', %s, %s, %s, %s, now() + interval '1 day')",
                (MERCHANT, key, path, "a" * 64, 201 if response else None, response),
            )

    assert "013_retire_card_request_hashes" in apply_migrations(url)

    with psycopg.connect(url) as conn:
        hashes = dict(conn.execute("SELECT key, request_hash FROM idempotency_keys").fetchall())
    assert hashes["card"].startswith("retired")
    assert hashes["upi"] == hashes["order"] == hashes["running"] == "a" * 64
