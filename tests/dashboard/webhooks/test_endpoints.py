"""The webhooks page: settings, delivery logs and retry.

The first tests put a stand-in API behind the dashboard's real client, so the page is checked
whatever the API offers; the rest run against the real API and are skipped until it offers the
webhook endpoints (docs/webhooks.md#endpoints).
"""

import html as htmllib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dashboard.config import DashboardSettings
from dashboard.main import create_app
from dashboard.rendering import IST as IST_ZONE
from devstack import processes
from factories import DEFAULT_URL_OF_TEST_MERCHANT
from shared.domain import models


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def api_error(status: int, code: str, description: str, field: str | None = None) -> httpx.Response:
    error = {"code": code, "description": description} | ({"field": field} if field else {})
    return httpx.Response(status, json={"error": error})


LOG_ID = "7d0f4b62-8f0e-4b51-9a53-0c2f3e9d1a11"
EXACT_BODY = '{"event":"webhook.test","timestamp":1705315870,"data":{"message":"₹ test"}}'
PROFILE = {
    "id": "550e8400-e29b-41d4-a716-446655440000",
    "name": "Test Merchant",
    "email": "test@example.com",
    "api_key": "key_test_abc123",
    "api_secret": "secret_test_xyz789",
    "webhook_secret": "whsec_test_abc123",
    "created_at": "2024-01-15T10:00:00.000Z",
}


DEFAULT_ENDPOINT_ID = "we_Default000000001"
ERP_ENDPOINT_ID = "we_ErpRefunds000001"
PAYMENT_ID = "pay_AbCdEfGh12345678"
REFUND_ID = "rfnd_AbCdEfGh1234567"
EVENT_TYPES = {"payment.created", "payment.pending", "payment.success", "payment.failed",
               "refund.created", "refund.processed", "webhook.test", "webhook_endpoint.disabled"}  # fmt: skip


def stand_in_endpoint(endpoint_id: str, url: str, **fields) -> dict:
    return {
        "id": endpoint_id, "url": url, "events": ["*"], "description": None,
        "status": "enabled", "default": False, "secret": f"whsec_{endpoint_id}",
        "disabled_reason": None, "created_at": "2024-01-15T10:00:00.000Z",
        "updated_at": "2024-01-15T10:00:00.000Z",
    } | fields  # fmt: skip


@dataclass
class StandInApi:
    """The merchant and webhook endpoints of docs/webhooks.md#endpoints, in memory."""

    requests: list[httpx.Request] = field(default_factory=list)
    webhook_url: str | None = "https://shop.example/webhook"
    endpoints: list[dict] = field(
        default_factory=lambda: [
            stand_in_endpoint(DEFAULT_ENDPOINT_ID, "https://shop.example/webhook", default=True),
            stand_in_endpoint(
                ERP_ENDPOINT_ID,
                "https://erp.example/hooks",
                events=["refund.processed"],
                description="ERP refunds",
            ),
        ]
    )

    # Seconds of Retry-After with which every endpoint route answers 429; None: they answer.
    throttled_for: int | None = None

    def endpoint(self, endpoint_id: str) -> dict | None:
        return next((e for e in self.endpoints if e["id"] == endpoint_id), None)

    def health(self, endpoint: dict) -> dict:
        return {"succeeded_24h": 12, "failed_24h": 3, "last_success_at": "2024-01-15T10:31:11.000Z",
                "retrying": 0, "last_failure_at": "2024-01-15T10:00:00.000Z"} | endpoint.get(
            "stand_in_health", {})  # fmt: skip

    def endpoint_routes(self, request: httpx.Request) -> httpx.Response | None:
        path, method = request.url.path, request.method
        prefix = "/api/v1/webhooks/endpoints"
        if not path.startswith(prefix):
            return None
        if self.throttled_for is not None:
            response = api_error(429, "RATE_LIMIT_ERROR", "Too many requests")
            response.headers["Retry-After"] = str(self.throttled_for)
            return response
        body = json.loads(request.content) if request.content else {}
        if path == prefix and method == "GET":
            # As the API lists them: each with its health.
            listed = [e | {"health": self.health(e)} for e in self.endpoints]
            return httpx.Response(200, json={"data": listed, "total": len(self.endpoints),
                                             "limit": 100, "offset": 0})  # fmt: skip
        if path == prefix and method == "POST":
            if not body.get("url", "").startswith(("http://", "https://")):
                return api_error(
                    400, "BAD_REQUEST_ERROR", "url must be an http or https URL", "url"
                )
            if "\u202e" in (body.get("description") or ""):
                return api_error(
                    400, "BAD_REQUEST_ERROR",
                    "description must not contain control or direction-override characters",
                    "description",
                )  # fmt: skip
            if any(t != "*" and t not in EVENT_TYPES for t in body.get("events", ["*"])):
                return api_error(400, "BAD_REQUEST_ERROR", "events has an unknown event type")
            created = stand_in_endpoint(f"we_New{len(self.endpoints):013d}", body["url"],
                                        events=body.get("events", ["*"]),
                                        description=body.get("description") or None)  # fmt: skip
            self.endpoints.append(created)
            return httpx.Response(201, json=created)
        parts = path[len(prefix) + 1 :].split("/")
        endpoint = self.endpoint(parts[0])
        if endpoint is None:
            return api_error(404, "NOT_FOUND_ERROR", "Webhook endpoint not found")
        action = parts[1] if len(parts) > 1 else ""
        if action == "" and method == "GET":
            return httpx.Response(200, json=endpoint | {"health": self.health(endpoint)})
        if action == "" and method == "PATCH":
            if "url" in body and not body["url"].startswith(("http://", "https://")):
                return api_error(
                    400, "BAD_REQUEST_ERROR", "url must be an http or https URL", "url"
                )
            endpoint.update(body)
            if body.get("status") == "enabled":
                endpoint["disabled_reason"] = None
            return httpx.Response(200, json=endpoint)
        if action == "" and method == "DELETE":
            self.endpoints.remove(endpoint)
            return httpx.Response(204)
        if action == "rotate-secret" and method == "POST":
            endpoint["secret"] = endpoint["secret"] + "_rotated"
            return httpx.Response(200, json=endpoint)
        if action == "recover" and method == "POST":
            if body.get("since", "") < "2024-01-01":
                return api_error(400, "BAD_REQUEST_ERROR", "since must be within the last 30 days")
            return httpx.Response(202, json={"queued": 4})
        return api_error(404, "NOT_FOUND_ERROR", "Route not found")

    def log(self, number: int) -> dict:
        return {
            "id": LOG_ID if number == 0 else f"00000000-0000-0000-0000-{number:012d}",
            "event": "payment.success" if number else "webhook.test",
            "status": ["failed", "success", "pending"][number % 3],
            "attempts": 5 if number == 0 else 1,
            "created_at": "2024-01-15T10:31:10.000Z",
            "last_attempt_at": None if number % 3 == 2 else "2024-01-15T10:31:11.000Z",
            "next_retry_at": None,
            "response_code": 500 if number == 0 else 200,
            "event_id": LOG_ID if number == 0 else f"00000000-0000-0000-0000-{number:012d}",
            "endpoint_id": ERP_ENDPOINT_ID if number == 1 else DEFAULT_ENDPOINT_ID,
            "object_id": None if number == 0 else (REFUND_ID if number == 1 else PAYMENT_ID),
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/api/v1/merchants/login":
            return httpx.Response(200, json=PROFILE)
        if path == "/api/v1/test/merchant":
            return httpx.Response(200, json={"id": PROFILE["id"], "email": PROFILE["email"],
                                             "api_key": PROFILE["api_key"], "seeded": True})  # fmt: skip
        if request.headers.get("x-api-secret") != PROFILE["api_secret"]:
            return api_error(401, "AUTHENTICATION_ERROR", "Invalid API credentials")
        if (answer := self.endpoint_routes(request)) is not None:
            return answer
        if path == "/api/v1/webhooks" and method == "GET":
            offset = int(request.url.params.get("offset", 0))
            limit = int(request.url.params.get("limit", 10))
            matching = [
                self.log(n) for n in range(13)
                if all(self.log(n)[key] == request.url.params[key]
                       for key in ("endpoint_id", "object_id") if key in request.url.params)
            ]  # fmt: skip
            logs = matching[offset : offset + limit]
            return httpx.Response(200, json={"data": logs, "total": len(matching),
                                             "limit": limit, "offset": offset})  # fmt: skip
        if path == "/api/v1/webhooks/config" and method == "GET":
            return httpx.Response(200, json={"webhook_url": self.webhook_url,
                                             "webhook_secret": "whsec_test_abc123"})  # fmt: skip
        if path == "/api/v1/webhooks/config" and method == "PUT":
            url = json.loads(request.content)["webhook_url"]
            if url and not url.startswith(("http://", "https://")):
                return api_error(
                    400, "BAD_REQUEST_ERROR", "webhook_url must be an http or https URL"
                )
            self.webhook_url = url or None
            return httpx.Response(200, json={"webhook_url": self.webhook_url,
                                             "webhook_secret": "whsec_test_abc123"})  # fmt: skip
        if path == f"/api/v1/webhooks/{LOG_ID}/retry" and method == "POST":
            return httpx.Response(200, json={"id": LOG_ID, "status": "pending",
                                             "message": "Webhook retry scheduled"})  # fmt: skip
        if path == f"/api/v1/webhooks/{LOG_ID}":
            attempts = [
                {"attempt_number": n, "scheduled_attempt": n, "attempted_at": f"2024-01-15T10:3{n}:00.000Z",
                 "duration_ms": 5000, "response_code": None, "response_body": None,
                 "error": "timed out after 5 s"}
                for n in range(1, 6)
            ]  # fmt: skip
            return httpx.Response(200, json=self.log(0) | {
                "payload": {"event": "webhook.test", "timestamp": 1705315870,
                            "data": {"message": "₹ test"}},
                "body": EXACT_BODY,
                "attempt_history": attempts,
            })  # fmt: skip
        if match := re.fullmatch(r"/api/v1/webhooks/00000000-0000-0000-0000-(\d{12})", path):
            return httpx.Response(200, json=self.log(int(match.group(1))) | {
                "payload": {}, "body": EXACT_BODY, "attempt_history": []})  # fmt: skip
        return api_error(404, "NOT_FOUND_ERROR", "Route not found")


@pytest.fixture
def stand_in_api() -> StandInApi:
    return StandInApi()


@pytest.fixture
def dashboard_client(redis_url: str, redis, stand_in_api: StandInApi) -> Iterator[TestClient]:
    """The dashboard app in-process, its API replaced by the stand-in, logged in."""
    settings = DashboardSettings(
        redis_url=redis_url, api_url="http://api.test", log_level="warning"
    )
    app = create_app(settings, api_transport=httpx.MockTransport(stand_in_api))
    with TestClient(app, follow_redirects=False) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = client.post(
            "/login", data={"email": "test@example.com", "password": "x", "csrf_token": token}
        )
        assert response.status_code == 303
        yield client


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_logs_table_has_the_contracts_columns_and_rows(dashboard_client):
    html = dashboard_client.get("/dashboard/webhooks").text
    logs_table = html[html.index('data-test-id="webhook-logs-table"') :]
    headers = re.findall(r'<th scope="col">([^<]+)</th>', logs_table)
    assert headers == ["Event", "Status", "Attempts", "Last Attempt", "Response Code", "Actions"]
    rows = re.findall(r'<tr data-test-id="webhook-log-item" data-webhook-id="([^"]+)">', html)
    assert len(rows) == 10 and rows[0] == LOG_ID
    assert f'data-test-id="retry-webhook-button" data-webhook-id="{LOG_ID}">Retry</button>' in html
    for cell in ("webhook-event", "webhook-status", "webhook-attempts", "webhook-last-attempt",
                 "webhook-response-code"):  # fmt: skip
        assert html.count(f'data-test-id="{cell}"') == 10
    assert "Showing 1–10 of 13 deliveries" in html
    second = dashboard_client.get("/dashboard/webhooks?offset=10").text
    assert len(re.findall(r'data-test-id="webhook-log-item"', second)) == 3


def test_config_form_has_the_contracts_controls(dashboard_client):
    html = dashboard_client.get("/dashboard/webhooks").text
    form = html[html.index('data-test-id="webhook-config-form"') :]
    form = form[: form.index("</form>")]
    assert 'placeholder="https://yoursite.com/webhook"' in form
    assert 'value="https://shop.example/webhook"' in form
    assert 'data-test-id="webhook-secret"' in form and "whsec_test_abc123" in form
    assert re.search(r'data-test-id="save-webhook-button"[^>]*>Save Configuration<', form)
    assert re.search(r'data-test-id="test-webhook-button"[^>]*>Send Test Webhook<', form)
    assert 'data-test-id="regenerate-secret-button"' in form
    assert "for 24 hours" in html


def test_retry_posts_to_the_api_and_returns_to_the_same_page(dashboard_client, stand_in_api):
    page = dashboard_client.get("/dashboard/webhooks?offset=0").text
    response = dashboard_client.post(
        f"/dashboard/webhooks/{LOG_ID}/retry",
        data={"csrf_token": token_of(page), "next": "/dashboard/webhooks?offset=10"},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/webhooks?offset=10"
    retry = stand_in_api.requests[-1]
    assert (retry.method, retry.url.path) == ("POST", f"/api/v1/webhooks/{LOG_ID}/retry")
    assert retry.headers["x-api-key"] == "key_test_abc123"
    assert "Retry scheduled" in dashboard_client.get("/dashboard/webhooks").text


@pytest.mark.parametrize(
    ("action", "api_path"),
    [("/dashboard/webhooks/rotate-secret", "/api/v1/webhooks/config/rotate-secret"),
     ("/dashboard/webhooks/test", "/api/v1/webhooks/test"),
     (f"/dashboard/webhooks/{LOG_ID}/retry", f"/api/v1/webhooks/{LOG_ID}/retry")],
)  # fmt: skip
def test_a_resent_secret_test_or_retry_form_sends_the_same_idempotency_key(
    dashboard_client, stand_in_api, action, api_path
):
    """Regenerate, Send Test Webhook and Retry posted without an Idempotency-Key: a double
    click rotated the secret twice, sent two test events, or delivered a webhook twice. Each
    rendered form carries its own key, and the API is sent that key (docs/idempotency.md)."""
    checked = []
    for page_path in ("/dashboard/webhooks", f"/dashboard/webhooks/logs/{LOG_ID}"):
        page = dashboard_client.get(page_path).text
        if f'action="{action}"' not in page:
            continue
        form = page[page.index(f'action="{action}"') :]
        form = form[: form.index("</form>")]
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
        assert key, f"{action} on {page_path} carries no idempotency key"
        for _ in range(2):
            dashboard_client.post(
                action, data={"csrf_token": token_of(page), "idempotency_key": key.group(1)}
            )
        sent = requests_to(stand_in_api, "POST", api_path)[-2:]
        assert [r.headers.get("idempotency-key") for r in sent] == [key.group(1)] * 2
        assert key.group(1) not in dashboard_client.get(page_path).text  # one key per render
        checked.append(page_path)
    assert checked == (["/dashboard/webhooks", f"/dashboard/webhooks/logs/{LOG_ID}"]
                       if action.endswith("/retry") else ["/dashboard/webhooks"])  # fmt: skip


def test_retry_never_redirects_elsewhere(dashboard_client):
    page = dashboard_client.get("/dashboard/webhooks").text
    for target in ("https://evil.test/", "//evil.test", "/dashboard/docs"):
        response = dashboard_client.post(
            f"/dashboard/webhooks/{LOG_ID}/retry",
            data={"csrf_token": token_of(page), "next": target},
        )
        assert response.headers["location"] == "/dashboard/webhooks"


def test_an_invalid_url_is_explained_inline(dashboard_client, stand_in_api):
    page = dashboard_client.get("/dashboard/webhooks").text
    response = dashboard_client.post(
        "/dashboard/webhooks/config",
        data={"csrf_token": token_of(page), "webhook_url": "ftp://shop.example/hook"},
    )
    assert response.status_code == 400
    assert 'data-test-id="webhook-url-error"' in response.text
    assert "The URL must be an http or https URL." in response.text
    assert 'value="ftp://shop.example/hook"' in response.text
    assert stand_in_api.webhook_url == "https://shop.example/webhook"


def test_log_detail_names_its_endpoint_object_and_event(dashboard_client, stand_in_api):
    log_id = "00000000-0000-0000-0000-000000000001"
    html = dashboard_client.get(f"/dashboard/webhooks/logs/{log_id}").text
    link = f'href="/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}" title="ERP refunds">ERP refunds</a>'
    assert link in html
    assert f"<code>{REFUND_ID}</code>" in html
    assert f'data-test-id="webhook-event-id">{log_id}<' in html


def test_log_detail_of_a_deleted_endpoint_says_so(dashboard_client, stand_in_api):
    stand_in_api.endpoints = [e for e in stand_in_api.endpoints if e["id"] != ERP_ENDPOINT_ID]
    html = dashboard_client.get("/dashboard/webhooks/logs/00000000-0000-0000-0000-000000000001")
    assert html.status_code == 200
    assert f"<code>{ERP_ENDPOINT_ID}</code> (deleted)" in html.text
    assert f'href="/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}"' not in html.text


def test_log_detail_shows_payload_and_every_attempt(dashboard_client):
    html = dashboard_client.get(f"/dashboard/webhooks/logs/{LOG_ID}").text
    assert html.count('data-test-id="webhook-attempt-row"') == 5
    assert html.count("timed out after 5 s") == 5
    assert "5 of 5" in html and "manual retry" not in html


def test_log_detail_shows_the_exact_body_not_a_pretty_printed_one(dashboard_client):
    html = dashboard_client.get(f"/dashboard/webhooks/logs/{LOG_ID}").text
    shown = re.search(r'data-test-id="webhook-payload">(.*?)</code>', html, re.S).group(1)
    assert htmllib.unescape(shown).strip("\n") == EXACT_BODY


def test_keys_that_stop_working_end_the_session(dashboard_client, stand_in_api):
    original = PROFILE["api_secret"]
    try:
        PROFILE["api_secret"] = "rotated"  # the stand-in now refuses the session's keys
        response = dashboard_client.get("/dashboard/webhooks")
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert "log in again" in dashboard_client.get("/login").text
    finally:
        PROFILE["api_secret"] = original
    assert dashboard_client.get("/dashboard").status_code == 303


# --- endpoints, against the stand-in ------------------------------------------------------------


def requests_to(stand_in_api: StandInApi, method: str, path: str) -> list[httpx.Request]:
    return [r for r in stand_in_api.requests if (r.method, r.url.path) == (method, path)]


def endpoint_row(html: str, endpoint_id: str) -> str:
    row = html[html.index(f'data-test-id="endpoint-row" data-endpoint-id="{endpoint_id}"') :]
    return row[: row.index("</tr>")]


def test_every_endpoint_is_a_row_with_url_filter_status_and_health(dashboard_client):
    html = dashboard_client.get("/dashboard/webhooks").text
    ids = re.findall(r'<tr data-test-id="endpoint-row" data-endpoint-id="(we_[^"]+)">', html)
    assert ids == [DEFAULT_ENDPOINT_ID, ERP_ENDPOINT_ID]
    erp = endpoint_row(html, ERP_ENDPOINT_ID)
    assert "https://erp.example/hooks" in erp and "ERP refunds" in erp
    assert "<code>refund.processed</code>" in erp and "All events" not in erp
    assert ">enabled<" in erp
    assert "12 delivered" in erp and "3 failed" in erp
    default = endpoint_row(html, DEFAULT_ENDPOINT_ID)
    assert "All events" in default and 'data-test-id="endpoint-default"' in default
    # The webhook config form is still there, unchanged.
    assert 'data-test-id="webhook-config-form"' in html


def test_the_webhooks_page_reads_every_endpoints_health_from_the_list(
    dashboard_client, stand_in_api
):
    """One call for the endpoint rows and their health, not one more per endpoint."""
    stand_in_api.requests.clear()
    assert dashboard_client.get("/dashboard/webhooks").status_code == 200
    endpoint_calls = [r for r in stand_in_api.requests
                      if r.url.path.startswith("/api/v1/webhooks/endpoints")]  # fmt: skip
    assert [(r.method, r.url.path) for r in endpoint_calls] == [
        ("GET", "/api/v1/webhooks/endpoints")
    ]


def test_an_endpoint_whose_deliveries_are_retrying_says_so(dashboard_client, stand_in_api):
    """Nothing has ended failed yet ("0 failed"), but deliveries wait for their retry after a
    failure: the row says how many and when the last attempt failed."""
    stand_in_api.endpoint(ERP_ENDPOINT_ID)["stand_in_health"] = {
        "failed_24h": 0, "retrying": 4, "last_failure_at": "2024-01-15T10:40:00.000Z",
    }  # fmt: skip
    html = dashboard_client.get("/dashboard/webhooks").text
    erp = endpoint_row(html, ERP_ENDPOINT_ID)
    assert "0 failed" in erp and "4 retrying" in erp
    assert 'data-test-id="endpoint-last-failure"' in erp and "2024-01-15T10:40:00.000Z" in erp
    default = endpoint_row(html, DEFAULT_ENDPOINT_ID)  # failed before its last success
    assert "retrying" not in default and 'data-test-id="endpoint-last-failure"' not in default
    detail = dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}").text
    assert re.search(r'data-test-id="endpoint-retrying">4<', detail)


def test_adding_an_endpoint_sends_its_filter_with_an_idempotency_key(
    dashboard_client, stand_in_api
):
    page = dashboard_client.get("/dashboard/webhooks").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = dashboard_client.post(
        "/dashboard/webhooks/endpoints",
        data={"csrf_token": token_of(page), "idempotency_key": key, "description": "Warehouse",
              "url": " https://dw.example/in ",
              "events": ["*", "refund.processed", "payment.success"]},
    )  # fmt: skip
    assert response.status_code == 303
    (created,) = requests_to(stand_in_api, "POST", "/api/v1/webhooks/endpoints")
    assert json.loads(created.content) == {
        "url": "https://dw.example/in",
        "events": ["payment.success", "refund.processed"],
        "description": "Warehouse",
    }
    assert created.headers["idempotency-key"] == key
    detail = dashboard_client.get(response.headers["location"]).text
    assert "Endpoint added" in detail and 'data-test-id="endpoint-secret"' in detail


def test_an_endpoint_the_api_refuses_is_explained_and_nothing_is_lost(
    dashboard_client, stand_in_api
):
    page = dashboard_client.get("/dashboard/webhooks").text
    response = dashboard_client.post(
        "/dashboard/webhooks/endpoints",
        data={"csrf_token": token_of(page), "url": "ftp://dw.example/in",
              "description": "Warehouse", "events": ["payment.failed"]},
    )  # fmt: skip
    assert response.status_code == 400
    assert 'data-test-id="endpoint-form-error"' in response.text
    assert "The URL must be an http or https URL." in response.text
    assert 'value="ftp://dw.example/in"' in response.text and 'value="Warehouse"' in response.text
    form = response.text[response.text.index('data-test-id="add-endpoint-form"') :]
    assert re.search(r'value="payment.failed" checked', form)
    assert len(stand_in_api.endpoints) == 2


def test_an_endpoint_url_error_speaks_of_the_url_not_the_apis_field(dashboard_client, stand_in_api):
    # The API names its `url` field; the merchant sees a form labelled "Endpoint URL".
    page = dashboard_client.get("/dashboard/webhooks").text
    added = dashboard_client.post(
        "/dashboard/webhooks/endpoints",
        data={"csrf_token": token_of(page), "url": "ftp://dw.example/in", "events": ["*"]},
    )
    edited = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}",
        data={"csrf_token": token_of(page), "url": "ftp://erp.example/v2", "description": "",
              "events": ["*"], "has_events": "1"},
    )  # fmt: skip
    for response in (added, edited):
        assert response.status_code == 400
        assert "The URL must be an http or https URL." in response.text
        assert ">url must" not in response.text


def test_the_field_the_api_refuses_is_the_one_marked_invalid(dashboard_client, stand_in_api):
    # A description the API refuses is the description's fault, not the URL's; a URL it
    # refuses is the URL's. Screen readers announce the marked field with the refusal.
    page = dashboard_client.get("/dashboard/webhooks").text
    sent = {"csrf_token": token_of(page), "url": "https://dw.example/in", "events": ["*"]}
    for fault, changes, said in (
        ("description", {"description": "Ware\u202ehouse"}, "The description must not contain"),
        ("url", {"url": "ftp://dw.example/in"}, "The URL must be an http or https URL."),
    ):
        response = dashboard_client.post("/dashboard/webhooks/endpoints", data=sent | changes)
        assert response.status_code == 400
        assert said in response.text
        form = response.text[response.text.index('data-test-id="add-endpoint-form"') :]
        form = form[: form.index("</form>")]
        invalid = re.findall(r'data-test-id="endpoint-(\w+)-input" aria-invalid="true"', form)
        assert invalid == [fault], (fault, invalid)


def test_a_filter_with_no_event_ticked_is_refused_not_taken_as_every_event(
    dashboard_client, stand_in_api
):
    # A merchant who unticks "All events" and ticks no type has chosen nothing: sending
    # them every event instead would surprise them, so the form asks for a choice.
    page = dashboard_client.get("/dashboard/webhooks").text
    added = dashboard_client.post(
        "/dashboard/webhooks/endpoints",
        data={"csrf_token": token_of(page), "url": "https://dw.example/in",
              "description": "Warehouse"},
    )  # fmt: skip
    assert added.status_code == 400
    assert 'data-test-id="endpoint-form-error"' in added.text
    assert "Tick “All events” or at least one event type." in added.text
    assert 'value="https://dw.example/in"' in added.text and 'value="Warehouse"' in added.text
    # The form comes back as sent, no box ticked, and the error points at the filter.
    form = added.text[added.text.index('data-test-id="add-endpoint-form"') :]
    assert " checked" not in form[: form.index('data-test-id="endpoint-form-error"')]
    assert 'aria-invalid="true"' not in form[: form.index("</form>")]
    assert re.search(r'data-test-id="endpoint-events" aria-describedby="new-endpoint-error"', form)
    assert requests_to(stand_in_api, "POST", "/api/v1/webhooks/endpoints") == []

    edited = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}",
        data={"csrf_token": token_of(page), "url": "https://erp.example/v2", "description": "",
              "has_events": "1"},
    )  # fmt: skip
    assert edited.status_code == 400
    assert "Tick “All events” or at least one event type." in edited.text
    path = f"/api/v1/webhooks/endpoints/{ERP_ENDPOINT_ID}"
    assert requests_to(stand_in_api, "PATCH", path) == []


def test_edit_enable_disable_and_rotate_reach_the_api(dashboard_client, stand_in_api):
    path = f"/api/v1/webhooks/endpoints/{ERP_ENDPOINT_ID}"
    page = dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}").text
    token = token_of(page)
    saved = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}",
        data={"csrf_token": token, "url": "https://erp.example/v2", "description": "",
              "events": ["*", "refund.created"], "has_events": "1"},
    )  # fmt: skip
    assert saved.status_code == 303
    # "All events" stays ticked beside the types a merchant ticks: the types are meant.
    assert json.loads(requests_to(stand_in_api, "PATCH", path)[-1].content) == {
        "url": "https://erp.example/v2", "events": ["refund.created"], "description": "",
    }  # fmt: skip
    disabled = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/status",
        data={"csrf_token": token, "status": "disabled", "next": "https://evil.test/"},
    )
    assert disabled.headers["location"] == "/dashboard/webhooks"
    assert json.loads(requests_to(stand_in_api, "PATCH", path)[-1].content) == {
        "status": "disabled"
    }
    row = endpoint_row(dashboard_client.get("/dashboard/webhooks").text, ERP_ENDPOINT_ID)
    assert ">disabled<" in row and 'data-test-id="endpoint-enable-button"' in row
    dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/rotate-secret",
        data={"csrf_token": token, "idempotency_key": "rotate-key-0001"},
    )
    (rotation,) = requests_to(stand_in_api, "POST", f"{path}/rotate-secret")
    assert rotation.headers["idempotency-key"] == "rotate-key-0001"
    assert (
        "_rotated" in dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}").text
    )


@pytest.mark.parametrize("status", ["paused", "", "Enabled"])
def test_a_status_other_than_enabled_or_disabled_changes_nothing(
    dashboard_client, stand_in_api, status
):
    """The status form disabled the endpoint for any value but "enabled" (a typo, a stale
    form, an empty value): only "enabled" and "disabled" are taken, anything else is an error
    flash and no request to the API."""
    page = dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}").text

    answered = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/status",
        data={"csrf_token": token_of(page), "status": status},
    )

    assert answered.status_code == 303
    assert requests_to(stand_in_api, "PATCH", f"/api/v1/webhooks/endpoints/{ERP_ENDPOINT_ID}") == []
    assert stand_in_api.endpoint(ERP_ENDPOINT_ID)["status"] == "enabled"
    shown = dashboard_client.get(answered.headers["location"]).text
    assert "Could not change the endpoint: choose to enable or to disable it" in shown


def test_the_default_endpoints_form_has_no_filter_and_sends_none(dashboard_client, stand_in_api):
    page = dashboard_client.get(f"/dashboard/webhooks/endpoints/{DEFAULT_ENDPOINT_ID}").text
    assert 'data-test-id="endpoint-events-default"' in page
    assert 'name="events"' not in page
    dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{DEFAULT_ENDPOINT_ID}",
        data={"csrf_token": token_of(page), "url": "https://shop.example/v2", "description": ""},
    )
    path = f"/api/v1/webhooks/endpoints/{DEFAULT_ENDPOINT_ID}"
    assert json.loads(requests_to(stand_in_api, "PATCH", path)[-1].content) == {
        "url": "https://shop.example/v2",
        "description": "",
    }


def test_delete_asks_first_then_deletes(dashboard_client, stand_in_api):
    confirm = dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/delete")
    assert 'data-test-id="confirm-delete-endpoint-button"' in confirm.text
    assert stand_in_api.endpoint(ERP_ENDPOINT_ID) is not None  # asking deletes nothing
    response = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/delete",
        data={"csrf_token": token_of(confirm.text)},
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/webhooks"
    assert stand_in_api.endpoint(ERP_ENDPOINT_ID) is None
    html = dashboard_client.get("/dashboard/webhooks").text
    assert "Endpoint deleted" in html
    assert f'data-test-id="endpoint-row" data-endpoint-id="{ERP_ENDPOINT_ID}"' not in html
    assert f"to {ERP_ENDPOINT_ID} (deleted)" in html  # its logs stay, and say where they went


def test_a_forged_form_changes_no_endpoint(dashboard_client, stand_in_api):
    response = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/delete", data={"csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert stand_in_api.endpoint(ERP_ENDPOINT_ID) is not None


def test_recover_sends_the_ist_time_as_utc(dashboard_client, stand_in_api):
    page = dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}").text
    response = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/recover",
        data={"csrf_token": token_of(page), "since": "2024-01-15T16:00", "until": "",
              "idempotency_key": "recover-key-0001"},
    )  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == f"/dashboard/webhooks?endpoint_id={ERP_ENDPOINT_ID}"
    (recovery,) = requests_to(
        stand_in_api, "POST", f"/api/v1/webhooks/endpoints/{ERP_ENDPOINT_ID}/recover"
    )
    assert json.loads(recovery.content) == {"since": "2024-01-15T10:30:00Z"}
    assert recovery.headers["idempotency-key"] == "recover-key-0001"
    assert "4 missed events queued" in dashboard_client.get(response.headers["location"]).text


def test_the_apis_429_is_passed_on_with_its_retry_after(dashboard_client, stand_in_api):
    stand_in_api.throttled_for = 120
    response = dashboard_client.get("/dashboard/webhooks")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "120"
    assert "Too many attempts; try again in 2 minutes." in response.text


@pytest.mark.parametrize(
    ("since", "until", "reason"),
    [
        ("", "", "Choose when the outage began."),
        ("yesterday", "", "Enter the time as a date and a time of day."),
        ("2024-01-15T16:00", "2024-01-15T15:00", "The end of the window is before its start."),
        ("2023-06-01T10:00", "", "since must be within the last 30 days."),  # the API's
    ],
)
def test_a_bad_recovery_window_is_explained_inline(
    dashboard_client, stand_in_api, since, until, reason
):
    page = dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}").text
    response = dashboard_client.post(
        f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/recover",
        data={"csrf_token": token_of(page), "since": since, "until": until},
    )
    assert response.status_code == 400
    error = re.search(r'data-test-id="recover-error">([^<]*)<', response.text).group(1)
    assert htmllib.unescape(error) == reason
    assert f'value="{since}"' in response.text


def test_logs_filter_by_endpoint_and_by_payment_or_refund(dashboard_client, stand_in_api):
    html = dashboard_client.get("/dashboard/webhooks").text
    erp_row = html[html.index('data-webhook-id="00000000-0000-0000-0000-000000000001"') :]
    erp_row = erp_row[: erp_row.index("</tr>")]
    assert REFUND_ID in erp_row and "to ERP refunds" in erp_row
    other = html[html.index('data-webhook-id="00000000-0000-0000-0000-000000000002"') :]
    other = other[: other.index("</tr>")]
    assert f'href="/dashboard/transactions/{PAYMENT_ID}"' in other
    # The logs table's Event cell holds the event's name and nothing else.
    assert re.search(r'data-test-id="webhook-event"><a [^>]*>payment.success</a></td>', other)
    assert "to shop.example/webhook" in other

    by_endpoint = dashboard_client.get(f"/dashboard/webhooks?endpoint_id={ERP_ENDPOINT_ID}").text
    assert len(re.findall(r'data-test-id="webhook-log-item"', by_endpoint)) == 1
    assert f'<option value="{ERP_ENDPOINT_ID}" selected>' in by_endpoint
    assert any(r.url.params.get("endpoint_id") == ERP_ENDPOINT_ID for r in stand_in_api.requests)
    by_payment = dashboard_client.get(f"/dashboard/webhooks?object_id={PAYMENT_ID}").text
    assert "Showing 1–10 of 11 deliveries" in by_payment
    assert f'href="/dashboard/webhooks?object_id={PAYMENT_ID}&amp;offset=10"' in by_payment

    bad = dashboard_client.get("/dashboard/webhooks?object_id=order_123").text
    assert 'data-test-id="object-filter-error"' in bad
    assert "of 13 deliveries" in bad  # not filtered by something that is no payment or refund


def test_an_automatically_disabled_endpoint_is_named_on_every_page(dashboard_client, stand_in_api):
    erp = stand_in_api.endpoint(ERP_ENDPOINT_ID)
    erp["status"] = "disabled"  # by the merchant: no banner
    assert (
        'data-test-id="endpoint-disabled-banner"'
        not in dashboard_client.get("/dashboard/webhooks").text
    )
    erp["disabled_reason"] = "The endpoint answered 410 Gone"
    for path in ("/dashboard/webhooks", f"/dashboard/webhooks/logs/{LOG_ID}", "/dashboard/docs"):
        html = dashboard_client.get(path).text
        banner = re.search(r'data-test-id="endpoint-disabled-banner"[^>]*>(.*?)</div></div>',
                           html, re.S)  # fmt: skip
        assert banner, path
        assert "https://erp.example/hooks" in banner.group(1)
        assert "The endpoint answered 410 Gone" in banner.group(1)


def test_the_banner_costs_no_api_call_on_each_page(dashboard_client, stand_in_api):
    """Pages that do not list endpoints read the banner's from Redis (BANNER_CACHE_SECONDS),
    not from the API on every page; the webhooks page, which lists them anyway, refreshes it,
    and so does the merchant's own status change."""

    def endpoint_lists() -> int:
        return sum(1 for r in stand_in_api.requests
                   if (r.method, r.url.path) == ("GET", "/api/v1/webhooks/endpoints"))  # fmt: skip

    erp = stand_in_api.endpoint(ERP_ENDPOINT_ID)
    erp.update(status="disabled", disabled_reason="The endpoint answered 410 Gone")
    stand_in_api.requests.clear()
    for path in ("/dashboard", f"/dashboard/webhooks/logs/{LOG_ID}", "/dashboard"):
        assert 'data-test-id="endpoint-disabled-banner"' in dashboard_client.get(path).text
    assert endpoint_lists() == 1

    # Enabled from the dashboard: the banner goes at once.
    page = dashboard_client.get(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}").text
    dashboard_client.post(f"/dashboard/webhooks/endpoints/{ERP_ENDPOINT_ID}/status",
                          data={"csrf_token": token_of(page), "status": "enabled"})  # fmt: skip
    assert 'data-test-id="endpoint-disabled-banner"' not in dashboard_client.get("/dashboard").text


@pytest.fixture
def stand_in_dashboard(redis_url: str, redis, stand_in_api: StandInApi) -> Iterator[str]:
    """The dashboard served for real (uvicorn in a thread, lifespan on) over the stand-in API,
    for the browser."""
    import socket
    import threading

    import uvicorn

    settings = DashboardSettings(
        redis_url=redis_url, api_url="http://api.test", log_level="warning"
    )
    app = create_app(settings, api_transport=httpx.MockTransport(stand_in_api))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "dashboard did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=5)
    listener.close()


PHONE_375 = {"width": 375, "height": 812}
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"
FITS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def check_in_browser(page, name: str) -> None:
    """axe-core clean and nothing wider than the screen, at desktop width and at 375 px; the
    screenshots kept in test-artifacts/dashboard/ to look at."""
    from accessibility import axe_violations

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("desktop", {"width": 1280, "height": 900}), ("375px", PHONE_375)):
        page.set_viewport_size(size)
        assert axe_violations(page) == [], f"{name} at {label}"
        assert page.evaluate(FITS), f"{name} is wider than {label}"
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def tid_in(row: str, name: str) -> str:
    return f"{row} {tid(name)}"


@pytest.mark.browser
def test_endpoint_controls_in_the_browser(stand_in_dashboard, stand_in_api, page, expect):
    """Add, edit, disable, rotate, recover and delete by clicking, over the stand-in API."""
    stand_in_api.endpoint(ERP_ENDPOINT_ID).update(
        status="disabled", disabled_reason="Every delivery failed for 24 hours"
    )
    page.goto(f"{stand_in_dashboard}/login")
    page.fill(tid("email-input"), "test@example.com")
    page.fill(tid("password-input"), "x")
    page.click(tid("login-button"))
    page.goto(f"{stand_in_dashboard}/dashboard/webhooks")
    banner = page.locator(tid("endpoint-disabled-banner"))
    expect(banner).to_contain_text("https://erp.example/hooks")
    expect(banner).to_contain_text("Every delivery failed for 24 hours")
    erp = f'[data-test-id="endpoint-row"][data-endpoint-id="{ERP_ENDPOINT_ID}"]'
    expect(page.locator(tid_in(erp, "endpoint-health"))).to_contain_text("3 failed")
    check_in_browser(page, "webhooks-endpoints")

    page.click(tid("add-endpoint-toggle"))
    page.fill(f"{tid('add-endpoint-form')} {tid('endpoint-url-input')}", "https://dw.example/in")
    page.check(f'{tid("add-endpoint-form")} [data-event="payment.success"]')
    page.uncheck(f"{tid('add-endpoint-form')} {tid('endpoint-event-all')}")
    page.click(tid("add-endpoint-button"))
    expect(page.locator(tid("endpoint-detail"))).to_be_visible()
    expect(page.locator(tid("endpoint-filter"))).to_have_text("payment.success")
    check_in_browser(page, "webhook-endpoint")

    page.fill(f"{tid('edit-endpoint-form')} {tid('endpoint-description-input')}", "Warehouse")
    page.click(tid("save-endpoint-button"))
    expect(page.locator(tid("flash-message"))).to_contain_text("Endpoint saved")
    page.click(tid("endpoint-rotate-button"))
    expect(page.locator(tid("endpoint-secret"))).to_contain_text("_rotated")
    page.fill(tid("recover-since-input"), "2024-01-15T16:00")
    page.click(tid("recover-button"))
    expect(page.locator(tid("flash-message"))).to_contain_text("4 missed events queued")

    page.goto(f"{stand_in_dashboard}/dashboard/webhooks")
    page.click(tid_in(erp, "endpoint-enable-button"))
    expect(page.locator(tid_in(erp, "endpoint-disable-button"))).to_be_visible()
    expect(page.locator(tid("endpoint-disabled-banner"))).to_have_count(0)
    page.click(tid_in(erp, "endpoint-delete-link"))
    check_in_browser(page, "webhook-endpoint-delete")
    page.click(tid("confirm-delete-endpoint-button"))
    expect(page.locator(erp)).to_have_count(0)


# --- against the real API ---------------------------------------------------------------------


def first_log(stack) -> dict:
    row = stack.db.execute(
        "SELECT id::text, event, status, attempts FROM webhook_logs ORDER BY created_at DESC"
    ).fetchone()
    assert row is not None, "no webhook was logged"
    return row


@pytest.mark.browser
@pytest.mark.parametrize("width", [1200, 375])
def test_every_deliverys_retry_button_is_in_view(stand_in_dashboard, page, expect, width):
    """At 1200 px the delivery table was wider than its card and its last column, the Retry
    button, was cut off behind a scroll bar; at 375 px each row is a card of its own."""
    page.goto(f"{stand_in_dashboard}/login")
    page.fill(tid("email-input"), "test@example.com")
    page.fill(tid("password-input"), "x")
    page.click(tid("login-button"))
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{stand_in_dashboard}/dashboard/webhooks")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"webhook-deliveries-{width}px.png"), full_page=True)
    assert page.evaluate(FITS), f"the page is wider than {width} px"
    wrap = page.locator(f"{tid('webhook-logs-table')} >> xpath=..")
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), "the table scrolls sideways"
    box = wrap.bounding_box()
    buttons = page.locator(tid("retry-webhook-button"))
    assert buttons.count() > 0
    for number in range(buttons.count()):
        button = buttons.nth(number).bounding_box()
        assert button["x"] >= box["x"] and button["x"] + button["width"] <= box["x"] + box["width"]


@pytest.mark.browser
def test_a_retrying_deliverys_last_attempt_reads_as_lines_on_a_phone(
    stand_in_dashboard, stand_in_api, page, monkeypatch
):
    """At 375 px each cell is a flex row: the time, the error and the next retry of a delivery
    being retried stood side by side, squeezed to a word a line ("connecti / on failed")."""
    plain = stand_in_api.log

    def retrying(number: int) -> dict:
        return plain(number) | {
            "status": "pending", "last_attempt_at": "2024-01-15T10:31:11.000Z",
            "next_retry_at": "2024-01-15T10:32:11.000Z",
            "last_error": "connection failed: connection refused by localhost:4003",
        }  # fmt: skip

    monkeypatch.setattr(stand_in_api, "log", retrying)
    page.goto(f"{stand_in_dashboard}/login")
    page.fill(tid("email-input"), "test@example.com")
    page.fill(tid("password-input"), "x")
    page.click(tid("login-button"))
    page.set_viewport_size({"width": 375, "height": 900})
    page.goto(f"{stand_in_dashboard}/dashboard/webhooks")
    cell = page.locator(tid("webhook-last-attempt")).first
    when = cell.locator("time").first.bounding_box()
    error = cell.locator(tid("webhook-last-error")).bounding_box()
    retry = cell.locator(tid("webhook-next-retry")).bounding_box()
    assert when and error and retry
    assert error["y"] >= when["y"] + when["height"] - 1, "the error is beside the time"
    assert retry["y"] >= error["y"] + error["height"] - 1, "the next retry is beside the error"
    assert error["width"] > 150, "the error is squeezed into a narrow column"


@pytest.mark.browser
def test_save_a_url_and_send_a_test_webhook(stack, logged_in_page, expect):
    page = logged_in_page
    page.click(tid("nav-webhooks"))
    config = page.locator(tid("webhook-config"))
    form = config.locator(tid("webhook-config-form"))
    form.locator(tid("webhook-url-input")).fill("http://127.0.0.1:9/webhook")
    form.locator(tid("save-webhook-button")).click()
    expect(page.locator(tid("flash-message"))).to_contain_text("Webhook URL saved")
    assert page.locator(tid("webhook-url-input")).input_value() == "http://127.0.0.1:9/webhook"
    stored = stack.db.execute(DEFAULT_URL_OF_TEST_MERCHANT).fetchone()
    assert stored["webhook_url"] == "http://127.0.0.1:9/webhook"

    page.click(tid("test-webhook-button"))
    expect(page.locator(tid("flash-message"))).to_contain_text("Test webhook sent")
    rows = page.locator(tid("webhook-log-item"))
    expect(rows).to_have_count(1)
    log = first_log(stack)
    assert rows.first.get_attribute("data-webhook-id") == log["id"]
    assert rows.first.locator(tid("webhook-event")).inner_text() == "webhook.test"
    assert rows.first.locator(tid("webhook-status")).inner_text() in ("pending", "failed")


@pytest.mark.browser
def test_retry_a_delivery(stack, logged_in_page, expect):
    page = logged_in_page
    stack.db.execute(
        "SELECT set_default_webhook_url(id, 'http://127.0.0.1:9/hook') FROM merchants WHERE is_test"
    )
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks")
    page.click(tid("test-webhook-button"))
    expect(page.locator(tid("webhook-log-item"))).to_have_count(1)
    log = first_log(stack)
    stack.db.execute(
        "UPDATE webhook_logs SET status = 'failed', attempts = 5, next_retry_at = NULL,"
        " response_code = 500 WHERE id = %s",
        (log["id"],),
    )
    page.reload()
    row = page.locator(f'{tid("webhook-log-item")}[data-webhook-id="{log["id"]}"]')
    assert row.locator(tid("webhook-status")).inner_text() == "failed"
    assert row.locator(tid("webhook-attempts")).inner_text() == "5"
    assert row.locator(tid("webhook-response-code")).inner_text() == "500"
    row.locator(tid("retry-webhook-button")).click()
    expect(page.locator(tid("flash-message"))).to_contain_text("Retry scheduled")
    retried = stack.db.execute(
        "SELECT status, attempts FROM webhook_logs WHERE id = %s", (log["id"],)
    ).fetchone()
    assert retried["status"] == "pending" and retried["attempts"] <= 1

    row.locator(tid("webhook-event")).locator("a").click()
    assert page.locator(tid("webhook-log-detail")).get_attribute("data-webhook-id") == log["id"]
    assert '"event":"webhook.test"' in page.locator(tid("webhook-payload")).inner_text()


@pytest.mark.browser
def test_regenerate_the_secret(stack, logged_in_page, expect):
    page = logged_in_page
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks")
    assert page.locator(tid("webhook-secret")).inner_text() == "whsec_test_abc123"
    assert "24 hours" in page.locator(tid("webhook-config")).inner_text()
    page.click(tid("regenerate-secret-button"))
    expect(page.locator(tid("flash-message"))).to_contain_text("New webhook secret generated")
    new_secret = page.locator(tid("webhook-secret")).inner_text()
    assert new_secret.startswith("whsec_") and new_secret != "whsec_test_abc123"
    stored = stack.db.execute("SELECT webhook_secret FROM merchants WHERE is_test").fetchone()
    assert stored == {"webhook_secret": new_secret}
    replaced = stack.db.execute("SELECT secret FROM webhook_secrets").fetchall()
    assert replaced == [{"secret": "whsec_test_abc123"}]
    assert page.locator(tid("previous-secret-note")).is_visible()
    # What a receiver must do, said where the merchant rotates.
    note = page.locator(tid("secret-rotation-note")).inner_text()
    assert "comma-separated" in note and "any listed signature" in note
    page.click(tid("regenerate-secret-button"))
    expect(page.locator(tid("previous-secret-note"))).to_contain_text("2 previous secrets")


@pytest.mark.browser
def test_an_invalid_url_shows_the_apis_reason(stack, logged_in_page, expect):
    page = logged_in_page
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks")
    page.fill(tid("webhook-url-input"), "ftp://127.0.0.1/hook")
    page.press(tid("webhook-url-input"), "Enter")  # Enter saves; it never regenerates
    expect(page.locator(tid("webhook-url-error"))).to_contain_text("http or https")
    stored = stack.db.execute(
        "SELECT (SELECT url FROM webhook_endpoints WHERE merchant_id = m.id) AS webhook_url,"
        " webhook_secret FROM merchants m WHERE is_test"
    ).fetchone()
    assert stored == {"webhook_url": None, "webhook_secret": "whsec_test_abc123"}


def test_test_webhook_without_a_url_is_explained(stack, logged_in_client):
    page = logged_in_client.get("/dashboard/webhooks").text
    response = logged_in_client.post(
        "/dashboard/webhooks/test", data={"csrf_token": token_of(page)}
    )
    assert response.status_code == 303
    assert "Could not send a test webhook" in logged_in_client.get("/dashboard/webhooks").text


MERCHANT_HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}


def add_endpoint_over_http(client, url: str, events: list[str], description: str) -> str:
    """Add an endpoint through the dashboard's form; its id, from the page it leads to."""
    page = client.get("/dashboard/webhooks").text
    form = page[page.index('data-test-id="add-endpoint-form"') :]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    response = client.post(
        "/dashboard/webhooks/endpoints",
        data={"csrf_token": token_of(page), "idempotency_key": key, "url": url,
              "description": description, "events": events},
    )  # fmt: skip
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def test_endpoints_and_their_deliveries_with_the_real_api(stack, logged_in_client):
    client = logged_in_client
    page = client.get("/dashboard/webhooks").text
    client.post("/dashboard/webhooks/config",
                data={"csrf_token": token_of(page), "webhook_url": "http://127.0.0.1:9/shop"})  # fmt: skip
    erp = add_endpoint_over_http(client, "http://127.0.0.1:9/erp", ["refund.created"], "ERP")
    stored = stack.api("GET", f"/api/v1/webhooks/endpoints/{erp}", MERCHANT_HEADERS).json()
    assert stored["events"] == ["refund.created"] and stored["description"] == "ERP"

    paid = stack.create_payment(status="success")
    refund = stack.api("POST", f"/api/v1/payments/{paid['id']}/refunds", MERCHANT_HEADERS,
                       json={"amount": 1000}).json()  # fmt: skip
    listed = client.get("/dashboard/webhooks").text
    row = endpoint_row(listed, erp)
    assert "http://127.0.0.1:9/erp" in row and "<code>refund.created</code>" in row
    assert "0 delivered" in row and "0 failed" in row

    to_erp = client.get(f"/dashboard/webhooks?endpoint_id={erp}").text
    rows = re.findall(r'data-test-id="webhook-log-item"', to_erp)
    assert len(rows) == 1 and refund["id"] in to_erp and "to ERP" in to_erp
    about_payment = client.get(f"/dashboard/webhooks?object_id={paid['id']}").text
    assert "payment.created" in about_payment and refund["id"] not in about_payment

    # Disabled by the gateway (as after a 410): every page names it, with the reason.
    stack.disable_endpoint(erp, "The endpoint answered 410 Gone")
    for path in ("/dashboard", "/dashboard/transactions", "/dashboard/docs"):
        html = client.get(path).text
        assert f'data-test-id="endpoint-disabled-banner" data-endpoint-id="{erp}"' in html, path
        assert "The endpoint answered 410 Gone" in html
    detail = client.get(f"/dashboard/webhooks/endpoints/{erp}").text
    client.post(f"/dashboard/webhooks/endpoints/{erp}/status",
                data={"csrf_token": token_of(detail), "status": "enabled"})  # fmt: skip
    assert 'data-test-id="endpoint-disabled-banner"' not in client.get("/dashboard").text

    since = (datetime.now(UTC) - timedelta(minutes=10)).astimezone(IST_ZONE)
    recovered = client.post(
        f"/dashboard/webhooks/endpoints/{erp}/recover",
        data={"csrf_token": token_of(detail), "since": since.strftime("%Y-%m-%dT%H:%M")},
    )
    assert recovered.status_code == 303
    assert "queued for delivery" in client.get(recovered.headers["location"]).text

    client.post(f"/dashboard/webhooks/endpoints/{erp}/delete",
                data={"csrf_token": token_of(detail)})  # fmt: skip
    gone = stack.api("GET", f"/api/v1/webhooks/endpoints/{erp}", MERCHANT_HEADERS)
    assert gone.status_code == 404
    assert f"to {erp} (deleted)" in client.get("/dashboard/webhooks").text  # its logs stay


@pytest.mark.browser
def test_endpoints_in_the_browser_with_the_real_api(stack, logged_in_page, expect):
    page = logged_in_page
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks")
    page.click(tid("add-endpoint-toggle"))
    form = page.locator(tid("add-endpoint-form"))
    form.locator(tid("endpoint-url-input")).fill("http://127.0.0.1:9/warehouse")
    form.locator(tid("endpoint-description-input")).fill("Data warehouse")
    form.locator('[data-event="payment.success"]').check()
    form.locator(tid("endpoint-event-all")).uncheck()
    form.locator(tid("add-endpoint-button")).click()
    expect(page.locator(tid("endpoint-filter"))).to_have_text("payment.success")
    endpoint_id = page.locator(tid("endpoint-detail")).get_attribute("data-endpoint-id")
    secret = page.locator(tid("endpoint-secret")).inner_text()
    page.click(tid("endpoint-rotate-button"))
    expect(page.locator(tid("endpoint-secret"))).not_to_have_text(secret)

    stack.disable_endpoint(endpoint_id, "Every delivery failed for 24 hours")
    config = stack.api("PUT", "/api/v1/webhooks/config", MERCHANT_HEADERS,
                       json={"webhook_url": "http://127.0.0.1:9/shop"})  # fmt: skip
    assert config.status_code == 200, config.text
    paid = stack.create_payment(status="success")
    stack.api("POST", f"/api/v1/payments/{paid['id']}/refunds", MERCHANT_HEADERS, json={})
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks")
    expect(page.locator(tid("endpoint-disabled-banner"))).to_contain_text("warehouse")
    row = f'[data-test-id="endpoint-row"][data-endpoint-id="{endpoint_id}"]'
    expect(page.locator(f"{row} {tid('endpoint-status')}")).to_contain_text("disabled")
    check_in_browser(page, "live-webhooks-endpoints")
    page.fill(tid("object-filter-input"), paid["id"])
    page.click(tid("apply-log-filter-button"))
    expect(page.locator(tid("webhook-object")).first).to_contain_text(paid["id"])
    check_in_browser(page, "live-webhooks-filtered")

    page.click(f"{row} {tid('endpoint-delete-link')}")
    page.click(tid("confirm-delete-endpoint-button"))
    expect(page.locator(row)).to_have_count(0)
    expect(page.locator(tid("endpoint-disabled-banner"))).to_have_count(0)


# A description may hold 500 characters (docs/webhooks.md#endpoints): without a space to break
# at, or as wide as emoji.
LONG_DESCRIPTIONS = {"unbroken": "erp-refunds-" + "x" * 243, "emoji": "\U0001f680" * 500}


@pytest.mark.browser
@pytest.mark.parametrize("description", sorted(LONG_DESCRIPTIONS))
def test_a_long_endpoint_description_takes_one_line(stack, logged_in_page, description):
    """Every delivery row says "to <description>": a 255-character one without spaces took a
    line per 18rem, and ten rows made the page 5,633 px tall. It is shown clipped to one line,
    whole in its title, on the delivery rows and on the endpoint's own row."""
    page = logged_in_page
    text = LONG_DESCRIPTIONS[description]
    config = stack.api("PUT", "/api/v1/webhooks/config", MERCHANT_HEADERS,
                       json={"webhook_url": "http://127.0.0.1:9/shop"})  # fmt: skip
    assert config.status_code == 200, config.text
    created = stack.api("POST", "/api/v1/webhooks/endpoints", MERCHANT_HEADERS,
                        json={"url": "http://127.0.0.1:9/erp", "description": text})  # fmt: skip
    assert created.status_code == 201, created.text
    long_id = created.json()["id"]
    for _ in range(6):
        stack.create_payment()  # payment.created, to both endpoints
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks")

    for label, size in (("desktop", {"width": 1280, "height": 900}), ("375px", PHONE_375)):
        page.set_viewport_size(size)
        assert page.evaluate(FITS), f"the page is wider than {label}"
        for table in ("endpoints-table", "webhook-logs-table"):
            wrap = page.locator(f"{tid(table)} >> xpath=..")
            assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), f"{table} scrolls sideways"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"long-description-{description}-{label}.png"),
                        full_page=True)  # fmt: skip
        line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")

        # The delivery rows: to the long one no taller than to the default endpoint, but for
        # the Retry button under it on a phone, as under any text that leaves it no room.
        heights = {"long": [], "short": []}
        rows = page.locator(tid("webhook-log-item"))
        assert rows.count() == 10
        for number in range(rows.count()):
            row = rows.nth(number)
            to = row.locator(tid("webhook-endpoint"))
            kind = "long" if to.get_attribute("data-endpoint-id") == long_id else "short"
            heights[kind].append(row.bounding_box()["height"])
            if kind == "long":
                assert to.bounding_box()["height"] <= 1.5 * line, f"not one line at {label}"
                assert to.get_attribute("title") == text
        assert heights["long"] and heights["short"]
        assert max(heights["long"]) <= max(heights["short"]) + 2 * line, (label, heights)

        # The endpoint's row: the description on one line, whole in its title.
        row = page.locator(f'{tid("endpoint-row")}[data-endpoint-id="{long_id}"]')
        shown = row.locator(tid("endpoint-description"))
        assert shown.bounding_box()["height"] <= 1.5 * line, f"not one line at {label}"
        assert shown.get_attribute("title") == text
        default_row = page.locator(f'{tid("endpoint-row")}:not([data-endpoint-id="{long_id}"])')
        assert row.bounding_box()["height"] <= default_row.bounding_box()["height"] + 2 * line
    log_id = page.locator(
        f'{tid("webhook-log-item")}:has({tid("webhook-endpoint")}[data-endpoint-id="{long_id}"])'
    ).first.get_attribute("data-webhook-id")

    # A delivery's own page names the endpoint; disabled, every page does: one line there too.
    stack.disable_endpoint(long_id, "The endpoint answered 410 Gone")
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks/logs/{log_id}")
    for label, size in (("desktop", {"width": 1280, "height": 900}), ("375px", PHONE_375)):
        page.set_viewport_size(size)
        assert page.evaluate(FITS), f"the delivery's page is wider than {label}"
        for named in (page.locator(f"{tid('webhook-endpoint')} a"),
                      page.locator(tid("endpoint-disabled-description"))):  # fmt: skip
            assert named.get_attribute("title") == text
            assert named.bounding_box()["height"] <= 1.5 * line, f"not one line at {label}"
        page.screenshot(path=str(ARTIFACTS / f"long-description-{description}-log-{label}.png"),
                        full_page=True)  # fmt: skip


@pytest.mark.browser
def test_a_long_endpoint_url_takes_one_line_on_its_row_and_in_the_banner(stack, logged_in_page):
    """An endpoint's URL may hold 2,048 characters: wrapped, one of 1,900 made its row 40 lines
    tall and squeezed its event filter to "paymen t.succ ess", and the disabled banner shown on
    every page grew as tall. It is clipped to one line there, whole in its title."""
    page = logged_in_page
    url = "http://127.0.0.1:9/" + "a" * 1900
    created = stack.api("POST", "/api/v1/webhooks/endpoints", MERCHANT_HEADERS,
                        json={"url": url, "events": ["payment.success"]})  # fmt: skip
    assert created.status_code == 201, created.text
    long_id = created.json()["id"]
    short = stack.api("POST", "/api/v1/webhooks/endpoints", MERCHANT_HEADERS,
                      json={"url": "http://127.0.0.1:9/erp", "events": ["payment.success"]})  # fmt: skip
    assert short.status_code == 201, short.text
    stack.disable_endpoint(long_id, "The endpoint answered 410 Gone")
    page.goto(f"{stack.dashboard_url}/dashboard/webhooks")

    for label, size in (("desktop", {"width": 1280, "height": 900}), ("375px", PHONE_375)):
        page.set_viewport_size(size)
        assert page.evaluate(FITS), f"the page is wider than {label}"
        line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
        row = page.locator(f'{tid("endpoint-row")}[data-endpoint-id="{long_id}"]')
        shown = row.locator(tid("endpoint-url-link"))
        assert shown.get_attribute("title") == url
        assert shown.bounding_box()["height"] <= 1.5 * line, f"not one line at {label}"
        other = page.locator(f'{tid("endpoint-row")}[data-endpoint-id="{short.json()["id"]}"]')
        assert row.bounding_box()["height"] <= other.bounding_box()["height"] + 2 * line, label
        banner_url = page.locator(tid("endpoint-disabled-url"))
        assert banner_url.get_attribute("title") == url
        assert banner_url.bounding_box()["height"] <= 1.5 * line, f"banner not one line, {label}"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"long-url-{label}.png"), full_page=True)


# --- a real delivery to the receivers pasted from the docs page ------------------------------


@pytest.fixture
def dispatcher(stack, database_url: str, redis_url: str) -> Iterator[None]:
    if importlib.util.find_spec("webhook_dispatcher") is None:
        pytest.skip("the webhook dispatcher is not installed")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "API_URL": stack.api_url,
        "TEST_MODE": "true",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_INTERVALS_TEST": "true",
        "LOG_LEVEL": "warning",
    }
    process = processes.spawn([sys.executable, "-m", "webhook_dispatcher"], env=env,
                              stdout=subprocess.DEVNULL)  # fmt: skip
    yield
    processes.stop(process, signal.SIGTERM, 10.0, whole_group=True)


RECEIVERS = {
    "python": ("code-snippet-webhook-python", '("127.0.0.1", 5000)', "webhook_server.py"),
    "node": ("code-snippet-webhook", ".listen(5000,", "webhook-server.js"),
}


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("language", sorted(RECEIVERS))
def test_the_docs_receiver_accepts_a_real_delivery(
    language, stack, dispatcher, logged_in_page, tmp_path, expect
):
    """Paste the docs' receiver, point the webhook URL at it, send a test: delivered, 200."""
    page = logged_in_page
    interpreter = sys.executable if language == "python" else shutil.which("node")
    if interpreter is None:
        pytest.skip(f"{language} is not installed")
    test_id, listen, filename = RECEIVERS[language]
    page.goto(f"{stack.dashboard_url}/dashboard/docs")
    code = page.locator(tid(test_id)).text_content()
    port = _free_port()
    assert listen in code
    program = tmp_path / filename
    program.write_text(code.replace(listen, listen.replace("5000", str(port))))
    receiver = subprocess.Popen(
        [interpreter, str(program)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PYTHONUNBUFFERED": "1", "PATH": os.environ.get("PATH", "/usr/bin")},
    )
    try:
        page.goto(f"{stack.dashboard_url}/dashboard/webhooks")
        page.fill(tid("webhook-url-input"), f"http://127.0.0.1:{port}/webhook")
        page.click(tid("save-webhook-button"))
        expect(page.locator(tid("flash-message"))).to_contain_text("Webhook URL saved")
        page.click(tid("test-webhook-button"))
        expect(page.locator(tid("flash-message"))).to_contain_text("Test webhook sent")
        row = page.locator(tid("webhook-log-item")).first
        deadline = time.monotonic() + 30
        while row.locator(tid("webhook-status")).inner_text() != "success":
            assert time.monotonic() < deadline, "the test webhook was not delivered"
            time.sleep(0.5)
            page.reload()
        assert row.locator(tid("webhook-response-code")).inner_text() == "200"
        assert row.locator(tid("webhook-attempts")).inner_text() == "1"
    finally:
        receiver.terminate()
        output, _ = receiver.communicate(timeout=10)
    assert "Received webhook.test" in output


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- a truthful delivery log (docs/webhooks.md#delivery-logs)
# ----------------------------------------------


@pytest.fixture
def dispatch_now(stack, worker_env):
    """Run one dispatcher tick in this process against the live stack's database."""
    from webhook_dispatcher import tasks

    tasks.delivery_engine.cache_clear()
    yield tasks.deliver_due_webhooks
    if tasks.delivery_engine.cache_info().currsize:
        tasks.delivery_engine().close()
    tasks.delivery_engine.cache_clear()


def test_a_refused_connection_shows_its_error_next_retry_and_every_attempt_number(
    stack, logged_in_client, dispatch_now, merchant_headers
):
    stack.db.execute(
        "SELECT set_default_webhook_url(id, 'http://127.0.0.1:9/hook') FROM merchants WHERE is_test"
    )
    log_id = stack.api("POST", "/api/v1/webhooks/test", merchant_headers).json()["id"]
    dispatch_now()

    listed = logged_in_client.get("/dashboard/webhooks").text
    row = listed[listed.index(f'data-webhook-id="{log_id}"') :]
    row = row[: row.index("</tr>")]
    assert re.search(r'data-test-id="webhook-status">.*pending', row, re.S)
    assert "connection refused by 127.0.0.1:9" in row
    assert re.search(r'data-test-id="webhook-next-retry">Next retry <time datetime="[^"]+Z"', row)
    assert "Errno" not in listed

    stack.api("POST", f"/api/v1/webhooks/{log_id}/retry", merchant_headers)
    dispatch_now()
    detail = logged_in_client.get(f"/dashboard/webhooks/logs/{log_id}").text
    assert "Errno" not in detail
    assert detail.count("connection refused by 127.0.0.1:9") >= 2
    numbers = re.findall(r'<td data-label="Attempt">(\d+)', detail)
    assert numbers == ["1", "2"]
    assert "manual retry" in detail
    assert "1 of 5 since the last manual retry; 2 in all" in detail
    assert re.search(r'data-test-id="webhook-next-retry"><time datetime="[^"]+Z"', detail)

    stored = stack.db.execute("SELECT payload FROM webhook_logs WHERE id = %s", (log_id,))
    shown = re.search(r'data-test-id="webhook-payload">(.*?)</code>', detail, re.S).group(1)
    assert htmllib.unescape(shown).strip("\n") == stored.fetchone()["payload"]


def test_the_webhooks_page_states_the_retry_schedule_and_the_events_as_they_are(
    dashboard_client,
):
    # Five attempts in all, the first at once (docs/webhooks.md#retry-schedule): not five
    # retries. The default endpoint takes every event type, the test event included.
    text = htmllib.unescape(re.sub(r"\s+", " ", dashboard_client.get("/dashboard/webhooks").text))
    assert "retried 5 times" not in text
    assert "tried up to 5 times: at once, then 1 min, 5 min, 30 min and 2 h" in text
    events = re.search(r"Events: ([^<]*)\.", text).group(1).split(", ")
    assert events == list(models.EVENT_TYPES)
