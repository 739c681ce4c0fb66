"""The events API (docs/api.md#events, docs/webhooks.md#events): every event is stored when it
happens, with or without a webhook URL; its id is the `webhook-id` (and log id) of its delivery;
filters; isolation; retention."""

import json

import pytest

from factories import (
    create_order,
    create_payment,
    headers_for,
    sign_up,
    upi_payment_body,
)
from shared.backends.housekeeping import expired_events, run_purges


def make_payment(client, headers) -> dict:
    order = create_order(client, headers)
    return create_payment(client, headers, upi_payment_body(order["id"]))


def list_events(client, headers, **params) -> dict:
    response = client.get("/api/v1/events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_events_are_stored_without_a_webhook_url(client, merchant_headers, db):
    payment = make_payment(client, merchant_headers)

    page = list_events(client, merchant_headers)

    # Newest first; events of one transaction in the reverse of the order they happened.
    assert [e["type"] for e in page["data"]] == ["payment.pending", "payment.created"]
    assert (page["total"], page["limit"], page["offset"], page["total_is_estimate"]) == (
        2, 10, 0, False,
    )  # fmt: skip
    assert {e["data"]["payment"]["id"] for e in page["data"]} == {payment["id"]}
    assert all(e["created_at"].endswith("Z") for e in page["data"])
    # No URL: nothing logged or sent (docs/webhooks.md#events).
    assert db.execute("SELECT count(*) AS n FROM webhook_logs").fetchone()["n"] == 0
    detail = client.get(f"/api/v1/events/{page['data'][0]['id']}", headers=merchant_headers)
    assert detail.status_code == 200 and detail.json()["deliveries"] == []


def test_event_id_is_the_delivery_log_id_and_body_is_exact(
    client, merchant_headers, db, webhook_url
):
    make_payment(client, merchant_headers)
    logs = db.execute("SELECT id, event_id, payload FROM webhook_logs").fetchall()
    assert len(logs) == 2 and all(log["id"] == log["event_id"] for log in logs)

    for log in logs:
        event = client.get(f"/api/v1/events/{log['id']}", headers=merchant_headers).json()
        assert event["id"] == str(log["id"])
        assert event["body"] == log["payload"]  # the exact bytes delivered and signed
        assert event["data"] == json.loads(log["payload"])["data"]
        assert set(event) == {"id", "type", "created_at", "data", "body", "deliveries"}
        [delivery] = event["deliveries"]
        assert delivery["id"] == event["id"] and delivery["event"] == event["type"]
        assert delivery["status"] == "pending"


def test_webhook_test_event_is_an_event(client, merchant_headers, webhook_url):
    sent = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()
    event = client.get(f"/api/v1/events/{sent['id']}", headers=merchant_headers).json()
    assert event["type"] == "webhook.test"


def test_newest_first_with_paging(client, merchant_headers):
    for _ in range(3):
        make_payment(client, merchant_headers)

    everything = list_events(client, merchant_headers, limit=100)["data"]
    second_page = list_events(client, merchant_headers, limit=2, offset=2)

    assert len(everything) == 6
    stamps = [e["created_at"] for e in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert [e["id"] for e in second_page["data"]] == [e["id"] for e in everything[2:4]]
    assert second_page["total"] == 6


def test_filter_by_type(client, merchant_headers):
    make_payment(client, merchant_headers)
    make_payment(client, merchant_headers)

    page = list_events(client, merchant_headers, type="payment.pending")

    assert page["total"] == 2 and {e["type"] for e in page["data"]} == {"payment.pending"}


def test_unknown_type_is_a_bad_request(client, merchant_headers):
    response = client.get("/api/v1/events", params={"type": "nope"}, headers=merchant_headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_ERROR"


def test_filter_by_creation_time(client, merchant_headers, db):
    make_payment(client, merchant_headers)
    make_payment(client, merchant_headers)
    old, new = (
        db.execute("SELECT id FROM events ORDER BY created_at, type LIMIT 2").fetchall(),
        db.execute("SELECT id FROM events ORDER BY created_at DESC, type LIMIT 2").fetchall(),
    )
    ids = [str(row["id"]) for row in old]
    db.execute(
        "UPDATE events SET created_at = '2026-01-01T10:00:00Z' WHERE id = ANY(%s::uuid[])", (ids,)
    )
    assert {str(r["id"]) for r in new}.isdisjoint(ids)

    before = list_events(client, merchant_headers, created_to="2026-01-01T10:00:00Z")
    after = list_events(client, merchant_headers, created_from="2026-01-01T10:00:00.001Z")
    window = list_events(
        client,
        merchant_headers,
        created_from="2026-01-01T09:59:59+00:00",
        created_to="2026-01-01T10:00:01",  # no offset: UTC
    )

    assert sorted(e["id"] for e in before["data"]) == sorted(ids)
    assert after["total"] == 2 and not {e["id"] for e in after["data"]} & set(ids)
    assert sorted(e["id"] for e in window["data"]) == sorted(ids)


def test_time_filters_compare_at_the_millisecond_shown(client, merchant_headers, db):
    """Events are stored to the microsecond and shown to the millisecond: an event's own
    `created_at` as both bounds finds it, and `created_to` at the newest one keeps it."""
    make_payment(client, merchant_headers)
    make_payment(client, merchant_headers)
    stored = {  # oldest first; two in one millisecond, the newest late in its own
        "2026-01-01T10:00:00.123456Z", "2026-01-01T10:00:00.123999Z",
        "2026-01-01T10:00:00.124000Z", "2026-01-01T10:00:00.500700Z",
    }  # fmt: skip
    ids = [str(r["id"]) for r in db.execute("SELECT id FROM events ORDER BY seq").fetchall()]
    for event_id, moment in zip(ids, sorted(stored), strict=True):
        db.execute("UPDATE events SET created_at = %s WHERE id = %s", (moment, event_id))
    shown = {e["id"]: e["created_at"] for e in list_events(client, merchant_headers)["data"]}
    assert shown[ids[0]] == "2026-01-01T10:00:00.123Z"

    def found(**bounds: str) -> list[str]:
        return sorted(e["id"] for e in list_events(client, merchant_headers, **bounds)["data"])

    for event_id in ids:
        own = shown[event_id]
        assert event_id in found(created_from=own, created_to=own)
    assert found(created_from=shown[ids[0]], created_to=shown[ids[0]]) == sorted(ids[:2])
    assert found(created_to=shown[ids[3]]) == sorted(ids)
    assert found(created_from=shown[ids[3]]) == [ids[3]]
    # A bound finer than a millisecond means the millisecond it falls in.
    assert found(created_from="2026-01-01T10:00:00.123999Z") == sorted(ids)
    assert found(created_to="2026-01-01T10:00:00.123001Z") == sorted(ids[:2])


@pytest.mark.parametrize("created_to", ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999999Z"])
def test_created_to_at_the_last_millisecond_there_is_finds_every_event(
    client, merchant_headers, created_to
):
    # The end of its millisecond is past the last time there is: no bound, not a 500.
    make_payment(client, merchant_headers)

    page = list_events(client, merchant_headers, created_to=created_to)

    assert page["total"] == 2
    assert list_events(client, merchant_headers, created_from=created_to)["total"] == 0


@pytest.mark.parametrize("value", ["yesterday", "0.5", "1705315870", "2026-02-30T00:00:00Z"])
def test_malformed_time_is_a_bad_request(client, merchant_headers, value):
    # Found by the fuzzer: a bare number was read as Unix seconds.
    for name in ("created_from", "created_to"):
        response = client.get("/api/v1/events", params={name: value}, headers=merchant_headers)
        assert response.status_code == 400
        assert name in response.json()["error"]["description"]


@pytest.mark.parametrize("value", ["yesterday", "1705315870", "2026-01-15T10:30:00,5Z"])
def test_a_time_not_of_the_iso_form_is_refused_saying_what_is_wanted(
    client, merchant_headers, value
):
    """Reported: `created_from=yesterday` answered "created_from has an invalid format",
    naming the field but not what it wants, while an impossible date showed an example."""
    for name in ("created_from", "created_to"):
        response = client.get("/api/v1/events", params={name: value}, headers=merchant_headers)

        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "BAD_REQUEST_ERROR",
            "description": f"{name} must be an ISO-8601 time such as 2026-01-15T10:30:00Z",
            "field": name,
        }


def test_an_impossible_time_shows_the_same_example(client, merchant_headers):
    # Its example differed from the form error's (".000Z"): one example for one field.
    response = client.get(
        "/api/v1/events", params={"created_from": "2026-13-15"}, headers=merchant_headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["description"] == (
        "created_from must be an ISO-8601 time such as 2026-01-15T10:30:00Z"
    )


def test_a_fraction_of_any_length_is_read_as_rfc_3339_allows(client, merchant_headers):
    """RFC 3339's `time-secfrac` is any number of digits: seven or nine were refused."""
    make_payment(client, merchant_headers)
    own = list_events(client, merchant_headers)["data"][0]["created_at"]  # ...10:30:00.123Z

    longer = own.replace("Z", "4567Z")
    page = list_events(client, merchant_headers, created_from=longer, created_to=longer)

    assert own in {event["created_at"] for event in page["data"]}


def test_a_time_with_a_lowercase_t_and_z_is_read_as_rfc_3339_allows(client, merchant_headers):
    """RFC 3339 lets `T` and `Z` be lowercase: `2026-01-15t10:30:00z` was refused as of an
    invalid format, though the same time in capitals is taken."""
    make_payment(client, merchant_headers)
    own = list_events(client, merchant_headers)["data"][0]["created_at"]

    lowercase = own.replace("T", "t").replace("Z", "z")
    page = list_events(client, merchant_headers, created_from=lowercase, created_to=lowercase)

    assert page["total"] >= 1
    assert own in {event["created_at"] for event in page["data"]}


@pytest.mark.parametrize("event_id", ["7f0c2a52-7a61-4c52-9d7b-3a3f6a0f0e11", "not-a-uuid"])
def test_unknown_event_is_404(client, merchant_headers, event_id):
    response = client.get(f"/api/v1/events/{event_id}", headers=merchant_headers)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "NOT_FOUND_ERROR", "description": "Event not found"}
    }


def test_a_merchant_never_sees_another_merchants_events(client, merchant_headers, db):
    other = headers_for(sign_up(client))
    make_payment(client, other)
    foreign_id = list_events(client, other)["data"][0]["id"]

    assert list_events(client, merchant_headers)["total"] == 0
    foreign = client.get(f"/api/v1/events/{foreign_id}", headers=merchant_headers)
    unknown = client.get(
        "/api/v1/events/7f0c2a52-7a61-4c52-9d7b-3a3f6a0f0e11", headers=merchant_headers
    )
    assert foreign.status_code == 404 and foreign.content == unknown.content


def test_events_need_credentials(client):
    assert client.get("/api/v1/events").status_code == 401


def test_retention_purges_old_events_in_batches_and_keeps_their_logs(
    client, merchant_headers, db, webhook_url, database_url
):
    from shared.backends.db import Database

    for _ in range(3):
        make_payment(client, merchant_headers)
    db.execute(
        "UPDATE events SET created_at = now() - interval '31 days'"
        " WHERE id IN (SELECT id FROM events ORDER BY created_at LIMIT 5)"
    )

    database = Database(database_url, min_size=1, max_size=1, name="purge-test")
    database.open()
    try:
        assert run_purges(database, [expired_events(30)], batch=2) == 5
        assert run_purges(database, [expired_events(30)], batch=2) == 0
    finally:
        database.close()

    assert list_events(client, merchant_headers)["total"] == 1
    # The logs stay with their event id (the webhook-id a retry still sends), event or not.
    logs = db.execute(
        "SELECT l.event_id, e.id IS NOT NULL AS kept FROM webhook_logs l"
        " LEFT JOIN events e ON e.id = l.event_id"
    ).fetchall()
    assert len(logs) == 6 and all(log["event_id"] is not None for log in logs)
    assert sum(not log["kept"] for log in logs) == 5


def test_housekeeping_purges_events_past_the_configured_retention(
    worker_env, db, client, merchant_headers
):
    from shared.backends.housekeeping import gateway_purges
    from shared.backends.worker import runtime

    make_payment(client, merchant_headers)
    db.execute("UPDATE events SET created_at = now() - interval '2 days'")
    worker_env.setenv("EVENT_RETENTION_DAYS", "1")
    current = runtime()

    assert run_purges(current.db, gateway_purges(current.settings)) == 2
    assert list_events(client, merchant_headers)["total"] == 0


def test_signed_delivery_is_signed_as_the_dispatcher_signs_with_every_secret_in_force(
    client, merchant_headers
):
    from standardwebhooks import Webhook

    from payment_gateway.webhooks import verify_legacy_hex

    first = client.get("/api/v1/webhooks/config", headers=merchant_headers).json()
    make_payment(client, merchant_headers)
    event_id = list_events(client, merchant_headers)["data"][0]["id"]
    rotated = client.post("/api/v1/webhooks/config/rotate-secret", headers=merchant_headers)
    second = rotated.json()["webhook_secret"]

    response = client.get(f"/api/v1/events/{event_id}/delivery", headers=merchant_headers)

    assert response.status_code == 200, response.text
    delivery = response.json()
    body, headers = delivery["body"].encode(), delivery["headers"]
    assert delivery["id"] == headers["webhook-id"] == event_id
    assert (
        body.decode()
        == client.get(f"/api/v1/events/{event_id}", headers=merchant_headers).json()["body"]
    )
    # Both secrets in force sign, the current one first, in both headers.
    assert len(headers["X-Webhook-Signature"].split(",")) == 2
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (first["webhook_secret"], second):
        assert Webhook(secret).verify(body, headers)["data"]["payment"]
        assert verify_legacy_hex(body, headers, secret)


@pytest.mark.parametrize("event_id", ["7f0c2a52-7a61-4c52-9d7b-3a3f6a0f0e11", "not-a-uuid"])
def test_signed_delivery_of_an_unknown_or_foreign_event_is_404(client, merchant_headers, event_id):
    other = headers_for(sign_up(client))
    make_payment(client, other)
    foreign_id = list_events(client, other)["data"][0]["id"]

    for unknown in (event_id, foreign_id):
        response = client.get(f"/api/v1/events/{unknown}/delivery", headers=merchant_headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND_ERROR"
    assert client.get(f"/api/v1/events/{foreign_id}/delivery").status_code == 401
