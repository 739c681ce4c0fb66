import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from factories import headers_for, sign_up


@pytest.fixture
def guarded_client(settings, db, redis):
    """An API that refuses webhook URLs inside private networks (the production default)."""
    guarded = settings.model_copy(update={"webhook_allow_private_networks": False})
    with TestClient(create_app(guarded)) as test_client:
        yield test_client


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
     "http://2130706433/hook", "http://0x7f000001/hook", "http://0.0.0.0/hook",
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


def test_rotate_secret_keeps_the_old_one_for_a_day(client, merchant_headers, db):
    rotated = client.post("/api/v1/webhooks/config/rotate-secret", headers=merchant_headers).json()

    assert (
        rotated["webhook_secret"].startswith("whsec_")
        and rotated["webhook_secret"] != "whsec_test_abc123"
    )
    row = db.execute(
        "SELECT previous_webhook_secret, previous_webhook_secret_expires_at - now() AS left FROM merchants WHERE is_test"
    ).fetchone()
    assert row["previous_webhook_secret"] == "whsec_test_abc123"
    assert 23 * 3600 < row["left"].total_seconds() <= 24 * 3600


def test_webhook_endpoints_need_credentials(client):
    assert client.get("/api/v1/webhooks").status_code == 401
    assert client.get("/api/v1/webhooks/config").status_code == 401
