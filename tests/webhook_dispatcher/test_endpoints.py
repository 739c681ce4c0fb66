"""Several webhook endpoints per merchant, delivered for real: fan-out with filters, each
endpoint's own secret and schedule, automatic disabling, recovery, isolation."""

import json
import threading
import time

import pytest
from standardwebhooks import Webhook

from factories import create_order, create_payment, headers_for, sign_up, upi_payment_body
from shared.core.signing import hex_signature
from webhook_dispatcher.delivery import MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_ENDPOINT

ENDPOINTS = "/api/v1/webhooks/endpoints"
WEBHOOK_DISABLED = "webhook_endpoint.disabled"


def add_endpoint(client, headers, url, **body) -> dict:
    response = client.post(ENDPOINTS, json={"url": url, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def receiving(start_receiver, client, headers, **body):
    """A receiver and the endpoint pointing at it, the receiver checking that endpoint's
    secret (it answers 401 to any other signature)."""
    receiver = start_receiver(secrets=("whsec_unset",), **body.pop("receiver", {}))
    endpoint = add_endpoint(client, headers, receiver.url, **body)
    receiver.receiver.secrets = [endpoint["secret"]]
    return receiver, endpoint


def make_payment(client, headers) -> dict:
    order = create_order(client, headers)
    return create_payment(client, headers, upi_payment_body(order["id"]))


def logs_of(db, endpoint_id) -> list[dict]:
    return db.execute(
        "SELECT * FROM webhook_logs WHERE endpoint_id = %s ORDER BY created_at, event",
        (endpoint_id,),
    ).fetchall()


def test_fan_out_to_three_endpoints_each_filtered_and_signed_with_its_own_secret(
    client, merchant_headers, db, start_receiver, dispatcher
):
    everything, every_endpoint = receiving(start_receiver, client, merchant_headers)
    created, created_endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created"]
    )
    refunds, _ = receiving(start_receiver, client, merchant_headers, events=["refund.created"])

    payment = make_payment(client, merchant_headers)
    dispatcher()

    assert sorted(e["event"] for e in everything.events) == ["payment.created", "payment.pending"]
    assert [e["event"] for e in created.events] == ["payment.created"]
    assert refunds.events == []
    event_ids = {
        row["type"]: str(row["id"]) for row in db.execute("SELECT id, type FROM events").fetchall()
    }
    for receiver, endpoint in ((everything, every_endpoint), (created, created_endpoint)):
        for delivery in receiver.events:
            headers, body = delivery["headers"], delivery["body"]
            # The reference package verifies with this endpoint's secret, and the hex header too.
            Webhook(endpoint["secret"]).verify(body, headers)
            assert headers["x-webhook-signature"] == hex_signature(
                endpoint["secret"], body.encode()
            )
            with pytest.raises(Exception):  # noqa: B017 - any verification error
                Webhook("whsec_test_abc123").verify(body, headers)
            # webhook-id is the event id on every endpoint.
            assert headers["webhook-id"] == event_ids[delivery["event"]]
            assert json.loads(body)["data"]["payment"]["id"] == payment["id"]
    # One body per event: byte-identical on every endpoint.
    [created_everywhere] = [e for e in everything.events if e["event"] == "payment.created"]
    assert created.events[0]["body"] == created_everywhere["body"]
    assert {log["status"] for log in db.execute("SELECT status FROM webhook_logs")} == {"success"}


def test_each_endpoint_keeps_its_own_retries(
    client, merchant_headers, db, start_receiver, dispatcher
):
    healthy, healthy_endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created"]
    )
    flaky, flaky_endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created"],
        receiver={"fail_first": 1},
    )  # fmt: skip

    make_payment(client, merchant_headers)
    dispatcher()

    [good] = logs_of(db, healthy_endpoint["id"])
    [bad] = logs_of(db, flaky_endpoint["id"])
    assert (good["status"], good["attempts"]) == ("success", 1)
    assert (bad["status"], bad["attempts"], bad["response_code"]) == ("pending", 1, 500)
    assert bad["next_retry_at"] is not None

    db.execute("UPDATE webhook_logs SET next_retry_at = now() WHERE id = %s", (bad["id"],))
    dispatcher()

    [bad] = logs_of(db, flaky_endpoint["id"])
    assert (bad["status"], bad["attempts"]) == ("success", 2)
    assert len(healthy.events) == 1 and len(flaky.events) == 2
    assert {e["headers"]["webhook-id"] for e in flaky.events} == {
        e["headers"]["webhook-id"] for e in healthy.events
    }


def disabled_events(db) -> list[dict]:
    rows = db.execute(
        "SELECT body FROM events WHERE type = 'webhook_endpoint.disabled' ORDER BY seq"
    ).fetchall()
    return [json.loads(row["body"])["data"]["endpoint"] for row in rows]


def disabled_count(reason: str) -> float:
    from prometheus_client import REGISTRY

    return (
        REGISTRY.get_sample_value("gateway_webhook_endpoints_disabled_total", {"reason": reason})
        or 0.0
    )


def test_an_endpoint_answering_410_is_disabled_at_once_and_the_others_are_told(
    client, merchant_headers, db, start_receiver, dispatcher
):
    watcher, watcher_endpoint = receiving(start_receiver, client, merchant_headers)
    _, gone_endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created"],
        receiver={"fail_first": 1000, "fail_status": 410},
    )  # fmt: skip
    before = disabled_count("gone")

    make_payment(client, merchant_headers)
    dispatcher()
    dispatcher()  # the disabled event, queued by the first tick's attempts

    endpoint = client.get(f"{ENDPOINTS}/{gone_endpoint['id']}", headers=merchant_headers).json()
    assert endpoint["status"] == "disabled"
    assert endpoint["disabled_reason"] == "the endpoint answered 410 Gone"
    [log] = logs_of(db, gone_endpoint["id"])
    assert (log["status"], log["attempts"]) == ("failed", 1)
    assert disabled_count("gone") == before + 1
    [told] = disabled_events(db)
    assert told["id"] == gone_endpoint["id"] and "secret" not in told
    assert told["disabled_reason"] == "the endpoint answered 410 Gone"
    assert [e["event"] for e in watcher.events].count("webhook_endpoint.disabled") == 1
    Webhook(watcher_endpoint["secret"]).verify(
        watcher.events[-1]["body"], watcher.events[-1]["headers"]
    )

    # Events while it is disabled are stored, with no log for it.
    make_payment(client, merchant_headers)
    assert len(logs_of(db, gone_endpoint["id"])) == 1


def test_recovering_a_disabled_endpoint_does_not_send_it_its_own_disabling(
    client, merchant_headers, db, start_receiver, dispatcher
):
    """The `webhook_endpoint.disabled` event about an endpoint is for the merchant's other
    endpoints (docs/webhooks.md#endpoint-health); recovering the endpoint once it is fixed sent
    it that event too, as if it were one it had missed."""
    receiving(start_receiver, client, merchant_headers)  # one other endpoint, told at once
    gone, endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created", WEBHOOK_DISABLED],
        receiver={"fail_first": 1, "fail_status": 410},
    )  # fmt: skip
    make_payment(client, merchant_headers)
    dispatcher()
    dispatcher()
    [told] = disabled_events(db)
    assert told["id"] == endpoint["id"]
    since = db.execute("SELECT min(created_at) AS t FROM events").fetchone()["t"]

    path = f"{ENDPOINTS}/{endpoint['id']}"
    client.patch(path, json={"status": "enabled"}, headers=merchant_headers)
    recovered = client.post(
        f"{path}/recover", json={"since": since.isoformat()}, headers=merchant_headers
    )
    dispatcher()

    # The payment event answered 410 is sent again; the notice of its disabling is not.
    assert recovered.json() == {"queued": 1}
    assert [e["event"] for e in gone.events] == ["payment.created", "payment.created"]
    assert WEBHOOK_DISABLED not in {log["event"] for log in logs_of(db, endpoint["id"])}


def test_an_endpoint_failing_for_the_disable_after_period_is_disabled(
    client, merchant_headers, db, start_receiver, dispatcher, worker_env
):
    worker_env.setenv("WEBHOOK_ENDPOINT_DISABLE_AFTER", "1s")
    _, dead_endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created"],
        receiver={"fail_first": 1000},
    )  # fmt: skip
    for _ in range(5):
        make_payment(client, merchant_headers)
    dispatcher()  # first attempts fail: the endpoint is failing from now
    failing_since = db.execute(
        "SELECT failing_since FROM webhook_endpoints WHERE id = %s", (dead_endpoint["id"],)
    ).fetchone()["failing_since"]
    assert failing_since is not None

    # Four deliveries end failed after the period: not yet five.
    time.sleep(1.1)
    ids = [log["id"] for log in logs_of(db, dead_endpoint["id"])]
    db.execute(
        "UPDATE webhook_logs SET attempts = 4, next_retry_at = now() WHERE id = ANY(%s)",
        (ids[:4],),
    )
    dispatcher()
    status = client.get(f"{ENDPOINTS}/{dead_endpoint['id']}", headers=merchant_headers).json()
    assert status["status"] == "enabled" and status["health"]["failed_24h"] == 4

    # The fifth does it.
    db.execute(
        "UPDATE webhook_logs SET attempts = 4, next_retry_at = now() WHERE id = %s", (ids[4],)
    )
    dispatcher()
    status = client.get(f"{ENDPOINTS}/{dead_endpoint['id']}", headers=merchant_headers).json()
    assert status["status"] == "disabled"
    assert status["disabled_reason"] == "every delivery failed for 1 seconds"
    health = status["health"]
    assert (health["succeeded_24h"], health["failed_24h"]) == (0, 5)
    assert health["last_success_at"] is None
    assert health["retrying"] == 0 and health["last_failure_at"]
    assert [e["id"] for e in disabled_events(db)] == [dead_endpoint["id"]]


def test_deliveries_ended_unsent_do_not_count_towards_disabling_a_failing_endpoint(
    client, merchant_headers, db, start_receiver, dispatcher, worker_env
):
    """An endpoint is disabled when five of its deliveries ended failed: deliveries it was
    never sent, ended at claim because its `events` were narrowed, say nothing of its health,
    so narrowing the filter of a slow-to-recover endpoint does not get it disabled."""
    worker_env.setenv("WEBHOOK_ENDPOINT_DISABLE_AFTER", "1s")
    _, endpoint = receiving(
        start_receiver, client, merchant_headers,
        events=["payment.created", "payment.pending"], receiver={"fail_first": 1000},
    )  # fmt: skip
    for _ in range(5):
        make_payment(client, merchant_headers)
    dispatcher()  # first attempts fail: the endpoint is failing from now
    time.sleep(1.1)
    path = f"{ENDPOINTS}/{endpoint['id']}"
    narrowed = client.patch(path, json={"events": ["payment.pending"]}, headers=merchant_headers)
    assert narrowed.status_code == 200, narrowed.text
    logs = logs_of(db, endpoint["id"])
    created = [log["id"] for log in logs if log["event"] == "payment.created"]
    pending = [log["id"] for log in logs if log["event"] == "payment.pending"]
    db.execute("UPDATE webhook_logs SET next_retry_at = now() WHERE id = ANY(%s)", (created,))
    dispatcher()  # the five payment.created deliveries end unsent
    # One delivery ends failed by its attempts: one, not five.
    db.execute(
        "UPDATE webhook_logs SET attempts = 4, next_retry_at = now() WHERE id = %s", (pending[0],)
    )
    dispatcher()

    status = client.get(path, headers=merchant_headers).json()
    assert status["status"] == "enabled", status


def test_a_delivery_due_now_is_not_held_back_by_a_wait_for_a_retry_due_soon(
    client, merchant_headers, db, start_receiver, dispatcher
):
    """A tick waiting a fraction of a second for a retry (shorter than the 0.25 s plain sleeps
    the payment windows needed) still hears a delivery due now commit, and sends it at once,
    not when the retry falls due: a quiet dispatcher holds nothing back (BATCH_WINDOW_S)."""
    _, endpoint = receiving(start_receiver, client, merchant_headers, events=["*"])
    make_payment(client, merchant_headers)
    dispatcher()
    retry = logs_of(db, endpoint["id"])[0]["id"]
    db.execute(
        "UPDATE webhook_logs SET status = 'pending', next_retry_at = clock_timestamp()"
        " + interval '0.25 seconds' WHERE id = %s",
        (retry,),
    )
    tick = threading.Thread(target=dispatcher)
    tick.start()
    time.sleep(0.03)  # the tick now waits for the retry due at 0.25 s

    payment = make_payment(client, merchant_headers)
    tick.join()

    late = db.execute(
        "SELECT max(extract(epoch FROM a.attempted_at - l.created_at)) AS late"
        " FROM webhook_logs l JOIN webhook_attempts a ON a.webhook_log_id = l.id"
        " WHERE l.object_id = %s",
        (payment["id"],),
    ).fetchone()["late"]
    assert late is not None and late < 0.1, f"sent {late} s after it was due"


def test_a_success_ends_the_failing_streak(
    client, merchant_headers, db, start_receiver, dispatcher, worker_env
):
    worker_env.setenv("WEBHOOK_ENDPOINT_DISABLE_AFTER", "1s")
    _, endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created"],
        receiver={"fail_first": 1},
    )  # fmt: skip
    make_payment(client, merchant_headers)
    dispatcher()
    row = "SELECT failing_since FROM webhook_endpoints WHERE id = %s"
    assert db.execute(row, (endpoint["id"],)).fetchone()["failing_since"] is not None

    db.execute("UPDATE webhook_logs SET next_retry_at = now() WHERE status = 'pending'")
    dispatcher()

    assert db.execute(row, (endpoint["id"],)).fetchone()["failing_since"] is None
    health = client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=merchant_headers).json()
    assert health["health"]["succeeded_24h"] == 1 and health["health"]["last_success_at"]


def test_recovery_after_re_enabling_delivers_each_missed_event_exactly_once(
    client, merchant_headers, db, start_receiver, dispatcher
):
    receiver, endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created", "payment.pending"]
    )
    path = f"{ENDPOINTS}/{endpoint['id']}"
    make_payment(client, merchant_headers)
    dispatcher()  # two delivered before the outage
    since = db.execute("SELECT min(created_at) AS t FROM events").fetchone()["t"]
    client.patch(path, json={"status": "disabled"}, headers=merchant_headers)
    for _ in range(3):
        make_payment(client, merchant_headers)  # six missed
    client.patch(path, json={"status": "enabled"}, headers=merchant_headers)

    recovered = client.post(
        f"{path}/recover", json={"since": since.isoformat()}, headers=merchant_headers
    )
    again = client.post(
        f"{path}/recover", json={"since": since.isoformat()}, headers=merchant_headers
    )
    deadline = time.monotonic() + 10
    while len(receiver.events) < 8 and time.monotonic() < deadline:
        dispatcher()

    assert recovered.json() == {"queued": 6} and again.json() == {"queued": 0}
    ids = [e["headers"]["webhook-id"] for e in receiver.events]
    events = [str(row["id"]) for row in db.execute("SELECT id FROM events").fetchall()]
    assert sorted(ids) == sorted(events) and len(ids) == 8  # each event once
    for delivery in receiver.events:
        Webhook(endpoint["secret"]).verify(delivery["body"], delivery["headers"])
    after = client.post(
        f"{path}/recover", json={"since": since.isoformat()}, headers=merchant_headers
    )
    assert after.json() == {"queued": 0}
    assert {log["status"] for log in logs_of(db, endpoint["id"])} == {"success"}


def test_a_hanging_endpoint_does_not_delay_another_endpoint_of_the_merchant_on_the_same_host(
    client, merchant_headers, db, dispatcher
):
    """Two endpoints of one merchant on one host:port: /hang never answers, /ok at once. With
    the hanging one holding all it may, the other's deliveries keep their latency."""
    from servers import SharedHost, ticking

    host = SharedHost()
    hanging = add_endpoint(client, merchant_headers, f"{host.base}/hang")
    add_endpoint(client, merchant_headers, f"{host.base}/ok", events=["webhook.test"])
    client.put(
        "/api/v1/webhooks/config", json={"webhook_url": f"{host.base}/ok"}, headers=merchant_headers
    )
    try:
        with ticking(dispatcher):
            db.execute(
                "INSERT INTO webhook_logs (merchant_id, endpoint_id, event, payload, next_retry_at)"
                " SELECT id, %s, 'payment.created', %s, now()"
                " FROM merchants, generate_series(1, 80) WHERE is_test",
                (hanging["id"], '{"event":"payment.created","timestamp":1700000000,"data":{}}'),
            )
            host.wait_until_hanging(MAX_IN_FLIGHT_PER_ENDPOINT)
            assert host.hanging >= MAX_IN_FLIGHT_PER_ENDPOINT, "its attempts are not all in flight"

            sent = host.send_test_webhooks(client, merchant_headers, 10, 0.05, within_s=5)

            latencies = host.latencies(sent)
            assert len(latencies) == len(sent), "a delivery to the live endpoint waited"
            assert latencies[int(len(latencies) * 0.95) - 1] < 1.0
            assert host.most_hanging <= MAX_IN_FLIGHT_PER_ENDPOINT
    finally:
        host.stop()


def test_a_merchant_with_many_hanging_endpoints_does_not_delay_other_merchants(
    client, merchant_headers, db, dispatcher
):
    """Each endpoint holds at most MAX_IN_FLIGHT_PER_ENDPOINT attempts in flight, but one
    merchant may have 20 endpoints: with enough of them hanging, that merchant alone filled
    the dispatcher's MAX_IN_FLIGHT and every other merchant's delivery waited for its 5 s
    timeouts (docs/webhooks.md#delivery)."""
    from servers import SharedHost, ticking

    host = SharedHost()
    hostile = headers_for(sign_up(client))
    hanging = [
        add_endpoint(client, hostile, f"{host.base}/hang?n={n}")["id"]
        for n in range(MAX_IN_FLIGHT // MAX_IN_FLIGHT_PER_ENDPOINT + 1)
    ]
    client.put(
        "/api/v1/webhooks/config", json={"webhook_url": f"{host.base}/ok"}, headers=merchant_headers
    )
    try:
        with ticking(dispatcher):
            db.execute(
                "INSERT INTO webhook_logs (merchant_id, endpoint_id, event, payload, next_retry_at)"
                " SELECT e.merchant_id, e.id, 'payment.created', %s, now()"
                " FROM webhook_endpoints e, generate_series(1, 80) WHERE e.id = ANY(%s)",
                ('{"event":"payment.created","timestamp":1700000000,"data":{}}', hanging),
            )
            host.wait_until_hanging(MAX_IN_FLIGHT_PER_ENDPOINT)
            time.sleep(0.3)  # as many of its attempts in flight as it is let have

            sent = host.send_test_webhooks(client, merchant_headers, 10, 0.05, within_s=8)

            latencies = host.latencies(sent)
            assert len(latencies) == len(sent), "another merchant's delivery waited"
            assert latencies[int(len(latencies) * 0.95) - 1] < 1.0, latencies
    finally:
        host.stop()


def test_a_deleted_endpoint_gets_none_of_its_pending_deliveries(
    client, merchant_headers, db, start_receiver, dispatcher
):
    receiver, endpoint = receiving(start_receiver, client, merchant_headers)
    make_payment(client, merchant_headers)

    client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=merchant_headers)
    dispatcher()

    assert receiver.events == []
    logs = logs_of(db, endpoint["id"])
    assert len(logs) == 2
    assert {(log["status"], log["failure_reason"], log["attempts"]) for log in logs} == {
        ("failed", "endpoint deleted", 0)
    }
    # A manual retry of such a log is refused, saying why, and sends nothing.
    retry = client.post(f"/api/v1/webhooks/{logs[0]['id']}/retry", headers=merchant_headers)
    assert retry.status_code == 400
    dispatcher()
    assert receiver.events == []
    retried = client.get(f"/api/v1/webhooks/{logs[0]['id']}", headers=merchant_headers).json()
    assert (retried["status"], retried["attempt_history"]) == ("failed", [])


def test_a_due_delivery_whose_endpoint_is_gone_is_ended_not_attempted(
    client, merchant_headers, db, start_receiver, dispatcher
):
    """A delivery left pending for an endpoint that no longer exists (logged by an event that
    committed after the deletion read its deliveries) ends at once with the reason, instead of
    failing five attempts over hours while the log reads `pending`."""
    receiver, endpoint = receiving(start_receiver, client, merchant_headers)
    make_payment(client, merchant_headers)
    db.execute("DELETE FROM webhook_endpoints WHERE id = %s", (endpoint["id"],))

    dispatcher()

    assert receiver.events == []
    logs = logs_of(db, endpoint["id"])
    assert len(logs) == 2
    assert {
        (log["status"], log["failure_reason"], log["attempts"], log["next_retry_at"])
        for log in logs
    } == {("failed", "endpoint deleted", 0, None)}
    attempts = db.execute(
        "SELECT count(*) AS n FROM webhook_attempts WHERE webhook_log_id = ANY(%s)",
        ([log["id"] for log in logs],),
    ).fetchone()["n"]
    assert attempts == 0


def test_a_due_delivery_of_a_type_its_endpoint_no_longer_takes_is_ended_not_attempted(
    client, merchant_headers, db, start_receiver, dispatcher
):
    """Narrowing an endpoint's events left its pending deliveries of the types it dropped to be
    sent all the same. Such a delivery ends at claim, unsent and saying why; a manual retry of
    it is refused until the endpoint takes the type again."""
    receiver, endpoint = receiving(
        start_receiver, client, merchant_headers, events=["payment.created", "payment.pending"]
    )
    make_payment(client, merchant_headers)
    path = f"{ENDPOINTS}/{endpoint['id']}"
    narrowed = client.patch(path, json={"events": ["payment.pending"]}, headers=merchant_headers)
    assert narrowed.status_code == 200, narrowed.text

    dispatcher()

    assert [e["event"] for e in receiver.events] == ["payment.pending"]
    logs = {log["event"]: log for log in logs_of(db, endpoint["id"])}
    created = logs["payment.created"]
    assert (
        created["status"],
        created["failure_reason"],
        created["attempts"],
        created["next_retry_at"],
    ) == ("failed", "endpoint no longer takes payment.created", 0, None)
    assert logs["payment.pending"]["status"] == "success"
    attempts = db.execute(
        "SELECT count(*) AS n FROM webhook_attempts WHERE webhook_log_id = %s", (created["id"],)
    ).fetchone()["n"]
    assert attempts == 0

    retry = f"/api/v1/webhooks/{created['id']}/retry"
    refused = client.post(retry, headers=merchant_headers)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["description"] == (
        "The endpoint of this delivery no longer takes payment.created events: add the type to"
        " its events before retrying"
    )
    client.patch(path, json={"events": ["*"]}, headers=merchant_headers)
    assert client.post(retry, headers=merchant_headers).status_code == 200
    dispatcher()
    assert sorted(e["event"] for e in receiver.events) == ["payment.created", "payment.pending"]
