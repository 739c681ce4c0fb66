import pytest

from factories import create_order, headers_for, sign_up


def test_sign_up_returns_new_live_credentials(client, db):
    merchant = sign_up(client, email="New@Shop.test")

    assert merchant["api_key"].startswith("key_live_")
    assert merchant["api_secret"].startswith("secret_live_")
    assert merchant["webhook_secret"].startswith("whsec_")
    assert {"id", "name", "email"} <= merchant.keys()
    stored = db.execute(
        "SELECT password_hash FROM merchants WHERE id = %s", (merchant["id"],)
    ).fetchone()
    assert stored["password_hash"].startswith("scrypt$")
    assert "correct horse" not in stored["password_hash"]


def test_new_merchant_keys_work(client):
    merchant = sign_up(client)
    create_order(client, headers_for(merchant))


def test_duplicate_email_conflicts_case_insensitively(client):
    sign_up(client, email="owner@acme.test")

    response = client.post(
        "/api/v1/merchants",
        json={"name": "Other", "email": "OWNER@acme.test", "password": "another pass"},
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT_ERROR"


@pytest.mark.parametrize(
    "body",
    [{"name": "A", "email": "not-an-email", "password": "long enough"},
     {"name": "A", "email": "a@b.test", "password": "short"},
     {"name": "", "email": "a@b.test", "password": "long enough"},
     {"email": "a@b.test", "password": "long enough"}],
)  # fmt: skip
def test_sign_up_validation(client, body):
    response = client.post("/api/v1/merchants", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_login_with_password(client):
    merchant = sign_up(client, password="s3cret-pass")

    response = client.post(
        "/api/v1/merchants/login", json={"email": merchant["email"], "password": "s3cret-pass"}
    )

    assert response.status_code == 200
    assert response.json()["api_key"] == merchant["api_key"]
    assert response.json()["api_secret"] == merchant["api_secret"]


@pytest.mark.parametrize("email", ["owner@acme.test", "nobody@acme.test"])
def test_login_wrong_password_or_unknown_email_is_401(client, email):
    sign_up(client, email="owner@acme.test", password="right-password")

    response = client.post(
        "/api/v1/merchants/login", json={"email": email, "password": "wrong-password"}
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_ERROR"


def test_test_merchant_logs_in_with_any_password(client):
    response = client.post(
        "/api/v1/merchants/login", json={"email": "test@example.com", "password": "anything"}
    )

    assert response.status_code == 200
    assert response.json()["api_key"] == "key_test_abc123"
    assert response.json()["api_secret"] == "secret_test_xyz789"


def test_test_merchant_endpoint(client):
    response = client.get("/api/v1/test/merchant")

    assert response.status_code == 200
    assert response.json() == {
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "email": "test@example.com",
        "api_key": "key_test_abc123",
        "seeded": True,
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Api-Key": "key_test_abc123"}, {"X-Api-Secret": "secret_test_xyz789"},
     {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "wrong"},
     {"X-Api-Key": "key_unknown", "X-Api-Secret": "secret_test_xyz789"}],
)  # fmt: skip
def test_merchant_endpoints_need_valid_credentials(client, headers):
    response = client.post("/api/v1/orders", json={"amount": 500}, headers=headers)

    assert response.status_code == 401
    missing = not headers.get("X-Api-Key") or not headers.get("X-Api-Secret")
    description = "Invalid API credentials" + (
        ": send X-Api-Key and X-Api-Secret headers" if missing else ""
    )
    assert response.json() == {
        "error": {"code": "AUTHENTICATION_ERROR", "description": description}
    }
