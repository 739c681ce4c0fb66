"""Webhook jobs: claim due deliveries, attempt them concurrently, record every attempt.

A delivery is claimed with a lease (its next_retry_at moved 60 s on) in a short transaction,
so no two dispatchers attempt it at the same time; the attempt's result, the next attempt time
or the final status are written when it finishes. A dispatcher that dies mid-attempt loses
only the lease: the delivery is attempted again once it runs out (at least once, never lost).
A dispatcher stopped with SIGTERM claims nothing more, waits for its attempts in flight (each
ends within 5 s) and records them, and releases whatever it still holds (`finish_in_flight`).
"""

import functools
import time

import structlog

from shared.backends.db import DictConnection, Row, Transaction
from shared.backends.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_ENDPOINTS_DISABLED
from shared.backends.queues import WEBHOOKS_QUEUE
from shared.backends.worker import WorkerRuntime, counted, due_reader, run_until_idle, runtime
from shared.domain.events import WEBHOOK_ENDPOINT_DISABLED, Event, record_events
from shared.domain.models import WebhookEndpoint
from webhook_dispatcher import repository
from webhook_dispatcher.config import DispatcherSettings
from webhook_dispatcher.delivery import (
    MAX_IN_FLIGHT_PER_ENDPOINT,
    MAX_IN_FLIGHT_PER_MERCHANT,
    TIMEOUT_S,
    AttemptResult,
    Delivery,
    DeliveryEngine,
)
from webhook_dispatcher.retries import next_attempt_at

log = structlog.get_logger(__name__)

CLAIM_BATCH = 200
# How long a stopping dispatcher waits for its attempts in flight: longer than one attempt.
STOP_DRAIN_S = TIMEOUT_S + 1.0

# Deliveries this process has claimed and not yet recorded (their leases are ours).
_claimed: set[str] = set()


@functools.cache
def delivery_engine() -> DeliveryEngine:
    return DeliveryEngine(
        runtime().service_settings(DispatcherSettings).webhook_allow_private_networks
    )


def claim_and_submit(current: WorkerRuntime, engine: DeliveryEngine) -> int:
    """Lease due deliveries (as many as the engine has room for, CLAIM_BATCH at most) and
    start their attempts; returns how many due deliveries it took, those it ended because
    their endpoint is disabled or deleted, or no longer takes their event type, included."""
    room = min(engine.capacity(), CLAIM_BATCH)
    if room <= 0:
        return 0
    # One statement, atomic on its own: no BEGIN and COMMIT round trips around it.
    with current.db.autocommit() as tx:
        rows = repository.claim_due(
            tx.conn, room, MAX_IN_FLIGHT_PER_ENDPOINT, engine.lane_rooms(),
            MAX_IN_FLIGHT_PER_MERCHANT, engine.merchant_rooms(),
        )  # fmt: skip
    # Deliveries to a disabled or deleted endpoint, or of a type it no longer takes, came back
    # ended, not leased: nothing to send. One line per reason.
    claimed = [row for row in rows if row["status"] == "pending"]
    ended: dict[str, list[str]] = {}
    for row in rows:
        if row["status"] != "pending":
            ended.setdefault(row["failure_reason"], []).append(str(row["id"]))
    for reason, webhook_ids in ended.items():
        log.info("webhook_deliveries_ended", reason=reason, webhook_ids=webhook_ids)
    _claimed.update(str(row["id"]) for row in claimed)
    engine.submit([
        Delivery(
            log_id=str(row["id"]),
            merchant_id=str(row["merchant_id"]),
            endpoint_id=row["endpoint_id"],
            lane=row["lane"],
            # The event's id: the same on every endpoint, retry and recovered delivery.
            message_id=str(row["event_id"]),
            event=row["event"],
            attempt=row["attempts"] + 1,
            url=row["webhook_url"],
            # The current secret first, then every replaced one still in its overlap, newest
            # first.
            secrets=[row["webhook_secret"], *row["replaced_secrets"]],
            body=row["payload"].encode(),
            correlation_id=row["correlation_id"],
            lease=row["next_retry_at"],
        )
        for row in claimed
    ])  # fmt: skip
    return len(rows)


def attempt_row(result: AttemptResult, test_intervals: bool) -> dict:
    delivery = result.delivery
    if result.succeeded:
        status, next_retry_at = "success", None
    else:
        next_retry_at = next_attempt_at(delivery.attempt, result.attempted_at, test_intervals)
        status = "pending" if next_retry_at else "failed"
    return {
        "log_id": delivery.log_id,
        "endpoint_id": delivery.endpoint_id,
        "merchant_id": delivery.merchant_id,
        "attempt": delivery.attempt,
        "attempted_at": result.attempted_at,
        "duration_ms": result.duration_ms,
        "response_code": result.response_code,
        "response_body": result.response_body,
        "error": result.error,
        "status": status,
        "next_retry_at": next_retry_at,
        "lease": delivery.lease,
    }


def record_finished(current: WorkerRuntime, engine: DeliveryEngine) -> int:
    results = engine.finished()
    if not results:
        return 0
    short_schedule = current.service_settings(DispatcherSettings).webhook_retry_intervals_test
    rows = [attempt_row(r, short_schedule) for r in results]
    settings = current.service_settings(DispatcherSettings)
    with current.db.transaction() as tx:
        numbers = repository.record_attempts(tx.conn, rows)
        disabled = disable_unhealthy_endpoints(tx, rows, settings.webhook_endpoint_disable_after)
    for row, number in zip(rows, numbers, strict=True):
        row["attempt_number"] = number
    _claimed.difference_update(row["log_id"] for row in rows)
    for result, row in zip(results, rows, strict=True):
        WEBHOOK_ATTEMPTS.labels(result.outcome).inc()
        log.info(
            "webhook_attempt",
            webhook_id=row["log_id"],
            event_type=result.delivery.event,
            attempt=row["attempt_number"],
            scheduled_attempt=row["attempt"],
            status=row["status"],
            response_code=row["response_code"],
            error=row["error"],
            duration_ms=row["duration_ms"],
            correlation_id=result.delivery.correlation_id,
        )
    for endpoint, reason in disabled:
        WEBHOOK_ENDPOINTS_DISABLED.labels(reason).inc()
        log.warning(
            "webhook_endpoint_disabled",
            endpoint_id=endpoint["id"],
            merchant_id=str(endpoint["merchant_id"]),
            reason=endpoint["disabled_reason"],
        )
    return len(results)


def disable_unhealthy_endpoints(
    tx: Transaction[DictConnection], rows: list[dict], disable_after_s: float
) -> list[tuple[Row, str]]:
    """Disable the endpoints of the attempts in `rows` that answered 410 Gone, or whose
    deliveries have all failed for `disable_after_s` with at least 5 ended `failed` (checked
    when one of its deliveries ends failed, from the failing streak `repository.record_attempts`
    kept). Each disabling ends the endpoint's pending deliveries and stores a
    `webhook_endpoint.disabled` event (`data.endpoint`, without its secret), which the
    merchant's other enabled endpoints that take it receive. Returns (endpoint, metric
    reason) for each endpoint disabled.

    Runs in the transaction that recorded `rows`, which holds the endpoints' rows already
    (`repository.record_attempts` locks them before the deliveries, the order every writer of
    an endpoint and its deliveries keeps): two dispatchers disabling one endpoint take turns,
    and the second finds it disabled, so it is disabled and announced once."""
    gone = sorted(
        {r["endpoint_id"] for r in rows if r["endpoint_id"] and r["response_code"] == 410}
    )
    ended = sorted({
        r["endpoint_id"] for r in rows
        if r["endpoint_id"] and r["status"] == "failed" and r["endpoint_id"] not in gone
    })  # fmt: skip
    failing = repository.failing_for(tx.conn, ended, disable_after_s) if ended else []
    reasons = [(e, "gone", "the endpoint answered 410 Gone") for e in gone] + [
        (e, "failing", f"every delivery failed for {_duration(disable_after_s)}") for e in failing
    ]
    disabled: list[tuple[Row, str]] = []
    for endpoint_id, metric_reason, reason in reasons:
        endpoint = repository.disable_endpoint(tx.conn, endpoint_id, reason)
        if endpoint is not None:
            disabled.append((endpoint, metric_reason))
    if disabled:
        record_events(tx, [
            Event(str(e["merchant_id"]), WEBHOOK_ENDPOINT_DISABLED, {"endpoint": WebhookEndpoint.from_row(e).model_dump(exclude={"secret"})})
            for e, _ in disabled
        ])  # fmt: skip
    return disabled


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} seconds"


@counted(WEBHOOKS_QUEUE)
def deliver_due_webhooks() -> int:
    """Tick: deliver everything due, and stay while attempts are in flight; returns attempts."""
    current = runtime()
    engine = delivery_engine()
    attempts = 0

    def step() -> int:
        nonlocal attempts
        recorded = record_finished(current, engine)
        attempts += recorded
        return recorded + claim_and_submit(current, engine)

    run_until_idle(WEBHOOKS_QUEUE, step, seconds_until_next_due)
    return attempts


def seconds_until_next_due() -> float | None:
    """Until the next delivery is due; 0 while attempts are in flight (to be recorded)."""
    if delivery_engine.cache_info().currsize and delivery_engine().busy():
        return 0.0
    return due_reader(WEBHOOKS_QUEUE)()


def finish_in_flight() -> None:
    """On SIGTERM, after the last tick: record the attempts still in flight as they end, and
    give back the lease of anything claimed but not attempted, so another dispatcher takes it
    at once rather than after the 60 s lease."""
    if delivery_engine.cache_info().currsize == 0:
        return  # no tick ever ran here
    current = runtime()
    engine = delivery_engine()
    deadline = time.monotonic() + STOP_DRAIN_S
    while engine.busy() and time.monotonic() < deadline:
        record_finished(current, engine)
        time.sleep(0.05)
    record_finished(current, engine)
    if _claimed:
        # Due now again: the UPDATE's NOTIFY (migration 007) wakes the other dispatchers.
        with current.db.autocommit() as tx:
            repository.release_leases(tx.conn, sorted(_claimed))
        log.warning("webhook_leases_released", webhook_ids=sorted(_claimed))
        _claimed.clear()
    engine.close()  # its HTTP session, closed rather than collected with an error at exit
