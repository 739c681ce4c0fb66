import pytest

from factories import (
    DIRECTION_CONTROLS,
    TEXTS_WITHOUT_CONTROLS,
    create_order,
    headers_for,
    shown_text_refusal,
    sign_up,
)


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


def test_a_name_with_a_direction_control_is_refused_and_no_merchant_is_made(client, db):
    """A merchant named "\u202eyaP nozamA" read "Amazon Pay" on the dashboard and the checkout
    page: the invisible controls that reorder text are refused, naming `name`, and nobody is
    signed up. Names in a right-to-left script, and emoji joiners, are not controls."""
    for number, control in enumerate(DIRECTION_CONTROLS):
        body = {"name": f"{control}yaP nozamA", "email": f"pay{number}@shop.test",
                "password": "correct horse"}  # fmt: skip
        response = client.post("/api/v1/merchants", json=body)

        assert response.status_code == 400, (hex(ord(control)), response.text)
        assert response.json()["error"] == shown_text_refusal("name")
    made = db.execute("SELECT count(*) AS n FROM merchants WHERE email LIKE 'pay%'").fetchone()
    assert made["n"] == 0

    for number, name in enumerate(TEXTS_WITHOUT_CONTROLS):
        merchant = sign_up(client, name=name, email=f"shop{number}@shop.test")
        assert merchant["name"] == name


@pytest.mark.parametrize(
    "name",
    [
        "\u200b",
        "\ufeff\u2060",
        "\u3164",
        "\u2800 \u200b",
        "\u2028\u200b\u2029",
        "\u00a0\u115f",
        # Missed by a hand-made list (today's reviewer): all Default_Ignorable_Code_Point.
        "\u034f\u034f",
        "\ufe0f",
        "\u180b",
        "\u2065",
        "\u17b4\u17b5",
        "\U000e0100",
    ],
)
def test_a_name_that_shows_nothing_is_refused_and_no_merchant_is_made(client, db, name):
    """Reported: a merchant named "\u200b" signed up, and the checkout page read "Paying"
    and nothing: a shopper could not tell whom they paid. Spaces alone were refused, as
    empty; characters that draw nothing (zero-width, separators, Hangul fillers) are too."""
    body = {"name": name, "email": "blank@shop.test", "password": "correct horse"}

    response = client.post("/api/v1/merchants", json=body)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "name must have a visible character: a letter, digit or sign",
        "field": "name",
    }
    made = db.execute("SELECT count(*) AS n FROM merchants WHERE email = 'blank@shop.test'")
    assert made.fetchone()["n"] == 0


def test_a_name_with_visible_characters_among_invisible_ones_is_kept(client):
    for number, name in enumerate(["\u200bAsha", "👩🏽\u200d💻", "・", "ـ"]):
        assert sign_up(client, name=name, email=f"seen{number}@shop.test")["name"] == name


@pytest.mark.parametrize(
    "invisible",
    [
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u00ad",
        "\u180e",
        # Missed by a hand-made list (today's reviewer):
        "\u034f",
        "\ufe0f",
        "\u206a",
        "\u2065",
        "\U000e0041",
        "\u17b4",
        "\u180b",
        "\U0001d173",
        "\u3164",
        "\u115f",
        "\u2800",
        "\x01",
        # Reported: "s3\u202e@example.com" was signed up, and the dashboard's header showed
        # it reordered.
        *DIRECTION_CONTROLS,
    ],
)
def test_an_email_with_an_invisible_character_is_refused_and_no_twin_is_made(client, db, invisible):
    """Reported: "owner\u200b@shop.test" signed up beside owner@shop.test, a second merchant
    whose email reads exactly as the first's on the dashboard. A character that shows as
    nothing, or reorders the text, is refused in an email, naming `email`, and nobody is
    signed up."""
    sign_up(client, email="owner@shop.test")

    for email in (f"owner{invisible}@shop.test", f"owner@shop{invisible}.test"):
        body = {"name": "Twin", "email": email, "password": "correct horse"}
        response = client.post("/api/v1/merchants", json=body)

        assert response.status_code == 400, (hex(ord(invisible)), response.text)
        assert response.json()["error"] == {
            "code": "BAD_REQUEST_ERROR",
            "description": "email must be an email address like name@example.com",
            "field": "email",
        }
    made = db.execute("SELECT count(*) AS n FROM merchants WHERE name = 'Twin'").fetchone()
    assert made["n"] == 0


def test_login_with_password(client):
    merchant = sign_up(client, password="s3cret-pass")

    response = client.post(
        "/api/v1/merchants/login", json={"email": merchant["email"], "password": "s3cret-pass"}
    )

    assert response.status_code == 200
    assert response.json()["api_key"] == merchant["api_key"]
    assert response.json()["api_secret"] == merchant["api_secret"]


def test_a_password_is_taken_exactly_as_typed(client):
    """Spaces around a password are part of it, at sign-up and at login."""
    merchant = sign_up(client, password=" secret ")
    other = sign_up(client, email="other@acme.test", password="secret12")

    def log_in(email: str, password: str) -> int:
        body = {"email": email, "password": password}
        return client.post("/api/v1/merchants/login", json=body).status_code

    assert log_in(merchant["email"], " secret ") == 200
    assert [log_in(merchant["email"], p) for p in ("secret", "secret ", " secret")] == [401] * 3
    assert log_in(other["email"], "secret12") == 200
    assert log_in(other["email"], " secret12 ") == 401


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
    # docs/api.md#authentication: the exact description clients match on; a missing header is the
    # `field`.
    missing = next((h for h in ("X-Api-Key", "X-Api-Secret") if not headers.get(h)), None)
    expected = {"code": "AUTHENTICATION_ERROR", "description": "Invalid API credentials"}
    assert response.json() == {"error": expected | ({"field": missing} if missing else {})}


ROTATE = "/api/v1/merchants/rotate-api-secret"


@pytest.fixture
def client_with_grace(settings, db, redis):
    """An API whose replaced API secrets keep working for `seconds`."""
    from fastapi.testclient import TestClient

    from api.config import ApiSettings
    from api.main import create_app

    opened = []

    def start(seconds: int) -> TestClient:
        app = create_app(
            ApiSettings(**settings.model_dump() | {"api_secret_grace_seconds": seconds})
        )
        opened.append(TestClient(app, raise_server_exceptions=False).__enter__())
        return opened[-1]

    yield start
    for client in opened:
        client.__exit__(None, None, None)


def _rotate(client, headers) -> dict:
    response = client.post(ROTATE, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _works(client, secret: str, key: str = "key_test_abc123") -> bool:
    headers = {"X-Api-Key": key, "X-Api-Secret": secret}
    status = client.get("/api/v1/orders", headers=headers).status_code
    assert status in (200, 401)
    return status == 200


def test_rotating_the_api_secret_keeps_the_old_one_for_24_hours(client, db, merchant_headers):
    rotated = _rotate(client, merchant_headers)

    assert rotated["api_key"] == "key_test_abc123"
    assert rotated["api_secret"].startswith("secret_test_")
    assert rotated["api_secret"] != "secret_test_xyz789"
    assert _works(client, rotated["api_secret"])
    assert _works(client, "secret_test_xyz789")  # the overlap: deployments switch over
    grace = db.execute(
        "SELECT expires_at - now() AS left FROM retired_api_secrets WHERE api_secret = %s",
        ("secret_test_xyz789",),
    ).fetchone()["left"]
    assert 23.9 * 3600 < grace.total_seconds() <= 24 * 3600
    # The new secret is what login and the dashboard see from now on.
    login = client.post(
        "/api/v1/merchants/login", json={"email": "test@example.com", "password": "any"}
    )
    assert login.json()["api_secret"] == rotated["api_secret"]


def test_a_replaced_secret_stops_working_when_its_grace_ends(client_with_grace, db):
    import time

    client = client_with_grace(1)
    rotated = _rotate(
        client, {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
    )

    assert _works(client, "secret_test_xyz789")
    time.sleep(1.2)
    assert not _works(client, "secret_test_xyz789")
    assert _works(client, rotated["api_secret"])


def test_two_rotations_keep_both_replaced_secrets_in_their_grace(client, merchant_headers):
    first = _rotate(client, merchant_headers)
    second = _rotate(client, {"X-Api-Key": "key_test_abc123", "X-Api-Secret": first["api_secret"]})

    assert [_works(client, s) for s in ("secret_test_xyz789", first["api_secret"],
                                       second["api_secret"])] == [True, True, True]  # fmt: skip
    assert not _works(client, "secret_test_xyz788")


def test_a_replaced_secret_works_but_cannot_rotate(client, merchant_headers):
    """A leaked secret must not outlive its grace: rotating with it would hand over the new
    one, and again before that one's grace ended, for ever (docs/api.md#api-secret-rotation)."""
    rotated = _rotate(client, merchant_headers)

    refused = client.post(ROTATE, headers=merchant_headers)  # the replaced secret

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == {
        "code": "CONFLICT_ERROR",
        "description": "Only the current API secret can rotate it: this one has been replaced",
    }
    assert _works(client, "secret_test_xyz789")  # still in its grace for everything else
    again = _rotate(client, {"X-Api-Key": "key_test_abc123", "X-Api-Secret": rotated["api_secret"]})
    assert again["api_secret"] not in (rotated["api_secret"], "secret_test_xyz789")


def test_rotations_stop_while_ten_replaced_secrets_still_work(client, merchant_headers):
    """Each rotation adds a replaced secret that every authentication reads and compares for
    24 h: unbounded, a merchant could make its key's every request slower (and the API's event
    loop with it) by rotating in a loop. As for webhook secrets, at most 10 at once."""
    secret = "secret_test_xyz789"
    issued = [secret]
    for _ in range(10):
        secret = _rotate(client, {"X-Api-Key": "key_test_abc123", "X-Api-Secret": secret})[
            "api_secret"
        ]
        issued.append(secret)

    refused = client.post(ROTATE, headers={"X-Api-Key": "key_test_abc123", "X-Api-Secret": secret})

    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "CONFLICT_ERROR"
    assert error["description"].startswith(
        "10 replaced API secrets still work; rotate again after "
    )
    assert all(_works(client, s) for s in issued)  # nothing was retired by the refusal


def test_a_zero_grace_retires_the_old_secret_at_once(client_with_grace, db):
    client = client_with_grace(0)
    rotated = _rotate(
        client, {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
    )

    assert not _works(client, "secret_test_xyz789")
    assert _works(client, rotated["api_secret"])


def test_rotation_is_per_merchant_and_needs_credentials(client, merchant_headers):
    other = sign_up(client)
    rotated = _rotate(client, headers_for(other))

    assert rotated["api_secret"].startswith("secret_live_")
    assert _works(client, "secret_test_xyz789")  # the test merchant's is untouched
    assert not _works(client, rotated["api_secret"])  # and the new one is not its
    assert client.post(ROTATE).status_code == 401
    wrong = merchant_headers | {"X-Api-Secret": "secret_test_wrong0"}
    assert client.post(ROTATE, headers=wrong).status_code == 401


def test_concurrent_rotations_with_one_secret_rotate_once(client, settings, merchant_headers):
    """Four rotations at once, each presenting the same current secret: the row lock orders
    them, the first replaces the secret, and the other three then hold a replaced one
    (ReplacedSecretCannotRotate): one new secret, never the same secret retired twice."""
    import asyncio

    from api.merchants.errors import ReplacedSecretCannotRotate
    from api.merchants.service import rotate_api_secret
    from factories import run_coroutine, without_key
    from shared.backends.db import AsyncDatabase
    from shared.domain.seed import TEST_MERCHANT_ID

    async def rotate_four_at_once():
        database = AsyncDatabase(settings.database_url, max_size=4, name="rotation-test")
        await database.open()
        try:
            return await asyncio.gather(
                *(
                    without_key(
                        database,
                        lambda tx: rotate_api_secret(
                            tx, TEST_MERCHANT_ID, "secret_test_xyz789", 3600
                        ),
                    )
                    for _ in range(4)
                ),
                return_exceptions=True,
            )
        finally:
            await database.close()

    results = run_coroutine(rotate_four_at_once())

    rotated = [r for r in results if isinstance(r, dict)]
    assert len(rotated) == 1
    assert [type(r) for r in results if not isinstance(r, dict)] == [ReplacedSecretCannotRotate] * 3
    assert _works(client, rotated[0]["api_secret"]) and _works(client, "secret_test_xyz789")


def test_seeding_again_does_not_revert_a_rotation(client, db, merchant_headers):
    from shared.domain.seed import SeededMerchantSettings, seed_test_merchant

    rotated = _rotate(client, merchant_headers)
    seed_test_merchant(db, SeededMerchantSettings())  # as `migrate` does at every start

    stored = db.execute("SELECT api_secret FROM merchants WHERE is_test").fetchone()
    assert stored["api_secret"] == rotated["api_secret"]
