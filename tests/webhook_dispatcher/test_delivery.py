import json
import shutil
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from servers import SharedHost, ThreadedServer, ticking
from standardwebhooks import Webhook

from factories import create_order, create_payment, upi_payment_body
from shared.backends.worker import runtime
from shared.core.signing import hex_signature
from webhook_dispatcher.delivery import MAX_IN_FLIGHT_PER_ENDPOINT

SECRET = "whsec_test_abc123"


def make_payment_events(client, headers) -> dict:
    order = create_order(client, headers)
    return create_payment(client, headers, upi_payment_body(order["id"]))


def logs(db) -> list[dict]:
    return db.execute("SELECT * FROM webhook_logs ORDER BY created_at, event").fetchall()


def make_due(db) -> None:
    db.execute("UPDATE webhook_logs SET next_retry_at = now() WHERE status = 'pending'")


def test_events_are_delivered_signed_both_ways(client, merchant_headers, db, receiver, dispatcher):
    payment = make_payment_events(client, merchant_headers)

    assert dispatcher() == 2

    events = receiver.events
    assert sorted(e["event"] for e in events) == ["payment.created", "payment.pending"]
    for event in events:
        assert event["hex_signature_valid"] and event["standard_signature_valid"]
        assert event["headers"]["content-type"] == "application/json"
        # The reference Standard Webhooks package accepts the delivery as sent.
        Webhook(SECRET).verify(event["body"], event["headers"])
        body = json.loads(event["body"])
        assert body["data"]["payment"]["id"] == payment["id"]
        assert isinstance(body["timestamp"], int)
        assert event["body"] == json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    assert {log["status"] for log in logs(db)} == {"success"}
    assert {(log["attempts"], log["response_code"]) for log in logs(db)} == {(1, 200)}
    assert {e["headers"]["webhook-id"] for e in events} == {str(log["id"]) for log in logs(db)}


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_recipe_verifies_the_signature(client, merchant_headers, db, receiver, dispatcher):
    db.execute("UPDATE merchants SET name = 'Café Ünïcode ₹' WHERE is_test")
    make_payment_events(client, merchant_headers)
    dispatcher()
    event = receiver.events[0]
    script = (
        "const crypto = require('crypto');"
        "const [body, secret, signature] = process.argv.slice(1);"
        "const expected = crypto.createHmac('sha256', secret)"
        ".update(JSON.stringify(JSON.parse(body))).digest('hex');"
        "process.exit(expected === signature ? 0 : 1);"
    )

    result = subprocess.run(
        ["node", "-e", script, event["body"], SECRET, event["headers"]["x-webhook-signature"]],
        check=False,
    )

    assert result.returncode == 0


def test_non_ascii_is_sent_unescaped(client, merchant_headers, db, receiver, dispatcher):
    order = create_order(client, merchant_headers)
    payment = create_payment(client, merchant_headers, upi_payment_body(order["id"]))
    db.execute(
        "UPDATE webhook_logs SET payload = replace(payload, %s, %s)", (payment["vpa"], "ünï@upi")
    )

    dispatcher()

    assert "ünï@upi" in receiver.events[0]["body"]


def test_failed_attempts_follow_the_test_schedule(
    client, merchant_headers, db, start_receiver, dispatcher, worker_env
):
    failing = start_receiver(fail_first=100)
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (failing.url,)
    )
    client.post("/api/v1/webhooks/test", headers=merchant_headers)
    waits = []
    for attempt in range(1, 6):
        dispatcher()
        log = logs(db)[0]
        assert log["attempts"] == attempt and log["response_code"] == 500
        if attempt < 5:
            assert log["status"] == "pending"
            waits.append(log["next_retry_at"] - log["last_attempt_at"])
            make_due(db)
    assert waits == [timedelta(seconds=s) for s in (5, 10, 15, 20)]
    assert logs(db)[0]["status"] == "failed" and logs(db)[0]["next_retry_at"] is None
    bodies = {e["body"] for e in failing.events}
    assert len(bodies) == 1, "every retry carries the same body"
    attempts = db.execute(
        "SELECT attempt_number, response_code FROM webhook_attempts ORDER BY id"
    ).fetchall()
    assert [a["attempt_number"] for a in attempts] == [1, 2, 3, 4, 5]


def test_production_schedule(worker_env):
    from datetime import UTC, datetime

    from webhook_dispatcher.retries import next_attempt_at

    start = datetime(2026, 1, 1, tzinfo=UTC)
    gaps = [next_attempt_at(n, start, test_intervals=False) - start for n in range(1, 5)]
    assert gaps == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
    ]
    assert next_attempt_at(5, start, test_intervals=False) is None


def test_success_after_failures(client, merchant_headers, db, start_receiver, dispatcher):
    flaky = start_receiver(fail_first=2)
    db.execute("SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (flaky.url,))
    client.post("/api/v1/webhooks/test", headers=merchant_headers)

    for _ in range(3):
        dispatcher()
        make_due(db)

    log = logs(db)[0]
    assert (log["status"], log["attempts"], log["response_code"]) == ("success", 3, 200)


def test_manual_retry_delivers_again(client, merchant_headers, db, receiver, dispatcher):
    sent = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()
    dispatcher()

    retried = client.post(f"/api/v1/webhooks/{sent['id']}/retry", headers=merchant_headers)
    assert retried.json() == {
        "id": sent["id"],
        "status": "pending",
        "message": "Webhook retry scheduled",
    }
    assert logs(db)[0]["attempts"] == 0
    dispatcher()

    assert len(receiver.events) == 2
    assert logs(db)[0]["status"] == "success" and logs(db)[0]["attempts"] == 1


def test_a_retry_made_while_the_last_attempt_is_in_flight_is_not_lost(
    client, merchant_headers, db, start_receiver, dispatcher
):
    """The merchant retries a delivery while its fifth attempt is in flight. That attempt
    fails; its outcome used to overwrite the retry (the log ended `failed`, or a second
    attempt that succeeded was not counted), so "Webhook retry scheduled" was a delivery lost.
    The retry stands: the delivery is attempted again and ends `success`."""
    slow = start_receiver(fail_first=1, delay_s=1.0)
    db.execute("SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (slow.url,))
    sent = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()
    db.execute("UPDATE webhook_logs SET attempts = 4 WHERE id = %s", (sent["id"],))

    one_tick = threading.Thread(target=dispatcher)
    one_tick.start()
    deadline = time.monotonic() + 10
    while not db.execute(  # leased: its fifth attempt is in flight
        "SELECT 1 FROM webhook_logs WHERE id = %s AND next_retry_at > now() + interval '30 s'",
        (sent["id"],),
    ).fetchone():
        assert time.monotonic() < deadline, "the delivery was never claimed"
        time.sleep(0.01)
    retried = client.post(f"/api/v1/webhooks/{sent['id']}/retry", headers=merchant_headers)
    assert retried.status_code == 200, retried.text
    one_tick.join(30)
    assert not one_tick.is_alive()
    if logs(db)[0]["status"] == "pending":
        dispatcher()  # the retry was not yet due when that tick ended

    detail = client.get(f"/api/v1/webhooks/{sent['id']}", headers=merchant_headers).json()
    assert [a["response_code"] for a in detail["attempt_history"]] == [500, 200]
    assert (detail["status"], detail["attempts"], detail["response_code"]) == ("success", 1, 200)


def test_rotated_secret_signs_alongside_the_old_one(
    client, merchant_headers, db, start_receiver, dispatcher
):
    rotated = client.post("/api/v1/webhooks/config/rotate-secret", headers=merchant_headers).json()
    new_secret = rotated["webhook_secret"]
    assert new_secret != SECRET and rotated["previous_secret_expires_at"]
    running = start_receiver(secrets=[new_secret])
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (running.url,)
    )
    client.post("/api/v1/webhooks/test", headers=merchant_headers)

    dispatcher()

    event = running.events[0]
    assert event["hex_signature_valid"]
    body = event["body"].encode()
    assert event["headers"]["x-webhook-signature"] == ",".join(
        [hex_signature(new_secret, body), hex_signature(SECRET, body)]
    )
    assert len(event["headers"]["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(event["body"], event["headers"])
    Webhook(SECRET).verify(event["body"], event["headers"])

    db.execute(
        "UPDATE webhook_secrets SET expires_at = now() - interval '1 s',"
        " replaced_at = now() - interval '25 hours'"
    )
    client.post("/api/v1/webhooks/test", headers=merchant_headers)
    dispatcher()
    after = running.events[1]
    assert after["headers"]["x-webhook-signature"] == hex_signature(
        new_secret, after["body"].encode()
    )
    assert len(after["headers"]["webhook-signature"].split(" ")) == 1


class HangingServer:
    """Accepts connections and never answers."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/webhook"
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.connections.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self):
        self.socket.close()


def test_a_hanging_merchant_does_not_delay_others(
    client, merchant_headers, db, receiver, dispatcher, start_receiver
):
    from factories import headers_for, sign_up

    hanging = HangingServer()
    other = sign_up(client)
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE id = %s",
        (hanging.url, other["id"]),
    )
    for _ in range(30):
        client.post("/api/v1/webhooks/test", headers=headers_for(other))
    tick = threading.Thread(target=dispatcher)
    tick.start()
    time.sleep(0.3)  # the hanging merchant's attempts are in flight now

    sent_at = time.monotonic()
    client.post("/api/v1/webhooks/test", headers=merchant_headers)
    while not receiver.events and time.monotonic() - sent_at < 3:
        time.sleep(0.01)
    delivered_in = time.monotonic() - sent_at
    tick.join(15)
    hanging.close()

    assert receiver.events, "the healthy merchant got nothing"
    assert delivered_in < 1.0
    timed_out = db.execute(
        "SELECT error, duration_ms FROM webhook_attempts a JOIN webhook_logs l ON l.id = a.webhook_log_id"
        " WHERE l.merchant_id = %s",
        (other["id"],),
    ).fetchall()
    assert timed_out and all(a["error"] == "timed out after 5 s" for a in timed_out)
    assert all(4900 <= a["duration_ms"] <= 6000 for a in timed_out)


def test_redirects_are_not_followed_and_bodies_are_cut(
    client, merchant_headers, db, start_receiver, dispatcher
):
    class Redirecting:
        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 302,
                        "headers": [(b"location", b"http://127.0.0.1:9/elsewhere")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"x" * 10_000})

    with ThreadedServer(Redirecting()) as server:
        db.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test",
            (f"{server.url}/",),
        )
        client.post("/api/v1/webhooks/test", headers=merchant_headers)
        dispatcher()

    attempt = db.execute("SELECT response_code, response_body FROM webhook_attempts").fetchone()
    assert attempt["response_code"] == 302
    assert len(attempt["response_body"]) == 4096
    assert logs(db)[0]["status"] == "pending"


def test_a_nul_byte_in_a_response_is_recorded_not_a_reason_to_send_again(
    client, merchant_headers, db, dispatcher
):
    """PostgreSQL's text refuses NUL: a body with one used to fail the recording of the whole
    batch, so its deliveries (other merchants' too) were sent again every 60 s, forever."""

    class NulBody:
        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok\x00bad"})

    with ThreadedServer(NulBody()) as server:
        db.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test",
            (f"{server.url}/",),
        )
        client.post("/api/v1/webhooks/test", headers=merchant_headers)
        dispatcher()

    attempt = db.execute("SELECT response_code, response_body FROM webhook_attempts").fetchone()
    assert attempt == {"response_code": 200, "response_body": "ok\ufffdbad"}
    assert logs(db)[0]["status"] == "success"


def test_cookies_a_merchant_sets_are_never_sent_back(client, merchant_headers, db, dispatcher):
    """A webhook carries its body and signature, nothing a server set before: kept cookies would
    also grow without bound in a dispatcher that runs for months."""
    seen: list[bytes | None] = []

    class SettingCookies:
        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return
            seen.append(dict(scope["headers"]).get(b"cookie"))
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"set-cookie", b"session=abc; Path=/")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b"ok"})

    with ThreadedServer(SettingCookies()) as server:
        # By name: aiohttp's default jar kept no cookie of a bare IP address anyway.
        url = server.url.replace("127.0.0.1", "localhost")
        db.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (f"{url}/",)
        )
        for _ in range(2):
            client.post("/api/v1/webhooks/test", headers=merchant_headers)
            dispatcher()

    assert seen == [None, None]


def test_connection_refused_is_recorded(client, merchant_headers, db, dispatcher):
    db.execute(
        "SELECT set_default_webhook_url(id, 'http://127.0.0.1:9/webhook') FROM merchants WHERE is_test"
    )
    client.post("/api/v1/webhooks/test", headers=merchant_headers)

    dispatcher()

    attempt = db.execute("SELECT error, response_code FROM webhook_attempts").fetchone()
    assert attempt["response_code"] is None and attempt["error"].startswith("connection failed")


def test_private_address_is_blocked_at_delivery(
    client, merchant_headers, db, receiver, dispatcher, worker_env
):
    worker_env.setenv("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "false")
    runtime.cache_clear()
    client.post("/api/v1/webhooks/test", headers=merchant_headers)

    dispatcher()

    assert receiver.events == []
    attempt = db.execute("SELECT error FROM webhook_attempts").fetchone()
    assert attempt["error"] == "blocked address 127.0.0.1: private or reserved network"


def test_two_dispatchers_never_claim_the_same_delivery(
    client, merchant_headers, db, receiver, worker_env
):
    from webhook_dispatcher import repository

    for _ in range(50):
        client.post("/api/v1/webhooks/test", headers=merchant_headers)
    current = runtime()
    claims: list[list] = []

    def claim():
        with current.db.transaction() as tx:
            claims.append(
                [row["id"] for row in repository.claim_due(tx.conn, 40, 100, {}, 100, {})]
            )

    threads = [threading.Thread(target=claim) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    claimed = [log_id for batch in claims for log_id in batch]
    assert len(claimed) == len(set(claimed)) == 50


def test_a_hanging_merchant_does_not_delay_another_on_the_same_host_and_port(
    client, merchant_headers, db, dispatcher
):
    """docs/webhooks.md#delivery: A's URL never answers and A creates >= 100 events within 5 s; B's
    URL on the same host:port answers at once. B's deliveries keep their latency (p95 < 1 s) and its
    attempts take milliseconds, since nothing but A's own share is held by A."""
    from factories import sign_up

    host = SharedHost()
    merchant_a = sign_up(client)
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE id = %s",
        (f"{host.base}/hang", merchant_a["id"]),
    )
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (f"{host.base}/ok",)
    )
    try:
        with ticking(dispatcher, join_s=30):
            # 120 events of A at once (a burst, as when A's traffic peaks), due now.
            db.execute(
                "INSERT INTO webhook_logs (merchant_id, event, payload, next_retry_at)"
                " SELECT %s, 'webhook.test', %s, now() FROM generate_series(1, 120)",
                (merchant_a["id"], '{"event":"webhook.test","timestamp":1700000000,"data":{}}'),
            )
            host.wait_until_hanging(MAX_IN_FLIGHT_PER_ENDPOINT)
            assert host.hanging >= MAX_IN_FLIGHT_PER_ENDPOINT, "A's attempts are not all in flight"

            sent = host.send_test_webhooks(client, merchant_headers, 20, 0.1, within_s=10)
            assert host.most_hanging <= MAX_IN_FLIGHT_PER_ENDPOINT, "A held more than its share"
    finally:
        host.stop()

    latencies = host.latencies(sent)
    assert len(latencies) == len(sent), "B's deliveries did not all arrive"
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    assert p95 < 1.0, f"B's delivery p95 was {p95:.2f} s"
    durations = sorted(
        row["duration_ms"]
        for row in db.execute(
            "SELECT a.duration_ms FROM webhook_attempts a JOIN webhook_logs l"
            " ON l.id = a.webhook_log_id WHERE l.merchant_id = %s",
            ("550e8400-e29b-41d4-a716-446655440000",),
        )
    )
    assert len(durations) == len(sent)
    assert durations[int(0.95 * (len(durations) - 1))] < 500, durations


def test_a_response_that_does_not_finish_in_5_s_is_a_timeout_whatever_its_status(
    client, merchant_headers, db, dispatcher
):
    """docs/webhooks.md#delivery: 200 with Content-Length: 1000000, then one byte every 0.5 s. One
    attempt, one outcome: a timeout, no response code, and the log stays pending for a retry."""
    import asyncio

    async def trickle(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1000000")]})  # fmt: skip
        for _ in range(16):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            await asyncio.sleep(0.5)

    with ThreadedServer(trickle) as server:
        db.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test",
            (f"{server.url}/",),
        )
        sent = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()
        dispatcher()

    attempt = db.execute("SELECT * FROM webhook_attempts").fetchone()
    assert attempt["response_code"] is None
    assert attempt["error"] == "timed out after 5 s reading the response body (status 200 received)"
    assert 4900 <= attempt["duration_ms"] <= 6500
    log = client.get(f"/api/v1/webhooks/{sent['id']}", headers=merchant_headers).json()
    assert (log["status"], log["response_code"]) == ("pending", None)
    assert log["last_error"] == attempt["error"] and log["next_retry_at"]


def test_a_refused_connection_is_logged_in_words_with_its_next_retry(
    client, merchant_headers, db, dispatcher
):
    """docs/webhooks.md#delivery-logs: the list and the detail say why the last attempt failed and
    when the next one is due; no '[Errno 111]'."""
    db.execute(
        "SELECT set_default_webhook_url(id, 'http://127.0.0.1:9/webhook') FROM merchants WHERE is_test"
    )
    sent = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()

    dispatcher()

    [listed] = client.get("/api/v1/webhooks", headers=merchant_headers).json()["data"]
    detail = client.get(f"/api/v1/webhooks/{sent['id']}", headers=merchant_headers).json()
    for log in (listed, detail):
        assert (log["status"], log["response_code"]) == ("pending", None)
        assert log["last_error"] == "connection failed: connection refused by 127.0.0.1:9"
        assert log["next_retry_at"] and log["next_retry_at"] > log["last_attempt_at"]
    assert detail["attempt_history"][0]["error"] == listed["last_error"]


def test_every_attempt_has_its_own_number_manual_retries_included(
    client, merchant_headers, db, start_receiver, dispatcher
):
    """docs/webhooks.md#delivery-logs: after a manual retry the attempts are 1 and 2, not 1 twice;
    the second is the first of a fresh schedule."""
    failing = start_receiver(fail_first=1)
    db.execute(
        "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (failing.url,)
    )
    sent = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()
    dispatcher()
    client.post(f"/api/v1/webhooks/{sent['id']}/retry", headers=merchant_headers)
    dispatcher()

    detail = client.get(f"/api/v1/webhooks/{sent['id']}", headers=merchant_headers).json()
    history = detail["attempt_history"]
    assert [(a["attempt_number"], a["scheduled_attempt"]) for a in history] == [(1, 1), (2, 1)]
    assert [a["response_code"] for a in history] == [500, 200]
    assert (detail["status"], detail["attempts"], detail["last_error"]) == ("success", 1, None)
    assert detail["body"] == failing.events[-1]["body"]  # the exact bytes, as sent


def test_attempt_numbers_are_unique_per_delivery_in_the_database(
    client, merchant_headers, db, webhook_url
):
    import psycopg

    log_id = client.post("/api/v1/webhooks/test", headers=merchant_headers).json()["id"]
    insert = (
        "INSERT INTO webhook_attempts (webhook_log_id, attempt_number, scheduled_attempt,"
        " attempted_at, duration_ms) VALUES (%s, 1, 1, now(), 1)"
    )
    db.execute(insert, (log_id,))
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(insert, (log_id,))
