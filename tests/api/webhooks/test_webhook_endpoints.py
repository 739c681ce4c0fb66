"""Webhook endpoints through the API: the resource, its limits, the default endpoint seen
through both APIs, deletion, health and recovery's queueing (delivery is in
tests/webhook_dispatcher/test_endpoints.py)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from factories import (
    DIRECTION_CONTROLS,
    create_order,
    create_payment,
    headers_for,
    shown_text_refusal,
    sign_up,
    upi_payment_body,
)

ENDPOINTS = "/api/v1/webhooks/endpoints"


def add_endpoint(client, headers, url="http://127.0.0.1:9/hook", **body):
    response = client.post(ENDPOINTS, json={"url": url, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def make_payment(client, headers):
    order = create_order(client, headers)
    return create_payment(client, headers, upi_payment_body(order["id"]))


def test_create_list_read_update_delete(client, merchant_headers):
    created = add_endpoint(
        client, merchant_headers, events=["payment.success", "refund.processed"],
        description="Fulfilment",
    )  # fmt: skip

    assert set(created) == {
        "id", "url", "events", "description", "status", "default", "secret",
        "disabled_reason", "created_at", "updated_at",
    }  # fmt: skip
    assert created["id"].startswith("we_") and len(created["id"]) == 19
    assert created["secret"].startswith("whsec_") and created["secret"] != "whsec_test_abc123"
    assert (created["status"], created["default"], created["disabled_reason"]) == (
        "enabled", False, None,
    )  # fmt: skip
    assert created["events"] == ["payment.success", "refund.processed"]

    listed = client.get(ENDPOINTS, headers=merchant_headers).json()
    assert [e["id"] for e in listed["data"]] == [created["id"]] and listed["total"] == 1

    one = client.get(f"{ENDPOINTS}/{created['id']}", headers=merchant_headers).json()
    assert one["health"] == {
        "succeeded_24h": 0, "failed_24h": 0, "last_success_at": None, "retrying": 0,
        "last_failure_at": None,
    }  # fmt: skip
    assert listed["data"][0]["health"] == one["health"]

    patched = client.patch(
        f"{ENDPOINTS}/{created['id']}",
        json={"events": ["*"], "description": None, "status": "disabled"},
        headers=merchant_headers,
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["events"], patched.json()["description"]) == (["*"], None)
    assert patched.json()["status"] == "disabled"

    deleted = client.delete(f"{ENDPOINTS}/{created['id']}", headers=merchant_headers)
    assert deleted.status_code == 204 and deleted.content == b""
    gone = client.get(f"{ENDPOINTS}/{created['id']}", headers=merchant_headers)
    assert gone.status_code == 404


def test_the_list_gives_each_endpoints_health_with_what_is_retrying(client, merchant_headers, db):
    """One list call gives every endpoint's health (the dashboard made a call per endpoint),
    and a failing endpoint whose deliveries wait for their retry says so: `retrying` and
    `last_failure_at`, not just "0 failed" (failed counts only deliveries that ended)."""
    failing = add_endpoint(client, merchant_headers, url="http://127.0.0.1:9/failing")
    healthy = add_endpoint(client, merchant_headers, url="http://127.0.0.1:9/healthy")
    make_payment(client, merchant_headers)
    db.execute(
        "UPDATE webhook_logs SET attempts = 2, last_attempt_at = now() - interval '1 minute',"
        " next_retry_at = now() + interval '5 minutes' WHERE endpoint_id = %s",
        (failing["id"],),
    )
    db.execute(
        "UPDATE webhook_logs SET status = 'success', attempts = 1, last_attempt_at = now(),"
        " next_retry_at = NULL WHERE endpoint_id = %s",
        (healthy["id"],),
    )
    retrying = db.execute(
        "SELECT count(*) AS n FROM webhook_logs WHERE endpoint_id = %s", (failing["id"],)
    ).fetchone()["n"]
    assert retrying >= 1

    listed = client.get(ENDPOINTS, headers=merchant_headers).json()["data"]
    health = {e["id"]: e["health"] for e in listed}
    assert health[failing["id"]]["retrying"] == retrying
    assert health[failing["id"]]["failed_24h"] == 0 and health[failing["id"]]["last_failure_at"]
    assert health[healthy["id"]]["retrying"] == 0 and health[healthy["id"]]["last_success_at"]
    assert health[healthy["id"]]["succeeded_24h"] == retrying
    for endpoint_id, listed_health in health.items():
        read = client.get(f"{ENDPOINTS}/{endpoint_id}", headers=merchant_headers).json()
        assert read["health"] == listed_health


@pytest.mark.parametrize(
    ("url", "wanted"),
    [
        ("ftp://127.0.0.1:9/x", "url must be an http or https URL"),
        ("http://user:pw@127.0.0.1:9/x", "url must carry no credentials (user:password@)"),
        ("http://127.0.0.1:0/x", "url port must be between 1 and 65535"),
        (
            "http://127.0.0.1:9/a b",
            "url may not contain a space: percent-encode it (a space is %20)",
        ),
    ],
)
def test_a_refused_url_names_the_url_field_it_was_sent_in(client, merchant_headers, url, wanted):
    # The endpoints API's field is `url` (the config's is `webhook_url`): the error names the
    # field the client sent, on create and on update.
    endpoint = add_endpoint(client, merchant_headers)

    created = client.post(ENDPOINTS, json={"url": url}, headers=merchant_headers)
    updated = client.patch(
        f"{ENDPOINTS}/{endpoint['id']}", json={"url": url}, headers=merchant_headers
    )

    for response in (created, updated):
        assert response.status_code == 400, response.text
        assert response.json()["error"] == {
            "code": "BAD_REQUEST_ERROR", "description": wanted, "field": "url",
        }  # fmt: skip


def test_events_default_to_every_type_and_unknown_types_are_refused(client, merchant_headers):
    assert add_endpoint(client, merchant_headers)["events"] == ["*"]

    for events in (["payment.sucess"], [], ["*", "payment.success"], "payment.success"):
        response = client.post(
            ENDPOINTS, json={"url": "http://127.0.0.1:9/x", "events": events},
            headers=merchant_headers,
        )  # fmt: skip
        assert response.status_code == 400, events
        assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    assert client.get(ENDPOINTS, headers=merchant_headers).json()["total"] == 1


def test_the_twenty_first_endpoint_is_refused_even_when_sent_at_once(client, merchant_headers):
    for n in range(18):
        add_endpoint(client, merchant_headers, url=f"http://127.0.0.1:9/{n}")

    def attempt(n):
        return client.post(
            ENDPOINTS, json={"url": f"http://127.0.0.1:9/c{n}"}, headers=merchant_headers
        ).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(attempt, range(4)))

    assert codes == [201, 201, 400, 400]
    refused = client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/z"}, headers=merchant_headers)
    assert refused.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "A merchant may have at most 20 webhook endpoints",
    }
    assert client.get(ENDPOINTS, headers=merchant_headers).json()["total"] == 20


def test_a_default_url_set_past_twenty_endpoints_is_refused_like_a_twenty_first(
    client, merchant_headers
):
    # The default endpoint is one of the 20: setting the config's URL when 20 others exist
    # makes a 21st and is the same 400, not a server error.
    for n in range(20):
        add_endpoint(client, merchant_headers, url=f"http://127.0.0.1:9/{n}")

    response = client.put(
        "/api/v1/webhooks/config", json={"webhook_url": "http://127.0.0.1:9/default"},
        headers=merchant_headers,
    )  # fmt: skip

    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "A merchant may have at most 20 webhook endpoints",
    }
    config = client.get("/api/v1/webhooks/config", headers=merchant_headers).json()
    assert config["webhook_url"] is None
    assert client.get(ENDPOINTS, headers=merchant_headers).json()["total"] == 20


def test_another_merchants_endpoint_is_404(client, merchant_headers):
    endpoint = add_endpoint(client, merchant_headers)
    other = headers_for(sign_up(client))
    path = f"{ENDPOINTS}/{endpoint['id']}"

    for response in (
        client.get(path, headers=other),
        client.patch(path, json={"status": "disabled"}, headers=other),
        client.delete(path, headers=other),
        client.post(f"{path}/rotate-secret", headers=other),
        client.post(f"{path}/recover", json={"since": "2026-01-01T00:00:00Z"}, headers=other),
        client.get(f"{ENDPOINTS}/we_notanidatall", headers=other),
    ):
        assert response.status_code == 404, response.request.url
        assert response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert client.get(ENDPOINTS, headers=other).json()["total"] == 0
    assert client.get(path, headers=merchant_headers).json()["status"] == "enabled"


def test_the_default_endpoint_is_the_config_seen_through_both_apis(client, merchant_headers):
    config = "/api/v1/webhooks/config"
    assert client.get(ENDPOINTS, headers=merchant_headers).json()["data"] == []

    client.put(config, json={"webhook_url": "http://127.0.0.1:9/a"}, headers=merchant_headers)
    [default] = client.get(ENDPOINTS, headers=merchant_headers).json()["data"]
    assert (default["url"], default["default"], default["events"]) == (
        "http://127.0.0.1:9/a", True, ["*"],
    )  # fmt: skip
    assert default["secret"] == "whsec_test_abc123"

    # Set here, seen there, same id.
    client.patch(
        f"{ENDPOINTS}/{default['id']}", json={"url": "http://127.0.0.1:9/b"},
        headers=merchant_headers,
    )  # fmt: skip
    assert client.get(config, headers=merchant_headers).json()["webhook_url"] == (
        "http://127.0.0.1:9/b"
    )
    client.put(config, json={"webhook_url": "http://127.0.0.1:9/c"}, headers=merchant_headers)
    [again] = client.get(ENDPOINTS, headers=merchant_headers).json()["data"]
    assert (again["id"], again["url"]) == (default["id"], "http://127.0.0.1:9/c")

    # One secret: rotated through either API, both show it.
    rotated = client.post(f"{ENDPOINTS}/{default['id']}/rotate-secret", headers=merchant_headers)
    assert rotated.status_code == 200
    secret = rotated.json()["secret"]
    assert secret != "whsec_test_abc123"
    shown = client.get(config, headers=merchant_headers).json()
    assert shown["webhook_secret"] == secret and len(shown["previous_secrets"]) == 1
    by_config = client.post(f"{config}/rotate-secret", headers=merchant_headers).json()
    endpoint = client.get(f"{ENDPOINTS}/{default['id']}", headers=merchant_headers).json()
    assert endpoint["secret"] == by_config["webhook_secret"] != secret

    # The default takes every event.
    refused = client.patch(
        f"{ENDPOINTS}/{default['id']}", json={"events": ["payment.success"]},
        headers=merchant_headers,
    )  # fmt: skip
    assert refused.status_code == 400

    # Deleting it clears the config's URL; clearing the URL deletes it.
    client.delete(f"{ENDPOINTS}/{default['id']}", headers=merchant_headers)
    assert client.get(config, headers=merchant_headers).json()["webhook_url"] is None
    client.put(config, json={"webhook_url": "http://127.0.0.1:9/d"}, headers=merchant_headers)
    client.put(config, json={"webhook_url": ""}, headers=merchant_headers)
    assert client.get(ENDPOINTS, headers=merchant_headers).json()["total"] == 0


def test_a_rotated_endpoint_secret_is_its_own(client, merchant_headers, db):
    endpoint = add_endpoint(client, merchant_headers)

    rotated = client.post(f"{ENDPOINTS}/{endpoint['id']}/rotate-secret", headers=merchant_headers)

    assert rotated.status_code == 200 and rotated.json()["secret"] != endpoint["secret"]
    replaced = db.execute("SELECT endpoint_id, secret FROM webhook_secrets").fetchall()
    assert replaced == [{"endpoint_id": endpoint["id"], "secret": endpoint["secret"]}]
    config = client.get("/api/v1/webhooks/config", headers=merchant_headers).json()
    assert config["webhook_secret"] == "whsec_test_abc123" and config["previous_secrets"] == []


def test_events_fan_out_to_each_enabled_endpoint_whose_filter_takes_them(
    client, merchant_headers, webhook_url
):
    payments = add_endpoint(client, merchant_headers, events=["payment.created"])
    refunds = add_endpoint(client, merchant_headers, events=["refund.created"])
    off = add_endpoint(client, merchant_headers)
    client.patch(f"{ENDPOINTS}/{off['id']}", json={"status": "disabled"}, headers=merchant_headers)

    payment = make_payment(client, merchant_headers)

    logs = client.get("/api/v1/webhooks?limit=100", headers=merchant_headers).json()["data"]
    [default] = [e for e in client.get(ENDPOINTS, headers=merchant_headers).json()["data"]
                 if e["default"]]  # fmt: skip
    by_endpoint = {(log["endpoint_id"], log["event"]) for log in logs}
    assert by_endpoint == {
        (default["id"], "payment.created"), (default["id"], "payment.pending"),
        (payments["id"], "payment.created"),
    }  # fmt: skip
    assert all(log["object_id"] == payment["id"] for log in logs)
    created = [log for log in logs if log["event"] == "payment.created"]
    # One event, one webhook-id; the default's log is the event's id, the other one its own.
    assert len({log["event_id"] for log in created}) == 1
    [default_log] = [log for log in created if log["endpoint_id"] == default["id"]]
    [other_log] = [log for log in created if log["endpoint_id"] == payments["id"]]
    assert default_log["id"] == default_log["event_id"] != other_log["id"]
    assert refunds["id"] not in {log["endpoint_id"] for log in logs}


def test_webhook_logs_filter_by_status_event_endpoint_and_object(
    client, merchant_headers, webhook_url
):
    extra = add_endpoint(client, merchant_headers, events=["payment.pending"])
    first = make_payment(client, merchant_headers)
    make_payment(client, merchant_headers)

    def listed(query):
        response = client.get(f"/api/v1/webhooks?{query}", headers=merchant_headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert listed("")["total"] == 6
    assert listed(f"endpoint_id={extra['id']}")["total"] == 2
    by_object = listed(f"object_id={first['id']}")
    assert by_object["total"] == 3 and {log["object_id"] for log in by_object["data"]} == {
        first["id"]
    }
    assert listed("event=payment.pending")["total"] == 4
    assert (
        listed(f"event=payment.pending&endpoint_id={extra['id']}&object_id={first['id']}")["total"]
        == 1
    )
    assert listed("status=pending")["total"] == 6 and listed("status=success")["total"] == 0
    for bad in ("status=done", "event=payment.sucess"):
        assert client.get(f"/api/v1/webhooks?{bad}", headers=merchant_headers).status_code == 400


@pytest.mark.parametrize("name", ["endpoint_id", "object_id"])
def test_a_nul_character_in_a_log_filter_is_a_bad_request(client, merchant_headers, name):
    # PostgreSQL text holds no NUL: it is the client's mistake (400), never a database error.
    response = client.get(f"/api/v1/webhooks?{name}=pay_%00", headers=merchant_headers)

    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": f"{name} must not contain NUL (\\u0000) characters",
        "field": name,
    }


def test_a_description_with_a_direction_control_is_refused_on_create_and_update(
    client, merchant_headers
):
    """A right-to-left override made "\u202esdnufer PRE" read "ERP refunds" on the dashboard:
    the invisible controls that reorder text are refused, naming the field, and nothing
    changes. Text in a right-to-left script, and joiners, are not controls."""
    endpoint = add_endpoint(client, merchant_headers, description="ERP")
    path = f"{ENDPOINTS}/{endpoint['id']}"
    refused = shown_text_refusal("description")

    for control in DIRECTION_CONTROLS:
        description = f"{control}sdnufer PRE"
        created = client.post(
            ENDPOINTS, json={"url": "http://127.0.0.1:9/x", "description": description},
            headers=merchant_headers,
        )  # fmt: skip
        updated = client.patch(path, json={"description": description}, headers=merchant_headers)
        for response in (created, updated):
            assert response.status_code == 400, (hex(ord(control)), response.text)
            assert response.json()["error"] == refused

    assert client.get(ENDPOINTS, headers=merchant_headers).json()["total"] == 1
    assert client.get(path, headers=merchant_headers).json()["description"] == "ERP"
    for fine in ("مرتجعات ERP", "👩🏽‍💻 Dev"):
        updated = client.patch(path, json={"description": fine}, headers=merchant_headers)
        assert updated.status_code == 200 and updated.json()["description"] == fine


def test_delete_ends_pending_deliveries_failed_and_keeps_the_logs(
    client, merchant_headers, webhook_url
):
    endpoint = add_endpoint(client, merchant_headers)
    make_payment(client, merchant_headers)

    assert (
        client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=merchant_headers).status_code == 204
    )

    logs = client.get(
        f"/api/v1/webhooks?endpoint_id={endpoint['id']}", headers=merchant_headers
    ).json()["data"]
    assert len(logs) == 2
    assert {(log["status"], log["next_retry_at"], log["last_error"]) for log in logs} == {
        ("failed", None, "endpoint deleted")
    }
    others = client.get("/api/v1/webhooks?status=pending", headers=merchant_headers).json()
    assert others["total"] == 2  # the default endpoint's go on


def test_a_retry_to_a_deleted_or_disabled_endpoint_is_refused_saying_why(
    client, merchant_headers, db
):
    """A manual retry answered "Webhook retry scheduled" for a delivery that could never be
    sent: its endpoint deleted (five attempts failing over hours) or disabled (ended at once).
    It is refused in words, and the delivery stays as it was."""
    deleted = add_endpoint(client, merchant_headers, url="http://127.0.0.1:9/deleted")
    disabled = add_endpoint(client, merchant_headers, url="http://127.0.0.1:9/disabled")
    make_payment(client, merchant_headers)
    client.delete(f"{ENDPOINTS}/{deleted['id']}", headers=merchant_headers)
    client.patch(
        f"{ENDPOINTS}/{disabled['id']}", json={"status": "disabled"}, headers=merchant_headers
    )

    for endpoint, wanted in (
        (deleted, "The endpoint of this delivery was deleted, so it cannot be delivered again"),
        # Words true wherever they are shown: the dashboard shows them verbatim, where no
        # "PATCH status" exists.
        (disabled, "The endpoint of this delivery is disabled: enable the endpoint before retrying"),
    ):  # fmt: skip
        log_id = client.get(
            f"/api/v1/webhooks?endpoint_id={endpoint['id']}", headers=merchant_headers
        ).json()["data"][0]["id"]
        response = client.post(f"/api/v1/webhooks/{log_id}/retry", headers=merchant_headers)
        assert response.status_code == 400
        assert response.json() == {"error": {"code": "BAD_REQUEST_ERROR", "description": wanted}}
        log = db.execute(
            "SELECT status, next_retry_at FROM webhook_logs WHERE id = %s", (log_id,)
        ).fetchone()
        assert (log["status"], log["next_retry_at"]) == ("failed", None)


def test_a_retry_of_a_type_the_endpoint_no_longer_takes_is_refused_saying_why(
    client, merchant_headers, db
):
    """After an endpoint's events were narrowed, a manual retry of a delivery of a type it
    dropped answered "Webhook retry scheduled" and sent it: it is refused in words until the
    filter takes the type again, and the delivery stays as it was."""
    endpoint = add_endpoint(client, merchant_headers, events=["payment.created", "payment.pending"])
    make_payment(client, merchant_headers)
    path = f"{ENDPOINTS}/{endpoint['id']}"
    client.patch(path, json={"events": ["payment.pending"]}, headers=merchant_headers)
    log_id = client.get(
        f"/api/v1/webhooks?endpoint_id={endpoint['id']}&event=payment.created",
        headers=merchant_headers,
    ).json()["data"][0]["id"]
    db.execute("UPDATE webhook_logs SET next_retry_at = now() + interval '1 hour'")

    refused = client.post(f"/api/v1/webhooks/{log_id}/retry", headers=merchant_headers)

    assert refused.status_code == 400, refused.text
    assert refused.json() == {"error": {"code": "BAD_REQUEST_ERROR", "description": (
        "The endpoint of this delivery no longer takes payment.created events: add the type to"
        " its events before retrying"
    )}}  # fmt: skip
    log = db.execute(
        "SELECT attempts, next_retry_at > now() + interval '50 minutes' AS later"
        " FROM webhook_logs WHERE id = %s",
        (log_id,),
    ).fetchone()
    assert (log["attempts"], log["later"]) == (0, True)
    client.patch(path, json={"events": ["payment.created"]}, headers=merchant_headers)
    retried = client.post(f"/api/v1/webhooks/{log_id}/retry", headers=merchant_headers)
    assert retried.status_code == 200, retried.text


def test_a_retry_once_the_endpoint_is_enabled_again_forgets_why_it_ended(client, merchant_headers):
    """A delivery ended by disabling its endpoint, retried once it is enabled again, no longer
    reads "endpoint disabled" as its last error: that reason was over."""
    endpoint = add_endpoint(client, merchant_headers)
    make_payment(client, merchant_headers)
    path = f"{ENDPOINTS}/{endpoint['id']}"
    client.patch(path, json={"status": "disabled"}, headers=merchant_headers)
    client.patch(path, json={"status": "enabled"}, headers=merchant_headers)
    log = client.get(
        f"/api/v1/webhooks?endpoint_id={endpoint['id']}", headers=merchant_headers
    ).json()["data"][0]
    assert log["last_error"] == "endpoint disabled"

    retried = client.post(f"/api/v1/webhooks/{log['id']}/retry", headers=merchant_headers)

    assert retried.status_code == 200, retried.text
    log = client.get(f"/api/v1/webhooks/{log['id']}", headers=merchant_headers).json()
    assert (log["status"], log["attempts"], log["last_error"]) == ("pending", 0, None)


def test_only_a_new_url_or_status_starts_a_clean_record(client, merchant_headers, db):
    """Sending an endpoint the URL or status it has already changes nothing: a merchant's
    script doing so cannot put off the automatic disabling of a failing endpoint."""
    endpoint = add_endpoint(client, merchant_headers)
    path = f"{ENDPOINTS}/{endpoint['id']}"
    streak = "SELECT failing_since FROM webhook_endpoints WHERE id = %s"

    def failing_since():
        return db.execute(streak, (endpoint["id"],)).fetchone()["failing_since"]

    db.execute(
        "UPDATE webhook_endpoints SET failing_since = now() - interval '1 hour' WHERE id = %s",
        (endpoint["id"],),
    )
    for body in ({"status": "enabled"}, {"url": endpoint["url"]}, {"description": "Orders"}):
        response = client.patch(path, json=body, headers=merchant_headers)
        assert response.status_code == 200, response.text
        assert failing_since() is not None, body

    client.patch(path, json={"url": "http://127.0.0.1:9/new-hook"}, headers=merchant_headers)
    assert failing_since() is None

    db.execute(
        "UPDATE webhook_endpoints SET failing_since = now(), status = 'disabled',"
        " disabled_reason = 'answered 410 Gone' WHERE id = %s",
        (endpoint["id"],),
    )
    enabled = client.patch(path, json={"status": "enabled"}, headers=merchant_headers).json()
    assert (enabled["status"], enabled["disabled_reason"], failing_since()) == (
        "enabled", None, None,
    )  # fmt: skip


def test_disabling_stores_events_without_logs_for_it(client, merchant_headers, db):
    endpoint = add_endpoint(client, merchant_headers)
    client.patch(
        f"{ENDPOINTS}/{endpoint['id']}", json={"status": "disabled"}, headers=merchant_headers
    )

    make_payment(client, merchant_headers)

    assert db.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 2
    assert client.get("/api/v1/webhooks", headers=merchant_headers).json()["total"] == 0


def test_recover_queues_each_missed_event_once(client, merchant_headers, db):
    endpoint = add_endpoint(client, merchant_headers, events=["payment.created"])
    path = f"{ENDPOINTS}/{endpoint['id']}"
    client.patch(path, json={"status": "disabled"}, headers=merchant_headers)
    make_payment(client, merchant_headers)
    make_payment(client, merchant_headers)
    since = db.execute("SELECT min(created_at) AS t FROM events").fetchone()["t"]
    body = {"since": since.isoformat()}

    refused = client.post(f"{path}/recover", json=body, headers=merchant_headers)
    assert refused.status_code == 400
    assert refused.json()["error"]["description"] == (
        "The endpoint is disabled: enable it before recovering"
    )
    client.patch(path, json={"status": "enabled"}, headers=merchant_headers)

    first = client.post(f"{path}/recover", json=body, headers=merchant_headers)
    again = client.post(f"{path}/recover", json=body, headers=merchant_headers)

    assert (first.status_code, first.json()) == (202, {"queued": 2})
    assert (again.status_code, again.json()) == (202, {"queued": 0})
    logs = client.get(f"/api/v1/webhooks?endpoint_id={endpoint['id']}", headers=merchant_headers)
    recovered = logs.json()["data"]
    assert {log["event"] for log in recovered} == {"payment.created"} and len(recovered) == 2
    events = {row["id"] for row in db.execute("SELECT id::text FROM events").fetchall()}
    assert {log["event_id"] for log in recovered} <= events
    assert all(log["id"] != log["event_id"] for log in recovered)


def test_recover_reads_its_window_to_the_millisecond_an_event_shows(client, merchant_headers, db):
    """Events are stored to the microsecond and shown to the millisecond. Recovering with an
    event's own created_at (as the events API shows it) as both bounds queued nothing, while
    the events API, given the same bounds, finds the event."""
    endpoint = add_endpoint(client, merchant_headers, events=["payment.created"])
    path = f"{ENDPOINTS}/{endpoint['id']}"
    client.patch(path, json={"status": "disabled"}, headers=merchant_headers)
    make_payment(client, merchant_headers)
    db.execute("UPDATE events SET created_at = date_trunc('second', now()) + interval '123456 us'")
    [event] = client.get("/api/v1/events?type=payment.created", headers=merchant_headers).json()[
        "data"
    ]
    shown = event["created_at"]
    assert shown.endswith(".123Z")
    found = client.get(
        f"/api/v1/events?created_from={shown}&created_to={shown}&type=payment.created",
        headers=merchant_headers,
    ).json()
    assert found["total"] == 1
    client.patch(path, json={"status": "enabled"}, headers=merchant_headers)

    recovered = client.post(
        f"{path}/recover", json={"since": shown, "until": shown}, headers=merchant_headers
    )

    assert (recovered.status_code, recovered.json()) == (202, {"queued": 1})
    [log] = client.get(
        f"/api/v1/webhooks?endpoint_id={endpoint['id']}", headers=merchant_headers
    ).json()["data"]
    assert log["event_id"] == event["id"]


def test_a_recovery_under_an_idempotency_key_leaves_the_endpoint_to_the_dispatcher(
    client, merchant_headers, db, database_url, api_runtime
):
    """With an Idempotency-Key (the dashboard always sends one) a recovery is one transaction,
    its response stored with its work: its batches are savepoints, and the endpoint's row,
    locked by each, stayed locked to the end (seconds for 100,000 events). A dispatcher
    recording an attempt to that endpoint waited all that time, and with it every other
    merchant's attempts in its batch. A recovery now holds nothing a dispatcher takes."""
    from api.webhooks import service
    from api.webhooks.schemas import EndpointRecover

    endpoint = add_endpoint(client, merchant_headers, events=["payment.created"])
    make_payment(client, merchant_headers)
    since = db.execute("SELECT min(created_at) AS t FROM events").fetchone()["t"]
    merchant_id = str(db.execute("SELECT id FROM merchants WHERE is_test").fetchone()["id"])
    db.execute("UPDATE webhook_logs SET status = 'failed', next_retry_at = NULL")

    def lock_as_a_dispatcher_records() -> bool:
        with psycopg.connect(database_url) as other:
            try:
                other.execute(
                    "SELECT 1 FROM webhook_endpoints WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                    (endpoint["id"],),
                )
            except psycopg.errors.LockNotAvailable:
                return False
            return True

    async def recover_and_look() -> tuple[dict, bool]:
        async with api_runtime.db.transaction() as tx:  # as under an Idempotency-Key
            body = EndpointRecover(since=since.isoformat())
            queued = await service.recover(tx, merchant_id, endpoint["id"], body)
            return queued, await asyncio.to_thread(lock_as_a_dispatcher_records)

    queued, dispatcher_could_lock = api_runtime.run(recover_and_look())

    assert queued == {"queued": 1}
    assert dispatcher_could_lock


def test_two_recoveries_of_one_endpoint_at_once_queue_each_event_once(client, merchant_headers, db):
    endpoint = add_endpoint(client, merchant_headers, events=["payment.created"])
    path = f"{ENDPOINTS}/{endpoint['id']}"
    client.patch(path, json={"status": "disabled"}, headers=merchant_headers)
    for _ in range(5):
        make_payment(client, merchant_headers)
    client.patch(path, json={"status": "enabled"}, headers=merchant_headers)
    since = db.execute("SELECT min(created_at) AS t FROM events").fetchone()["t"]
    body = {"since": since.isoformat()}

    def recover(key: str):
        return client.post(
            f"{path}/recover", json=body, headers=merchant_headers | {"Idempotency-Key": key}
        )

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(recover, ["a", "b", "c", "d"]))

    assert sorted(a.json()["queued"] for a in answers) == [0, 0, 0, 5]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"since": "2020-01-01T00:00:00Z"}, "since"),
     ({"since": "2026-02-30T00:00:00Z"}, "since"),
     ({"since": "yesterday"}, "since"),
     # until left out is now: a since in the future is the field at fault, not until.
     ({"since": "2099-01-01T00:00:00Z"}, "since"),
     ({}, "since")],
)  # fmt: skip
def test_recover_refuses_bad_windows(client, merchant_headers, body, field):
    endpoint = add_endpoint(client, merchant_headers)

    response = client.post(
        f"{ENDPOINTS}/{endpoint['id']}/recover", json=body, headers=merchant_headers
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("field", ["since", "until"])
def test_recover_names_the_time_form_it_wants(client, merchant_headers, field):
    """`{"since": "yesterday"}` answered "since has an invalid format": the field, but not
    what it wants."""
    endpoint = add_endpoint(client, merchant_headers)
    body = {"since": "2026-01-15T10:30:00Z"} | {field: "yesterday"}

    response = client.post(
        f"{ENDPOINTS}/{endpoint['id']}/recover", json=body, headers=merchant_headers
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": f"{field} must be an ISO-8601 time such as 2026-01-15T10:30:00Z",
        "field": field,
    }


def test_recover_until_before_since_is_refused(client, merchant_headers):
    endpoint = add_endpoint(client, merchant_headers)
    response = client.post(
        f"{ENDPOINTS}/{endpoint['id']}/recover",
        json={"since": "2099-01-02T00:00:00Z", "until": "2099-01-01T00:00:00Z"},
        headers=merchant_headers,
    )
    assert response.status_code == 400


def test_endpoint_posts_honour_the_idempotency_key(client, merchant_headers):
    headers = merchant_headers | {"Idempotency-Key": "add-fulfilment"}

    first = client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/f"}, headers=headers)
    replay = client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/f"}, headers=headers)
    other = client.post(ENDPOINTS, json={"url": "http://127.0.0.1:9/g"}, headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content and replay.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert client.get(ENDPOINTS, headers=merchant_headers).json()["total"] == 1

    path = f"{ENDPOINTS}/{first.json()['id']}/rotate-secret"
    rotated = client.post(path, headers=merchant_headers | {"Idempotency-Key": "rotate-1"})
    rotated_again = client.post(path, headers=merchant_headers | {"Idempotency-Key": "rotate-1"})
    assert rotated.json()["secret"] == rotated_again.json()["secret"]


def test_private_urls_are_refused_as_for_the_config(guarded_client, merchant_headers):
    response = guarded_client.post(
        ENDPOINTS, json={"url": "http://169.254.169.254/latest"}, headers=merchant_headers
    )
    assert response.status_code == 400
    assert "private or reserved" in response.json()["error"]["description"]


@pytest.mark.parametrize(
    "body",
    [{"url": None}, {"url": ""}, {"url": "ftp://127.0.0.1/x"}, {"events": None},
     {"status": "paused"}, {"status": None}, {"default": True}, {"secret": "whsec_mine"},
     {"description": 5}],
)  # fmt: skip
def test_patch_refuses_bad_fields_and_changes_nothing(client, merchant_headers, body):
    endpoint = add_endpoint(client, merchant_headers, description="Kept")

    response = client.patch(f"{ENDPOINTS}/{endpoint['id']}", json=body, headers=merchant_headers)

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"
    kept = client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=merchant_headers).json()
    assert {k: kept[k] for k in endpoint} == endpoint


@pytest.mark.parametrize("url", ["http://127.1/x", "ftp://127.0.0.1/x", "http://127.0.0.1:0/x"])
def test_a_bad_endpoint_url_is_named_url_not_webhook_url(client, merchant_headers, url):
    # The endpoints API takes `url`: the error names that field, on create and on update,
    # so a client (and the dashboard's form) marks the field it sent (docs/api.md#errors).
    created = client.post(ENDPOINTS, json={"url": url}, headers=merchant_headers)
    endpoint = add_endpoint(client, merchant_headers)
    updated = client.patch(
        f"{ENDPOINTS}/{endpoint['id']}", json={"url": url}, headers=merchant_headers
    )

    for response in (created, updated):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["field"] == "url"
        assert error["description"].startswith("url ")
        assert "webhook_url" not in error["description"]
