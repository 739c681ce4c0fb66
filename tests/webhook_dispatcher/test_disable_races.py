"""Automatic disabling under concurrency: two dispatchers recording 410s of one endpoint (or
of two endpoints of one merchant) at the same moment, and the API disabling an endpoint while
a dispatcher records one of its attempts. Each race is made to happen, not hoped for: a third
connection holds the endpoint rows while both sides reach them, then lets go.

What must hold (docs/webhooks.md#endpoint-health): no transaction is aborted (a deadlock would lose the batch's
recording until its lease runs out), each endpoint is disabled once, with exactly one
`webhook_endpoint.disabled` event, and none of its deliveries is left pending."""

import json
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from webhook_dispatcher import tasks
from webhook_dispatcher.delivery import AttemptResult, Delivery

ENDPOINTS = "/api/v1/webhooks/endpoints"
GONE = "the endpoint answered 410 Gone"
# Nothing listens there: no attempt is made in these tests, their results are given.
NOWHERE = "http://127.0.0.1:9/gone"


class GivenResults:
    """Stands in for the delivery engine's HTTP side only: `finished()` hands over attempt
    results as the engine would after the merchant's server answered."""

    def __init__(self, results: list[AttemptResult]):
        self.results = results

    def finished(self) -> list[AttemptResult]:
        results, self.results = self.results, []
        return results


def add_endpoint(client, headers) -> str:
    response = client.post(
        ENDPOINTS, json={"url": NOWHERE, "events": ["payment.created"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def pending_logs(db, endpoint_id: str, count: int) -> list[dict]:
    """`count` pending deliveries to the endpoint (and to every other endpoint taking
    payment.created), each of a new payment.created event."""
    from shared.backends.worker import runtime
    from shared.domain.events import Event, record_events

    merchant_id = db.execute("SELECT id FROM merchants").fetchone()["id"]
    with runtime().db.transaction() as tx:
        record_events(tx, [
            Event(str(merchant_id), "payment.created", {"payment": {"id": f"pay_{n}"}})
            for n in range(count)
        ])  # fmt: skip
    return logs_of(db, endpoint_id, count)


def logs_of(db, endpoint_id: str, count: int) -> list[dict]:
    rows = db.execute(
        "SELECT * FROM webhook_logs WHERE endpoint_id = %s ORDER BY id", (endpoint_id,)
    ).fetchall()
    assert len(rows) == count and {r["status"] for r in rows} == {"pending"}
    return rows


def answered(log: dict, status: int) -> AttemptResult:
    """The endpoint answered this delivery's first attempt with HTTP `status` (an error)."""
    return AttemptResult(
        delivery=Delivery(
            log_id=str(log["id"]), merchant_id=str(log["merchant_id"]),
            endpoint_id=log["endpoint_id"], lane=log["endpoint_id"],
            message_id=str(log["event_id"]), event=log["event"], attempt=1, url=NOWHERE,
            secrets=["whsec_unused"], body=log["payload"].encode(), correlation_id=None,
            lease=log["next_retry_at"],
        ),
        attempted_at=datetime.now(UTC), duration_ms=3, outcome="http_error",
        response_code=status, response_body="no", error=None,
    )  # fmt: skip


def gone(log: dict) -> AttemptResult:
    """The endpoint answered this delivery's first attempt with 410 Gone."""
    return answered(log, 410)


def waiting_on_locks(db) -> int:
    return db.execute(
        "SELECT count(*) AS n FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()["n"]


def wait_for_waiters(db, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while waiting_on_locks(db) < count:
        assert time.monotonic() < deadline, f"fewer than {count} transactions reached the gate"
        time.sleep(0.02)


class Racer(threading.Thread):
    """Runs `work` in a thread of its own and keeps what it raised."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work = work
        self.error: BaseException | None = None
        self.result = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:  # reported by the test
            self.error = exc


def recording(results: list[AttemptResult]):
    """One dispatcher's recording of a batch of finished attempts, as its tick does it."""
    from shared.backends.worker import runtime

    return lambda: tasks.record_finished(runtime(), GivenResults(results))  # type: ignore[arg-type]


def race(db, database_url: str, endpoint_ids: list[str], *works) -> list[Racer]:
    """Hold the endpoints' rows, start each work (in order, each waiting at the gate before
    the next starts), then let go and wait for all of them."""
    racers = [Racer(work) for work in works]
    with psycopg.connect(database_url) as gate:
        gate.execute(
            "SELECT 1 FROM webhook_endpoints WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            (endpoint_ids,),
        )
        for number, racer in enumerate(racers, start=1):
            racer.start()
            wait_for_waiters(db, number)
        gate.commit()
    for racer in racers:
        racer.join(30)
        assert not racer.is_alive(), "a racer is still blocked"
    return racers


def disabled_events(db) -> list[str]:
    rows = db.execute(
        "SELECT body FROM events WHERE type = 'webhook_endpoint.disabled' ORDER BY seq"
    ).fetchall()
    return [json.loads(row["body"])["data"]["endpoint"]["id"] for row in rows]


@pytest.fixture
def recorder(worker_env):
    """The dispatcher's runtime in this process (its pool serves both racing threads)."""
    from shared.backends.worker import runtime

    runtime()
    tasks._claimed.clear()
    yield
    tasks._claimed.clear()


def test_two_dispatchers_disabling_one_endpoint_at_once_disable_it_once(
    client, merchant_headers, db, database_url, recorder
):
    endpoint_id = add_endpoint(client, merchant_headers)
    first, second, untouched = pending_logs(db, endpoint_id, 3)

    racers = race(
        db, database_url, [endpoint_id],
        recording([gone(first)]), recording([gone(second)]),
    )  # fmt: skip

    assert [r.error for r in racers] == [None, None]
    assert disabled_events(db) == [endpoint_id]
    endpoint = db.execute(
        "SELECT status, disabled_reason FROM webhook_endpoints WHERE id = %s", (endpoint_id,)
    ).fetchone()
    assert endpoint == {"status": "disabled", "disabled_reason": GONE}
    logs = {
        str(r["id"]): r
        for r in db.execute(
            "SELECT id, status, failure_reason FROM webhook_logs WHERE endpoint_id = %s",
            (endpoint_id,),
        )
    }
    assert {log["status"] for log in logs.values()} == {"failed"}
    assert logs[str(untouched["id"])]["failure_reason"] == "endpoint disabled"
    # Both 410 answers are on record, one attempt each.
    attempts = db.execute(
        "SELECT webhook_log_id::text AS id, response_code FROM webhook_attempts ORDER BY 1"
    ).fetchall()
    assert sorted((a["id"], a["response_code"]) for a in attempts) == sorted(
        [(str(first["id"]), 410), (str(second["id"]), 410)]
    )


def test_two_dispatchers_disabling_two_endpoints_of_a_merchant_at_once_disable_each_once(
    client, merchant_headers, db, database_url, recorder
):
    one = add_endpoint(client, merchant_headers)
    other = add_endpoint(client, merchant_headers)
    pending_logs(db, one, 3)
    logs = {e: logs_of(db, e, 3) for e in (one, other)}

    # Each batch holds a 410 of both endpoints, in opposite orders.
    racers = race(
        db, database_url, [one, other],
        recording([gone(logs[one][0]), gone(logs[other][0])]),
        recording([gone(logs[other][1]), gone(logs[one][1])]),
    )  # fmt: skip

    assert [r.error for r in racers] == [None, None]
    assert sorted(disabled_events(db)) == sorted([one, other])
    assert (
        db.execute(
            "SELECT count(*) AS n FROM webhook_logs WHERE endpoint_id = ANY(%s) AND status = 'pending'",
            ([one, other],),
        ).fetchone()["n"]
        == 0
    )


def test_the_api_disabling_an_endpoint_while_a_dispatcher_records_its_attempt(
    client, merchant_headers, db, database_url, recorder
):
    endpoint_id = add_endpoint(client, merchant_headers)
    first, _ = pending_logs(db, endpoint_id, 2)

    def disable_by_hand():
        return client.patch(
            f"{ENDPOINTS}/{endpoint_id}", json={"status": "disabled"}, headers=merchant_headers
        )

    # The API reaches the endpoint's row first, the dispatcher's recording after it.
    by_hand, dispatcher = race(db, database_url, [endpoint_id], disable_by_hand,
                               recording([gone(first)]))  # fmt: skip

    assert dispatcher.error is None
    assert by_hand.error is None and by_hand.result.status_code == 200, by_hand.result.text
    # Disabled by hand (no reason, no event): the dispatcher found it disabled already.
    endpoint = db.execute(
        "SELECT status, disabled_reason FROM webhook_endpoints WHERE id = %s", (endpoint_id,)
    ).fetchone()
    assert endpoint == {"status": "disabled", "disabled_reason": None}
    assert disabled_events(db) == []
    assert (
        db.execute(
            "SELECT count(*) AS n FROM webhook_logs WHERE endpoint_id = %s AND status = 'pending'",
            (endpoint_id,),
        ).fetchone()["n"]
        == 0
    )


def test_a_delivery_logged_by_an_event_racing_the_disabling_is_ended_not_sent(
    client, merchant_headers, db, start_receiver, dispatcher
):
    """An event's transaction reads the endpoint as enabled and logs a delivery for it; a
    dispatcher disables the endpoint meanwhile (ending its pending deliveries, which cannot
    see the uncommitted one); the event commits after. The disabled endpoint must still get
    nothing: the delivery ends `failed`, "endpoint disabled", unsent (recover sends it)."""
    from shared.backends.worker import runtime
    from shared.domain.events import Event, record_events

    receiver = start_receiver()
    response = client.post(
        ENDPOINTS, json={"url": receiver.url, "events": ["payment.created"]},
        headers=merchant_headers,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    endpoint_id = response.json()["id"]
    merchant_id = str(db.execute("SELECT id FROM merchants").fetchone()["id"])
    answered_410 = {
        "endpoint_id": endpoint_id, "response_code": 410, "status": "pending",
        "attempted_at": datetime.now(UTC),
    }  # fmt: skip

    database = runtime().db
    with database.transaction() as event_tx:
        record_events(event_tx, [Event(merchant_id, "payment.created", {"payment": {"id": "p"}})])
        with database.transaction() as dispatcher_tx:
            [(disabled, _)] = tasks.disable_unhealthy_endpoints(dispatcher_tx, [answered_410], 60)
        assert disabled["id"] == endpoint_id
    [raced] = db.execute(
        "SELECT l.id, l.status FROM webhook_logs l JOIN webhook_endpoints e"
        " ON e.id = l.endpoint_id WHERE e.id = %s AND e.status = 'disabled'",
        (endpoint_id,),
    ).fetchall()
    assert raced["status"] == "pending"  # the race happened

    dispatcher()

    assert receiver.events == []
    log = db.execute(
        "SELECT status, attempts, failure_reason, next_retry_at FROM webhook_logs WHERE id = %s",
        (raced["id"],),
    ).fetchone()
    assert log == {
        "status": "failed", "attempts": 0, "failure_reason": "endpoint disabled",
        "next_retry_at": None,
    }  # fmt: skip
    assert db.execute("SELECT count(*) AS n FROM webhook_attempts").fetchone()["n"] == 0


def test_clearing_the_default_url_while_a_dispatcher_records_its_attempt(
    client, merchant_headers, db, database_url, recorder
):
    """Clearing the config's URL deletes the default endpoint and ends its pending deliveries.
    It took the deliveries' rows before the endpoint's, the reverse of a dispatcher recording
    an attempt (docs/webhooks.md#default-endpoint): with the dispatcher first at the endpoint's
    row, each waited for the other, and PostgreSQL aborted one (the merchant's request failed,
    or the dispatcher lost its batch's recording until the leases ran out)."""
    client.put("/api/v1/webhooks/config", json={"webhook_url": NOWHERE}, headers=merchant_headers)
    default_id = db.execute("SELECT id FROM webhook_endpoints WHERE is_default").fetchone()["id"]
    first, _ = pending_logs(db, default_id, 2)

    def clear_url():
        return client.put(
            "/api/v1/webhooks/config", json={"webhook_url": ""}, headers=merchant_headers
        )

    # The dispatcher's recording reaches the endpoint's row first, the API after it.
    dispatcher, cleared = race(db, database_url, [default_id],
                               recording([answered(first, 500)]), clear_url)  # fmt: skip

    assert dispatcher.error is None
    assert cleared.error is None and cleared.result.status_code == 200, cleared.result.text
    assert cleared.result.json()["webhook_url"] is None
    logs = db.execute(
        "SELECT status, failure_reason FROM webhook_logs WHERE endpoint_id = %s", (default_id,)
    ).fetchall()
    assert {(log["status"], log["failure_reason"]) for log in logs} == {
        ("failed", "endpoint deleted")
    }
    attempts = db.execute("SELECT response_code FROM webhook_attempts").fetchall()
    assert [a["response_code"] for a in attempts] == [500]
