import socket

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from factories import headers_for, sign_up


def put_url(client, headers, url):
    return client.put("/api/v1/webhooks/config", json={"webhook_url": url}, headers=headers)


def test_config_starts_empty_with_the_seeded_secret(client, merchant_headers):
    config = client.get("/api/v1/webhooks/config", headers=merchant_headers).json()
    assert config["webhook_url"] is None and config["webhook_secret"] == "whsec_test_abc123"


def test_set_and_clear_the_url(client, merchant_headers):
    saved = put_url(client, merchant_headers, "http://localhost:4000/webhook")
    assert (
        saved.status_code == 200 and saved.json()["webhook_url"] == "http://localhost:4000/webhook"
    )

    cleared = put_url(client, merchant_headers, "")
    assert cleared.json()["webhook_url"] is None


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "example.com/webhook", "http://", "javascript:alert(1)",
            "http://user:pass@example.com/", "http://example.com:99999/"],
)  # fmt: skip
def test_malformed_urls_are_refused(client, merchant_headers, url):
    response = put_url(client, merchant_headers, url)
    assert response.status_code == 400 and response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/hook", "http://10.0.0.5/hook", "http://172.16.3.4/hook",
     "http://192.168.1.10/hook", "http://169.254.169.254/latest/meta-data", "http://100.64.0.1/",
     "http://[::1]/hook", "http://[fc00::1]/hook", "http://[fe80::1]/hook", "http://localhost/hook",
     "http://0.0.0.0/hook",
     "http://[::ffff:127.0.0.1]/hook", "https://224.0.0.1/hook"],
)  # fmt: skip
def test_private_destinations_are_refused_when_saved(guarded_client, merchant_headers, url):
    response = put_url(guarded_client, merchant_headers, url)

    assert response.status_code == 400
    assert "private or reserved" in response.json()["error"]["description"]


def test_public_destination_is_accepted(guarded_client, merchant_headers):
    assert (
        put_url(guarded_client, merchant_headers, "https://93.184.216.34/hook").status_code == 200
    )


def test_test_webhook_needs_a_url(client, merchant_headers):
    response = client.post("/api/v1/webhooks/test", headers=merchant_headers)
    assert response.status_code == 400


def test_test_webhook_is_logged(client, merchant_headers, db, redis):
    put_url(client, merchant_headers, "http://localhost:4000/webhook")

    response = client.post("/api/v1/webhooks/test", headers=merchant_headers)

    assert response.status_code == 201
    listed = client.get("/api/v1/webhooks", headers=merchant_headers).json()
    assert [log["id"] for log in listed["data"]] == [response.json()["id"]]
    log = listed["data"][0]
    assert (log["event"], log["status"], log["attempts"]) == ("webhook.test", "pending", 0)
    assert log["next_retry_at"].endswith("Z") and log["response_code"] is None
    detail = client.get(f"/api/v1/webhooks/{log['id']}", headers=merchant_headers).json()
    assert detail["payload"]["event"] == "webhook.test" and detail["attempt_history"] == []


def test_other_merchants_logs_are_404(client, merchant_headers):
    put_url(client, merchant_headers, "http://localhost:4000/webhook")
    log_id = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()["id"]
    other = headers_for(sign_up(client))

    for response in (
        client.get(f"/api/v1/webhooks/{log_id}", headers=other),
        client.post(f"/api/v1/webhooks/{log_id}/retry", headers=other),
        client.get("/api/v1/webhooks/not-a-uuid", headers=other),
        client.get("/api/v1/webhooks/7f0c2a52-7a61-4c52-9d7b-3a3f6a0f0e11", headers=other),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "NOT_FOUND_ERROR", "description": "Webhook not found"}
        }
    assert client.get("/api/v1/webhooks", headers=other).json()["total"] == 0


def live_secrets(db) -> list[dict]:
    return db.execute(
        "SELECT secret, expires_at - now() AS left FROM webhook_secrets"
        " WHERE expires_at > now() ORDER BY replaced_at DESC, id DESC"
    ).fetchall()


def rotate(client, headers):
    return client.post("/api/v1/webhooks/config/rotate-secret", headers=headers)


def test_rotate_secret_keeps_the_old_one_for_a_day(client, merchant_headers, db):
    rotated = rotate(client, merchant_headers).json()

    assert (
        rotated["webhook_secret"].startswith("whsec_")
        and rotated["webhook_secret"] != "whsec_test_abc123"
    )
    [old] = live_secrets(db)
    assert old["secret"] == "whsec_test_abc123"
    assert 23 * 3600 < old["left"].total_seconds() <= 24 * 3600
    assert rotated["previous_secret_expires_at"].endswith("Z")
    assert [p["expires_at"] for p in rotated["previous_secrets"]] == [
        rotated["previous_secret_expires_at"]
    ]
    assert "whsec_test_abc123" not in str(rotated)  # a replaced secret is never shown again


def test_rotating_twice_keeps_the_first_secret_signing_for_its_24_hours(
    client, merchant_headers, db
):
    first = rotate(client, merchant_headers).json()["webhook_secret"]
    second = rotate(client, merchant_headers).json()  # a double click

    signing = live_secrets(db)
    assert [s["secret"] for s in signing] == [first, "whsec_test_abc123"]
    assert all(23 * 3600 < s["left"].total_seconds() <= 24 * 3600 for s in signing)
    assert len(second["previous_secrets"]) == 2
    config = client.get("/api/v1/webhooks/config", headers=merchant_headers).json()
    assert config["webhook_secret"] == second["webhook_secret"]
    assert config["previous_secrets"] == second["previous_secrets"]


def test_rotation_is_refused_with_409_while_ten_replaced_secrets_still_sign(
    client, merchant_headers, db
):
    for _ in range(10):
        assert rotate(client, merchant_headers).status_code == 200
    current = client.get("/api/v1/webhooks/config", headers=merchant_headers).json()

    refused = rotate(client, merchant_headers)

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "CONFLICT_ERROR"
    assert "10 replaced webhook secrets still sign" in error["description"]
    assert "rotate again after" in error["description"]
    unchanged = client.get("/api/v1/webhooks/config", headers=merchant_headers).json()
    assert unchanged["webhook_secret"] == current["webhook_secret"]
    assert len(live_secrets(db)) == 10
    # Once the oldest runs out, rotating works again, and run-out secrets are deleted.
    db.execute(
        "UPDATE webhook_secrets SET expires_at = now() - interval '1 s',"
        " replaced_at = now() - interval '25 hours'"
        " WHERE id = (SELECT min(id) FROM webhook_secrets)"
    )
    assert rotate(client, merchant_headers).status_code == 200
    assert db.execute("SELECT count(*) AS n FROM webhook_secrets").fetchone()["n"] == 10


@pytest.mark.parametrize(
    "url",
    ["http://127.1/x", "http://2130706433/x", "http://134744072/hook", "http://8.8.2056/hook",
     "http://0x7f000001/hook", "http://0177.0.0.1/hook", "http://1.2.3.4.5/hook",
     "http://256.1.1.1/hook", "http://example.123/hook"],
)  # fmt: skip
@pytest.mark.parametrize("private_allowed", [True, False])
def test_non_canonical_ipv4_spellings_are_refused_when_saved(
    settings, db, redis, merchant_headers, url, private_allowed
):
    """Resolvers read `127.1` as 127.0.0.1 and `134744072` as 8.8.8.8, the HTTP client refuses
    them: saving refuses them too, whatever the private-network setting, and says why."""
    app_settings = settings.model_copy(update={"webhook_allow_private_networks": private_allowed})
    with TestClient(create_app(app_settings)) as app_client:
        response = put_url(app_client, merchant_headers, url)

    assert response.status_code == 400
    assert "is not a canonical IPv4 address" in response.json()["error"]["description"]
    assert "four decimal numbers" in response.json()["error"]["description"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com:0/x", "port must be between 1 and 65535"),
        ("http://example.com:65536/x", "port must be between 1 and 65535"),
        ("http://exa mple.com/x", "may not contain a space"),
        ("http://example.com/a b", "may not contain a space"),
        ("http://example.com/x\\y", "may not contain the character \\:"),
        ('http://example.com/"x"', 'may not contain the character ":'),
        ("http://example.com/{x}", "may not contain the character {:"),
        ("http://exa\tmple.com/x", "may not contain the character U+0009"),
        (
            "http://münchen.de/x",
            "host and port may not contain the character U+00FC: write an "
            "international host name in its xn-- (IDNA) form",
        ),
        ("http://example.com/münchen", "may not contain the character U+00FC: percent-encode"),
        # A port or an [IPv6] host takes no %-escape either (today's reviewer).
        ("https://example.com:8ä0/h", "host and port may not contain the character U+00E4"),
        ("https://[::1ä]/h", "host and port may not contain the character U+00E4"),
        ("http://example.com/%zz", "% that is not followed by two hex digits"),
        ("http://ex%41mple.com/x", "host may not contain %-escapes"),
        ("http://exa_mple..com/x", "is not a valid host name"),
        ("http://-example.com/x", "is not a valid host name"),
        ("http://example.com:8o/x", "invalid port"),
        ("http:example.com/x", "must be an http or https URL"),
    ],
)
def test_urls_delivery_would_refuse_are_refused_when_saved_saying_why(
    client, merchant_headers, db, url, reason
):
    response = put_url(client, merchant_headers, url)

    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]["description"]
    # Says what is wrong, never echoes what was sent (docs/api.md#errors).
    if "://" in url:
        host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
        assert host not in response.json()["error"]["description"]
    stored = db.execute("SELECT count(*) AS n FROM webhook_endpoints").fetchone()
    assert stored["n"] == 0


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/x", "https://EXAMPLE.com./hook?a=1&b=%20#frag", "http://[::1]:9/x",
     "http://shop_1.example.com/x", "https://xn--mnchen-3ya.de/x", "http://localhost:/x"],
)  # fmt: skip
def test_well_formed_urls_save(client, merchant_headers, url):
    response = put_url(client, merchant_headers, url)
    assert response.status_code == 200, response.text
    assert response.json()["webhook_url"] == url


@pytest.mark.parametrize(
    ("error", "temporary"),
    [(socket.EAI_AGAIN, True), (socket.EAI_NONAME, False)],
)
def test_a_name_that_does_not_resolve_is_not_called_not_allowed(
    guarded_client, merchant_headers, monkeypatch, error, temporary
):
    real = socket.getaddrinfo

    def failing(host, *args, **kwargs):
        if host == "shop.example.com":
            raise socket.gaierror(error, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", failing)

    response = put_url(guarded_client, merchant_headers, "https://shop.example.com/hook")

    assert response.status_code == 400
    description = response.json()["error"]["description"]
    assert description.startswith("webhook_url host could not be resolved")
    assert "shop.example.com" not in description  # never echoes input (docs/api.md#errors)
    assert "not allowed" not in description and "Errno" not in description
    assert "Temporary failure" not in description and str(error) not in description
    assert ("try again" in description) is temporary


def test_webhook_endpoints_need_credentials(client):
    assert client.get("/api/v1/webhooks").status_code == 401
    assert client.get("/api/v1/webhooks/config").status_code == 401


def test_concurrent_rotations_keep_every_replaced_secret_and_the_cap(database_url, db):
    """Ten rotations at once: each replaced secret is kept exactly once, the merchant row lock
    serialises them, and with 5 already signing only 5 more get through (the rest 409)."""
    import asyncio

    from api.errors import Conflict
    from api.webhooks import service
    from factories import run_coroutine, without_key
    from shared.backends.db import AsyncDatabase

    merchant_id = db.execute("SELECT id::text FROM merchants WHERE is_test").fetchone()["id"]

    async def rotate_ten_at_once():
        database = AsyncDatabase(database_url, max_size=10)
        await database.open()

        async def rotate_once():
            try:
                rotated = await without_key(
                    database, lambda tx: service.rotate_secret(tx, merchant_id)
                )
                return rotated["webhook_secret"]
            except Conflict:
                return None

        try:
            for _ in range(5):
                await without_key(database, lambda tx: service.rotate_secret(tx, merchant_id))
            return await asyncio.gather(*(rotate_once() for _ in range(10)))
        finally:
            await database.close()

    results = run_coroutine(rotate_ten_at_once())

    made = [secret for secret in results if secret]
    assert len(made) == 5
    kept = [row["secret"] for row in live_secrets(db)]
    assert len(kept) == len(set(kept)) == 10
    current = db.execute("SELECT webhook_secret FROM merchants WHERE is_test").fetchone()
    assert current["webhook_secret"] in made and current["webhook_secret"] not in kept
    assert set(made) - {current["webhook_secret"]} <= set(kept)
