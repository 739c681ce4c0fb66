"""A failed authentication never tells whether the key (or the email) exists: an unknown key
and a known key with a wrong secret get the same status and the same bytes."""

import pytest

from factories import create_order, headers_for, sign_up

KNOWN_KEY = "key_test_abc123"
AUTH_ERROR = b'{"error":{"code":"AUTHENTICATION_ERROR","description":"Invalid API credentials"}}'
# A header left out (or empty) is named in `field`, whatever the key: that reveals nothing.
MISSING_ERROR = (
    b'{"error":{"code":"AUTHENTICATION_ERROR","description":"Invalid API credentials",'
    b'"field":"%s"}}'
)

# Every way to get credentials wrong, with the unknown-key case first.
WRONG_CREDENTIALS = {
    "unknown key": {"X-Api-Key": "key_test_nobody000", "X-Api-Secret": "secret_test_xyz789"},
    "known key, wrong secret": {"X-Api-Key": KNOWN_KEY, "X-Api-Secret": "secret_test_xyz780"},
    "known key, another merchant's secret": {"X-Api-Key": KNOWN_KEY},  # filled in below
    "known key, empty secret": {"X-Api-Key": KNOWN_KEY, "X-Api-Secret": ""},
    "known key, no secret": {"X-Api-Key": KNOWN_KEY},
    "no key, right secret": {"X-Api-Secret": "secret_test_xyz789"},
    "secret as key": {"X-Api-Key": "secret_test_xyz789", "X-Api-Secret": "secret_test_xyz789"},
    "key in other case": {"X-Api-Key": KNOWN_KEY.upper(), "X-Api-Secret": "secret_test_xyz789"},
    "nothing": {},
}

# (method, path, body) of merchant endpoints, GETs and POSTs, idempotent or not.
ENDPOINTS = [
    ("GET", "/api/v1/orders", None),
    ("POST", "/api/v1/orders", {"amount": 50000}),
    ("GET", "/api/v1/payments/pay_AAAAAAAAAAAAAAAA", None),
    ("POST", "/api/v1/payments", {"order_id": "order_AAAAAAAAAAAAAAAA", "method": "upi",
                                  "vpa": "user@paytm"}),
    ("GET", "/api/v1/webhooks/config", None),
    ("POST", "/api/v1/webhooks/config/rotate-secret", None),
]  # fmt: skip


@pytest.fixture
def wrong_credentials(client, db) -> dict[str, dict[str, str]]:
    other = sign_up(client)
    credentials = dict(WRONG_CREDENTIALS)
    credentials["known key, another merchant's secret"] = {
        "X-Api-Key": KNOWN_KEY,
        "X-Api-Secret": other["api_secret"],
    }
    return credentials


@pytest.mark.parametrize("idempotency_key", [None, "auth-probe-1"])
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_wrong_credential_gets_the_same_answer(
    client, db, wrong_credentials, method, path, body, idempotency_key
):
    extra = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    orders_before = db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"]

    answers = {
        name: client.request(method, path, json=body, headers=headers | extra)
        for name, headers in wrong_credentials.items()
    }

    for name, response in answers.items():
        headers = wrong_credentials[name]
        missing = next((h for h in ("X-Api-Key", "X-Api-Secret") if not headers.get(h)), None)
        assert response.status_code == 401, name
        expected = MISSING_ERROR % missing.encode() if missing else AUTH_ERROR
        assert response.content == expected, name
        assert response.headers["content-type"] == "application/json", name
    assert db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == orders_before


def test_a_merchants_own_key_and_secret_still_work(client, db, merchant_headers):
    other = sign_up(client)

    assert client.get("/api/v1/orders", headers=merchant_headers).status_code == 200
    create_order(client, headers_for(other))


def test_login_does_not_tell_whether_the_email_exists(client, db):
    merchant = sign_up(client, email="known@shop.test", password="the right one")

    unknown = client.post(
        "/api/v1/merchants/login", json={"email": "nobody@shop.test", "password": "whatever1"}
    )
    wrong = client.post(
        "/api/v1/merchants/login", json={"email": merchant["email"], "password": "whatever1"}
    )
    right = client.post(
        "/api/v1/merchants/login", json={"email": merchant["email"], "password": "the right one"}
    )

    assert unknown.status_code == wrong.status_code == 401
    assert unknown.content == wrong.content
    assert right.status_code == 200


def test_credentials_are_not_accepted_from_the_query_string(client, db):
    response = client.get(
        "/api/v1/orders", params={"X-Api-Key": KNOWN_KEY, "X-Api-Secret": "secret_test_xyz789"}
    )
    assert response.status_code == 401 and response.content == MISSING_ERROR % b"X-Api-Key"
