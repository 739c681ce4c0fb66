"""Webhook logs, manual retries, the merchant's webhook endpoints and its configuration (a
view of the default endpoint)."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from psycopg import errors

from api.errors import found
from api.fields import end_of_millisecond, shown_millisecond, uuid_or_not_found
from api.pagination import Pagination
from api.runtime import ApiRuntime
from api.webhooks import repository
from api.webhooks.errors import (
    DefaultEndpointDisabled,
    DefaultEndpointTakesEveryEvent,
    EndpointEventsRemoved,
    EndpointStatusRemoved,
    EndpointUrlRemoved,
    EveryEventNotAlone,
    RecoveryEndsBeforeItStarts,
    RecoveryOfDisabledEndpoint,
    RecoveryStartsInTheFuture,
    RecoveryTooFarBack,
    RetryOfDeletedEndpoint,
    RetryOfDisabledEndpoint,
    RetryOfUntakenEvent,
    TooManyEndpoints,
    TooManyReplacedSecrets,
    UnknownEventType,
    WebhookEndpointNotFound,
    WebhookNotFound,
    WebhookUrlNotSet,
)
from api.webhooks.schemas import EndpointRecover, WebhookEndpointCreate, WebhookEndpointUpdate
from api.webhooks.url_check import UrlCheck
from shared.backends.db import AsyncDatabase, AsyncDictConnection, AsyncTransaction, Row
from shared.core.ids import ENDPOINT_PREFIX, new_id
from shared.core.signing import new_webhook_secret
from shared.domain.events import EVERY_EVENT, WEBHOOK_TEST, record_event_async
from shared.domain.models import (
    EVENT_TYPES,
    TEST_MESSAGE,
    TestEventData,
    WebhookEndpoint,
    WebhookLog,
    iso,
)

ROTATION_OVERLAP = "24 hours"
# Replaced secrets that may sign at once. Every one signs every delivery (one HMAC and ~65
# header bytes each), so a runaway script rotating in a loop is refused, not obeyed forever.
MAX_REPLACED_SECRETS = 10
# How far back a recovery may reach: events are kept EVENT_RETENTION_DAYS (default 30).
RECOVERY_WINDOW = timedelta(days=30)
# Events read per transaction of a recovery.
RECOVERY_BATCH = 1000
# Recovered deliveries fall due this far apart (100 a second per recovery).
RECOVERY_SPACING_MS = 10
# The time a refused `since` or `until` is shown as an example of.
RECOVERY_EXAMPLE = "2026-01-15T10:30:00Z"

log = structlog.get_logger(__name__)


async def list_logs(
    db: AsyncDatabase, filters: dict[str, Any], pagination: Pagination
) -> dict[str, Any]:
    """Logs matching `filters` (merchant_id, and status, event, endpoint_id, object_id or
    None), newest first."""
    async with db.connection() as conn:
        rows, total = await repository.LOGS.page(conn, filters, pagination)
    return pagination.page([WebhookLog.from_row(row) for row in rows], total)


async def get_log(db: AsyncDatabase, merchant_id: str, log_id: str) -> dict[str, Any]:
    log_id = uuid_or_not_found(log_id, WebhookNotFound)
    async with db.connection() as conn:
        row = found(await repository.get_log(conn, log_id, merchant_id), WebhookNotFound)
        attempts = await repository.list_attempts(conn, log_id)
    return WebhookLog.from_row(row).model_dump() | {
        "payload": json.loads(row["payload"]),
        "body": row["payload"],
        "attempt_history": [
            attempt | {"attempted_at": iso(attempt["attempted_at"])} for attempt in attempts
        ],
    }


async def retry(tx: AsyncTransaction, merchant_id: str, log_id: str) -> dict[str, Any]:
    """Deliver the log again at once on a fresh schedule. WebhookNotFound for an unknown id or
    another merchant's; a delivery whose endpoint was deleted or is disabled
    (RetryOfDeletedEndpoint, RetryOfDisabledEndpoint), or no longer takes its event type
    (RetryOfUntakenEvent), would never be sent (docs/webhooks.md#delivery-logs), so it is
    refused rather than scheduled to end unsent."""
    log_id = uuid_or_not_found(log_id, WebhookNotFound)
    async with tx.conn.transaction():
        delivery = await repository.lock_delivery_endpoint(tx.conn, log_id, merchant_id)
        delivery = found(delivery, WebhookNotFound)
        if delivery["endpoint_status"] is None:
            raise RetryOfDeletedEndpoint
        if delivery["endpoint_status"] != "enabled":
            raise RetryOfDisabledEndpoint
        if not delivery["endpoint_takes_event"]:
            raise RetryOfUntakenEvent(delivery["event"])
        row = found(await repository.schedule_again(tx.conn, log_id, merchant_id), WebhookNotFound)
        tx.after_commit(
            lambda: log.info("webhook_retry_scheduled", webhook_id=log_id,
                             merchant_id=merchant_id, status=row["status"])
        )  # fmt: skip
    return {"id": str(row["id"]), "status": row["status"], "message": "Webhook retry scheduled"}


async def _config(conn: AsyncDictConnection, merchant_id: str) -> dict[str, Any]:
    """The config as the API shows it (`WebhookConfig`), read on `conn`."""
    row = await repository.get_config(conn, merchant_id)
    replaced = await repository.live_replaced_secrets(conn, merchant_id)
    return {
        "webhook_url": row["webhook_url"] or None,
        "webhook_secret": row["webhook_secret"],
        # When the last replaced secret stops signing: the end of the whole overlap.
        "previous_secret_expires_at": iso(max((r["expires_at"] for r in replaced), default=None)),
        "previous_secrets": [
            {"replaced_at": iso(r["replaced_at"]), "expires_at": iso(r["expires_at"])}
            for r in replaced
        ],
    }


async def get_config(db: AsyncDatabase, merchant_id: str) -> dict[str, Any]:
    """The default endpoint's URL (None without one) and the merchant's secret, which signs
    the default endpoint's deliveries."""
    async with db.connection() as conn:
        return await _config(conn, merchant_id)


async def _checked_url(
    runtime: ApiRuntime, check: UrlCheck, url: str, field: str = "webhook_url"
) -> str:
    # `check` is the route's check of the body's URL, made before the request held anything
    # (api.webhooks.url_check); `field` is the request field that held the URL.
    return await check.checked(url, runtime.settings.webhook_allow_private_networks, field)


@asynccontextmanager
async def _at_most_twenty_endpoints() -> AsyncIterator[None]:
    """TooManyEndpoints for the database's refusal of a 21st endpoint (a trigger holds the
    limit under concurrency), whichever statement made it: a new endpoint, or a default
    endpoint made by setting the config's URL (docs/webhooks.md#default-endpoint)."""
    try:
        yield
    except errors.CheckViolation as exc:
        if exc.diag.constraint_name == "webhook_endpoints_at_most_20":
            raise TooManyEndpoints from None
        raise


async def update_config(
    runtime: ApiRuntime, merchant_id: str, url: str, check: UrlCheck
) -> dict[str, Any]:
    """Point the default endpoint at `url` (made if missing, its id kept otherwise); an empty
    string deletes it, ending its pending deliveries. InvalidWebhookUrl for a URL delivery
    would refuse (`check`: the route's check of it); TooManyEndpoints when making it would be
    a 21st endpoint."""
    url = url.strip()
    if url:
        await _checked_url(runtime, check, url)
    async with _at_most_twenty_endpoints(), runtime.db.transaction() as tx:
        await repository.set_default_url(tx.conn, merchant_id, url or None)
        return await _config(tx.conn, merchant_id)


async def _replace_secret(tx: AsyncTransaction, merchant_id: str, endpoint_id: str | None) -> None:
    """A new current secret for the merchant (`endpoint_id` None: the default endpoint's) or
    an endpoint; the replaced one keeps signing for ROTATION_OVERLAP from now, as does every
    earlier one for its own 24 h. Conflict (409) while MAX_REPLACED_SECRETS replaced secrets
    still sign, saying when the oldest stops. The caller holds the owner's row lock."""
    replaced = await repository.live_replaced_secrets(tx.conn, merchant_id, endpoint_id)
    if len(replaced) >= MAX_REPLACED_SECRETS:
        first_free = min(r["expires_at"] for r in replaced)
        raise TooManyReplacedSecrets(len(replaced), first_free)
    await repository.replace_secret(
        tx.conn, merchant_id, endpoint_id, new_webhook_secret(), ROTATION_OVERLAP
    )


async def rotate_secret(tx: AsyncTransaction, merchant_id: str) -> dict[str, Any]:
    """Rotate the merchant's webhook secret (the default endpoint's): see `_replace_secret`."""
    async with tx.conn.transaction():
        await repository.get_config(tx.conn, merchant_id, lock=True)
        await _replace_secret(tx, merchant_id, None)
        return await _config(tx.conn, merchant_id)


async def send_test(tx: AsyncTransaction, merchant_id: str) -> dict[str, Any]:
    """Queue a `webhook.test` event to the default endpoint; WebhookUrlNotSet without one,
    DefaultEndpointDisabled while it is disabled."""
    data = TestEventData(message=TEST_MESSAGE, merchant_id=merchant_id).model_dump()
    async with tx.conn.transaction():
        # Locked: a URL cleared meanwhile waits for this event (or this event for it).
        if not (await repository.get_config(tx.conn, merchant_id, lock=True))["webhook_url"]:
            raise WebhookUrlNotSet
        log_id = await record_event_async(tx, merchant_id, WEBHOOK_TEST, data)
        if log_id is None:
            raise DefaultEndpointDisabled  # rolls the event back too
        tx.after_commit(
            lambda: log.info("webhook_test_queued", merchant_id=merchant_id, webhook_ids=[log_id])
        )
    return {
        "id": log_id,
        "event": WEBHOOK_TEST,
        "status": "pending",
        "message": "Test webhook scheduled",
    }


# --- endpoints ------------------------------------------------------------------------------


def _event_filter(events: list[str]) -> list[str]:
    """The filter as stored: the listed types once each, in order, or ["*"]. BadRequest for
    an unknown type, or "*" beside others."""
    for event in events:
        if event != EVERY_EVENT and event not in EVENT_TYPES:
            raise UnknownEventType
    if EVERY_EVENT in events and len(set(events)) > 1:
        raise EveryEventNotAlone
    return list(dict.fromkeys(events))


async def list_endpoints(
    db: AsyncDatabase, merchant_id: str, pagination: Pagination
) -> dict[str, Any]:
    """A page of the merchant's endpoints, newest first, each with its `health` (one query
    for the page's endpoints, as `get_endpoint` shows it)."""
    async with db.connection() as conn:
        rows, total = await repository.ENDPOINTS.page(
            conn, {"merchant_id": merchant_id}, pagination
        )
        health = await repository.endpoints_health(conn, [row["id"] for row in rows])
    return pagination.page(
        [WebhookEndpoint.from_row(row).model_dump() | _health(health[row["id"]]) for row in rows],
        total,
    )


async def _endpoint(
    conn: AsyncDictConnection, merchant_id: str, endpoint_id: str, lock: bool = False
) -> Row:
    row = await repository.get_endpoint(conn, merchant_id, endpoint_id, lock)
    return found(row, WebhookEndpointNotFound)


async def get_endpoint(db: AsyncDatabase, merchant_id: str, endpoint_id: str) -> dict[str, Any]:
    """The endpoint with its 24 h `health`; WebhookEndpointNotFound (404) for an unknown id
    or another merchant's."""
    async with db.connection() as conn:
        row = await _endpoint(conn, merchant_id, endpoint_id)
        health = await repository.endpoints_health(conn, [endpoint_id])
    return WebhookEndpoint.from_row(row).model_dump() | _health(health[endpoint_id])


def _health(row: Row) -> dict[str, Any]:
    """An endpoint's `health` as the API shows it (repository.endpoints_health)."""
    return {
        "health": {
            "succeeded_24h": row["succeeded_24h"],
            "failed_24h": row["failed_24h"],
            "last_success_at": iso(row["last_success_at"]),
            "retrying": row["retrying"],
            "last_failure_at": iso(row["last_failure_at"]),
        }
    }


async def create_endpoint(
    runtime: ApiRuntime,
    tx: AsyncTransaction,
    merchant_id: str,
    body: WebhookEndpointCreate,
    check: UrlCheck,
) -> WebhookEndpoint:
    """A new enabled endpoint with its own secret. BadRequest for a URL delivery would
    refuse (`check`: the route's check of it), an unknown event type, or a 21st endpoint
    (TooManyEndpoints, held by the database under concurrency)."""
    events = _event_filter(body.events)
    url = await _checked_url(runtime, check, body.url.strip(), "url")
    endpoint_id = new_id(ENDPOINT_PREFIX)
    async with _at_most_twenty_endpoints(), tx.conn.transaction():
        await repository.insert_endpoint(
            tx.conn,
            id=endpoint_id,
            merchant_id=merchant_id,
            url=url,
            events=events,
            description=body.description,
            secret=new_webhook_secret(),
        )
        row = await _endpoint(tx.conn, merchant_id, endpoint_id)
    log.info("webhook_endpoint_created", merchant_id=merchant_id, endpoint_id=endpoint_id)
    return WebhookEndpoint.from_row(row)


async def update_endpoint(
    runtime: ApiRuntime,
    merchant_id: str,
    endpoint_id: str,
    body: WebhookEndpointUpdate,
    check: UrlCheck,
) -> WebhookEndpoint:
    """Change the fields given (a new URL: `check` is the route's check of it). A new URL or
    a change of status starts a clean record (no `disabled_reason`, no failing streak); the
    URL or status it has already is no change, so sending it again cannot put off an
    automatic disabling (docs/webhooks.md#endpoint-health). Disabling ends its pending
    deliveries (`recover` sends what it missed once enabled again). The default endpoint takes
    every event: another filter for it is BadRequest."""
    given = body.model_fields_set
    changes: dict[str, Any] = {}
    if "url" in given:
        if body.url is None:
            raise EndpointUrlRemoved
        changes["url"] = await _checked_url(runtime, check, body.url.strip(), "url")
    if "events" in given:
        if body.events is None:
            raise EndpointEventsRemoved
        changes["events"] = _event_filter(body.events)
    if "description" in given:
        changes["description"] = body.description
    if "status" in given:
        if body.status is None:
            raise EndpointStatusRemoved
        changes["status"] = body.status
    async with runtime.db.transaction() as tx:
        row = await _endpoint(tx.conn, merchant_id, endpoint_id, lock=True)
        if row["is_default"] and changes.get("events", [EVERY_EVENT]) != [EVERY_EVENT]:
            raise DefaultEndpointTakesEveryEvent
        if any(changes.get(field, row[field]) != row[field] for field in ("url", "status")):
            changes |= {"disabled_reason": None, "failing_since": None}
        if changes:
            await repository.update_endpoint(tx.conn, endpoint_id, changes)
        ended = 0
        if changes.get("status") == "disabled" and row["status"] == "enabled":
            ended = await repository.end_pending_deliveries(
                tx.conn, endpoint_id, "endpoint disabled"
            )
        row = await _endpoint(tx.conn, merchant_id, endpoint_id)
    log.info(
        "webhook_endpoint_updated",
        merchant_id=merchant_id,
        endpoint_id=endpoint_id,
        fields=sorted(changes),
        deliveries_ended=ended,
    )
    return WebhookEndpoint.from_row(row)


async def delete_endpoint(runtime: ApiRuntime, merchant_id: str, endpoint_id: str) -> None:
    """Delete the endpoint: its pending deliveries end `failed` ("endpoint deleted"), its logs
    stay. The default endpoint's URL is the config's, which reads empty after."""
    async with runtime.db.transaction() as tx:
        await _endpoint(tx.conn, merchant_id, endpoint_id, lock=True)
        ended = await repository.end_pending_deliveries(tx.conn, endpoint_id, "endpoint deleted")
        await repository.delete_endpoint(tx.conn, endpoint_id)
    log.info(
        "webhook_endpoint_deleted",
        merchant_id=merchant_id,
        endpoint_id=endpoint_id,
        deliveries_ended=ended,
    )


async def rotate_endpoint_secret(
    tx: AsyncTransaction, merchant_id: str, endpoint_id: str
) -> WebhookEndpoint:
    """A new secret for the endpoint (the default's is the merchant's webhook secret, as the
    config's rotation makes it); the replaced one keeps signing for 24 h."""
    async with tx.conn.transaction():
        # The merchant row first, as the config's URL and rotation lock it: no lock cycle.
        await repository.get_config(tx.conn, merchant_id, lock=True)
        row = await _endpoint(tx.conn, merchant_id, endpoint_id, lock=True)
        await _replace_secret(tx, merchant_id, None if row["is_default"] else endpoint_id)
        row = await _endpoint(tx.conn, merchant_id, endpoint_id)
    log.info("webhook_endpoint_secret_rotated", merchant_id=merchant_id, endpoint_id=endpoint_id)
    return WebhookEndpoint.from_row(row)


async def recover(
    tx: AsyncTransaction, merchant_id: str, endpoint_id: str, body: EndpointRecover
) -> dict[str, int]:
    """Deliver again to the endpoint every event of [since, until] that its filter takes and
    that has no delivery to it that succeeded or is still pending: each as a new log (a new
    id, the event id as webhook-id) with a fresh schedule. So a second recovery of the same
    window while the first one's logs are pending or delivered queues nothing new. Both bounds
    are read at the millisecond precision the API shows, as the events API reads its own: an
    event's `created_at` as both finds it.

    Batched: RECOVERY_BATCH events per short transaction (without an Idempotency-Key), the
    endpoint held in each (`repository.hold_for_recovery`: two recoveries of one endpoint
    never queue an event twice, and no dispatcher waits for it). The new logs fall due
    RECOVERY_SPACING_MS apart, so a recovery of 100,000 events trickles out over minutes
    instead of standing ahead of every other merchant's deliveries. BadRequest for `since`
    more than RECOVERY_WINDOW back, `until` before `since` (or, `until` left out, `since` in
    the future), or a disabled endpoint."""
    await _endpoint(tx.conn, merchant_id, endpoint_id)  # 404 before any word on the window
    now = datetime.now(UTC)
    since = shown_millisecond(body.since, "since", RECOVERY_EXAMPLE)
    until = shown_millisecond(body.until, "until", RECOVERY_EXAMPLE) or now
    assert since is not None
    if since < now - RECOVERY_WINDOW:
        raise RecoveryTooFarBack(RECOVERY_WINDOW.days)
    if until < since:
        raise RecoveryEndsBeforeItStarts if body.until is not None else RecoveryStartsInTheFuture
    # Events created before this; the last millisecond there is has no end, and no event after.
    before = (end_of_millisecond(until) or until) if body.until is not None else now
    after: tuple[datetime, int] = (since - timedelta(microseconds=1), 2**62)
    queued = seen = 0
    while True:
        async with tx.conn.transaction():
            endpoint = await repository.hold_for_recovery(tx.conn, merchant_id, endpoint_id)
            endpoint = found(endpoint, WebhookEndpointNotFound)
            if endpoint["status"] != "enabled":
                raise RecoveryOfDisabledEndpoint
            batch = await repository.recover_batch(
                tx.conn, endpoint, merchant_id, after, before,
                RECOVERY_BATCH, queued * RECOVERY_SPACING_MS, RECOVERY_SPACING_MS,
            )  # fmt: skip
        queued += batch["queued"]
        seen += batch["seen"]
        if batch["seen"] < RECOVERY_BATCH:
            break
        after = (batch["last_created_at"], batch["last_seq"])
    log.info(
        "webhook_endpoint_recovery_queued",
        merchant_id=merchant_id,
        endpoint_id=endpoint_id,
        since=iso(since),
        until=iso(until),
        events_seen=seen,
        queued=queued,
    )
    return {"queued": queued}
