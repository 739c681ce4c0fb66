"""The demo shop sells as the seeded merchant with the keys the gateway holds now: a secret
rotated from the dashboard or the API, whose grace is over, never breaks it."""

import httpx
import pytest
from starlette.testclient import TestClient

from checkout.config import DemoSettings
from checkout.demo import create_demo_app
from factories import TEST_MERCHANT_HEADERS

pytestmark = pytest.mark.slow


def test_the_demo_shop_keeps_selling_after_the_secret_is_rotated(start_service):
    # With the seed's secret in its settings, the demo shop answered "HTTP 401" once a
    # rotation's grace was over, and kept doing so after a restart.
    api = start_service("api", API_SECRET_GRACE_SECONDS="0")  # the grace ends at once
    settings = DemoSettings(api_url=api.url, checkout_url="http://127.0.0.1:3001")
    with TestClient(create_demo_app(settings)) as shop:
        assert shop.post("/orders", json={}).status_code == 201

        rotated = httpx.post(
            f"{api.url}/api/v1/merchants/rotate-api-secret", headers=TEST_MERCHANT_HEADERS
        )
        assert rotated.status_code == 200, rotated.text
        new_headers = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": rotated.json()["api_secret"]}
        seeded = httpx.get(f"{api.url}/api/v1/orders", headers=TEST_MERCHANT_HEADERS)
        assert seeded.status_code == 401  # the seed's secret no longer works

        after = shop.post("/orders", json={})
        assert after.status_code == 201, after.text
        order = httpx.get(f"{api.url}/api/v1/orders/{after.json()['id']}", headers=new_headers)
        assert order.status_code == 200 and order.json()["notes"] == {"source": "checkout demo"}

    # Restarted with the same settings, it sells at once, and its page holds the merchant's key.
    with TestClient(create_demo_app(settings)) as restarted:
        assert restarted.post("/orders", json={}).status_code == 201
        assert "key_test_abc123" in restarted.get("/").text


def test_the_demo_shop_says_why_when_it_cannot_sell(start_service):
    api = start_service("api")
    settings = DemoSettings(
        api_url=api.url, checkout_url="http://127.0.0.1:3001", test_merchant_email="nobody@x.test"
    )
    with TestClient(create_demo_app(settings)) as shop:
        refused = shop.post("/orders", json={})
        assert refused.status_code == 502
        assert refused.json() == {
            "error": "The gateway refused the shop's login as its merchant (HTTP 401)."
        }
        assert shop.get("/").status_code == 200  # the page still shows, with the seed's key
