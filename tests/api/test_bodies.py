"""Hostile bodies on every POST and PUT endpoint: over 64 KB (declared or streamed) they are
refused with 413 and the error body of docs/api.md#request-bodies; nested deeper than any parser
will go they are refused with 400; and nothing is created either way."""

import json

import pytest

from api.config import ApiSettings
from api.main import create_app
from factories import successful_payment

DOCUMENT = create_app(
    ApiSettings(database_url="postgresql://unused", redis_url="redis://unused", log_level="error")
).openapi()
WRITES = [
    (method.upper(), path, "requestBody" in operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in ("post", "put")
]
IDEMPOTENT = {
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
}
TOO_LARGE = {
    "error": {"code": "BAD_REQUEST_ERROR", "description": "Request body exceeds 65536 bytes"}
}
OVERSIZED = b'{"amount": 50000, "receipt": "' + b"x" * 70_000 + b'"}'
# Far past the JSON parser's recursion limit, yet only 20 KB.
DEEPLY_NESTED = b'{"amount": 50000, "notes": {"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}"


def test_every_write_endpoint_is_covered():
    assert len(WRITES) >= 11
    assert {("POST", "/api/v1/orders"), ("POST", "/api/v1/payments")} <= IDEMPOTENT


@pytest.fixture
def resources(client, db, merchant_headers, webhook_url) -> dict[str, str]:
    """Real ids for the paths, so a request the checks let through would do real work."""
    payment = successful_payment(client, merchant_headers, db)
    client.post("/api/v1/webhooks/test", headers=merchant_headers)
    log = db.execute("SELECT id::text FROM webhook_logs LIMIT 1").fetchone()
    endpoint = client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": "http://127.0.0.1:9/other", "events": ["refund.processed"]},
        headers=merchant_headers,
    )
    assert endpoint.status_code == 201, endpoint.text
    return {
        "payment_id": payment["id"],
        "webhook_id": log["id"],
        "endpoint_id": endpoint.json()["id"],
    }


def counts(db) -> dict:
    return db.execute(
        "SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM payments) AS payments,"
        " (SELECT count(*) FROM refunds) AS refunds, (SELECT count(*) FROM merchants) AS merchants,"
        " (SELECT count(*) FROM webhook_logs) AS logs,"
        " (SELECT count(*) FROM webhook_endpoints) AS endpoints,"
        " (SELECT count(*) FROM idempotency_keys) AS keys"
    ).fetchone()


def variants(method: str, path: str) -> list[dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if (method, path) in IDEMPOTENT:
        return [headers, headers | {"Idempotency-Key": f"hostile-{method}-{path}"}]
    return [headers]


def send(client, method, path, resources, headers, content):
    return client.request(method, path.format(**resources), content=content, headers=headers)


@pytest.mark.parametrize(("method", "path", "takes_body"), WRITES)
def test_oversized_bodies_are_refused_with_the_error_body(
    client, db, merchant_headers, resources, method, path, takes_body
):
    before = counts(db)
    for headers in variants(method, path):
        declared = send(client, method, path, resources, merchant_headers | headers, OVERSIZED)
        streamed = send(
            client, method, path, resources, merchant_headers | headers,
            iter([OVERSIZED[:40_000], OVERSIZED[40_000:]]),
        )  # fmt: skip

        for response in (declared, streamed):
            assert response.status_code == 413
            assert response.headers["content-type"] == "application/json"
            assert response.json() == TOO_LARGE
            assert response.content == json.dumps(TOO_LARGE, separators=(",", ":")).encode()
    assert counts(db) == before


@pytest.mark.parametrize(("method", "path", "takes_body"), WRITES)
def test_deeply_nested_bodies_are_refused_cleanly(
    client, db, merchant_headers, resources, method, path, takes_body
):
    before = counts(db)
    for headers in variants(method, path):
        response = send(client, method, path, resources, merchant_headers | headers, DEEPLY_NESTED)

        assert response.headers["content-type"] == "application/json"
        if takes_body:
            assert response.status_code == 400, response.text
            assert response.json() == {"error": {
                "code": "BAD_REQUEST_ERROR",
                "description": "Request body is not valid JSON: send a JSON body with"
                " Content-Type: application/json",
            }}  # fmt: skip
        else:  # the body is never read: the request is answered as if it had none
            assert response.status_code < 500, response.text
            assert set(response.json()) != {"detail"}
    if takes_body:
        assert counts(db) == before


@pytest.mark.parametrize(("method", "path", "takes_body"), [w for w in WRITES if w[2]])
@pytest.mark.parametrize(
    "content",
    [b"", b"null", b"[]", b'"text"', b"12", b"{", b"\xff\xfe{}", b"{}" * 1000, b"[" * 999],
)
def test_malformed_json_bodies_are_refused_with_the_error_body(
    client, db, merchant_headers, resources, method, path, takes_body, content
):
    # Capture's and refund's bodies are optional: none (empty, or JSON null) means {} (the
    # whole amount, docs/api.md#refunds); any other body that is not a JSON object is refused.
    no_body = content in (b"", b"null") and path.endswith(("/capture", "/refunds"))
    for headers in variants(method, path):
        response = send(client, method, path, resources, merchant_headers | headers, content)

        assert response.status_code in ((200, 201, 400) if no_body else (400,)), response.text
        assert response.headers["content-type"] == "application/json"
        if response.status_code == 400:
            assert set(response.json()) == {"error"}
            assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_notes_refuse_numbers_json_cannot_carry(client, db, merchant_headers, value):
    """Python's JSON parser reads them; jsonb cannot store them."""
    body = b'{"amount": 50000, "notes": {"n": ' + value + b"}}"
    headers = merchant_headers | {"Content-Type": "application/json"}

    response = client.post("/api/v1/orders", content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


# JSON leaves a repeated key undefined, and Python's parser keeps the last value: the order
# would be for ₹50,000 after a check that read ₹1.
DUPLICATED_AMOUNT = b'{"amount": 100, "amount": 5000000}'


@pytest.mark.parametrize(("method", "path", "takes_body"), [w for w in WRITES if w[2]])
def test_a_body_with_a_duplicated_key_is_refused_naming_it(
    client, db, merchant_headers, resources, method, path, takes_body
):
    before = counts(db)
    for headers in variants(method, path):
        response = send(
            client, method, path, resources, merchant_headers | headers, DUPLICATED_AMOUNT
        )

        assert response.status_code == 400, response.text
        assert response.json() == {"error": {
            "code": "BAD_REQUEST_ERROR",
            "description": "amount is given more than once: send each key once",
            "field": "amount",
        }}  # fmt: skip
    assert counts(db) == before


@pytest.mark.parametrize(
    ("content", "field", "description"),
    [
        (b'{"order_id": "o", "method": "card", "card": {"cvv": "123", "cvv": "999"}}',
         "card.cvv", "card.cvv is given more than once: send each key once"),
        (b'{"amount": 5000, "notes": {"a": [{"x": 1}, {"k": 1, "k": 2}]}}',
         "notes.a.1.k", "notes.a.1.k is given more than once: send each key once"),
        (b'{"amount": 5000, "notes": {"my key": 1, "my key": 2}}',
         "notes", "notes has a key given more than once: send each key once"),
    ],
)  # fmt: skip
def test_a_duplicated_key_at_any_depth_is_refused(
    client, db, merchant_headers, content, field, description
):
    """Named by its dotted path, up to a key that is no field name (never echoed back)."""
    path = "/api/v1/payments" if b"card" in content else "/api/v1/orders"
    headers = merchant_headers | {"Content-Type": "application/json"}

    response = client.post(path, content=content, headers=headers)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR", "description": description, "field": field,
    }  # fmt: skip
    assert db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 0


def test_the_same_key_in_two_objects_is_no_duplicate(client, merchant_headers):
    content = b'{"amount": 5000, "notes": {"amount": 1}}'
    headers = merchant_headers | {"Content-Type": "application/json"}

    response = client.post("/api/v1/orders", content=content, headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["amount"] == 5000
