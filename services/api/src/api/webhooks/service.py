"""Webhook logs, manual retries and the merchant's webhook configuration."""

import asyncio
import json
import uuid
from typing import Any

import structlog

from api.merchants.auth import AuthenticatedMerchant
from api.pagination import Total
from api.runtime import ApiRuntime
from api.webhooks import repository
from api.webhooks.errors import WebhookNotFound, WebhookUrlNotSet
from shared.db import AsyncDatabase, Row
from shared.errors import Conflict
from shared.events import WEBHOOK_TEST, record_event_async
from shared.serializers import iso
from shared.signing import new_webhook_secret
from shared.webhook_urls import validate_webhook_url

ROTATION_OVERLAP = "24 hours"
# Replaced secrets that may sign at once. Every one signs every delivery (one HMAC and ~65
# header bytes each), so a runaway script rotating in a loop is refused, not obeyed forever.
MAX_REPLACED_SECRETS = 10

log = structlog.get_logger(__name__)


def _log_resource(row: Row) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "event": row["event"],
        "status": row["status"],
        "attempts": row["attempts"],
        "created_at": iso(row["created_at"]),
        "last_attempt_at": iso(row["last_attempt_at"]),
        "next_retry_at": iso(row["next_retry_at"]),
        "response_code": row["response_code"],
        "last_error": row["last_error"],
    }


def _log_id(value: str) -> str:
    """The canonical form of a log id, which PostgreSQL reads (uuid.UUID also takes forms it
    does not, such as urn:uuid:...); WebhookNotFound for anything that is not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise WebhookNotFound from None


async def list_logs(
    db: AsyncDatabase, merchant_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], Total]:
    async with db.connection() as conn:
        rows = await repository.list_logs(conn, merchant_id, limit, offset)
        total = await repository.count_logs(conn, merchant_id)
    return [_log_resource(row) for row in rows], total


async def get_log(db: AsyncDatabase, merchant_id: str, log_id: str) -> dict[str, Any]:
    log_id = _log_id(log_id)
    async with db.connection() as conn:
        row = await repository.get_log(conn, log_id, merchant_id)
        if row is None:
            raise WebhookNotFound
        attempts = await repository.list_attempts(conn, log_id)
    return _log_resource(row) | {
        "payload": json.loads(row["payload"]),
        "body": row["payload"],
        "attempt_history": [
            attempt | {"attempted_at": iso(attempt["attempted_at"])} for attempt in attempts
        ],
    }


async def retry(runtime: ApiRuntime, merchant_id: str, log_id: str) -> dict[str, Any]:
    log_id = _log_id(log_id)
    async with runtime.db.transaction() as tx:
        row = await repository.schedule_again(tx.conn, log_id, merchant_id)
        if row is None:
            raise WebhookNotFound
        tx.after_commit(
            lambda: log.info("webhook_retry_scheduled", webhook_id=log_id,
                             merchant_id=merchant_id, status=row["status"])
        )  # fmt: skip
    return {"id": str(row["id"]), "status": row["status"], "message": "Webhook retry scheduled"}


def _config(row: Row, replaced: list[Row]) -> dict[str, Any]:
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


async def get_config(db: AsyncDatabase, merchant: AuthenticatedMerchant) -> dict[str, Any]:
    async with db.connection() as conn:
        current = await repository.get_config(conn, merchant.id)
        replaced = await repository.live_replaced_secrets(conn, merchant.id)
    return _config(current, replaced)


async def update_config(runtime: ApiRuntime, merchant_id: str, url: str) -> dict[str, Any]:
    url = url.strip()
    if url:
        # It resolves the host name (blocking getaddrinfo): in a thread, not on the event loop.
        allow_private = runtime.settings.webhook_allow_private_networks
        await asyncio.to_thread(validate_webhook_url, url, allow_private)
    async with runtime.db.transaction() as tx:
        row = await repository.set_webhook_url(tx.conn, merchant_id, url or None)
        return _config(row, await repository.live_replaced_secrets(tx.conn, merchant_id))


async def rotate_secret(db: AsyncDatabase, merchant_id: str) -> dict[str, Any]:
    """Make a new current secret; the replaced one keeps signing for ROTATION_OVERLAP from
    now, as does every earlier one for its own 24 h (CONTRACT §7). Conflict (409) while
    MAX_REPLACED_SECRETS replaced secrets still sign, saying when the oldest stops."""
    async with db.transaction() as tx:
        await repository.lock_config(tx.conn, merchant_id)
        replaced = await repository.live_replaced_secrets(tx.conn, merchant_id)
        if len(replaced) >= MAX_REPLACED_SECRETS:
            first_free = min(r["expires_at"] for r in replaced)
            raise Conflict(
                f"{len(replaced)} replaced webhook secrets still sign every webhook; rotate "
                f"again after {iso(first_free)}, when the oldest of them stops"
            )
        row = await repository.replace_secret(
            tx.conn, merchant_id, new_webhook_secret(), ROTATION_OVERLAP
        )
        return _config(row, await repository.live_replaced_secrets(tx.conn, merchant_id))


async def send_test(runtime: ApiRuntime, merchant: AuthenticatedMerchant) -> dict[str, Any]:
    """Queue a `webhook.test` event to the merchant's URL; WebhookUrlNotSet without one."""
    data = {
        "message": "This is a test webhook from Payment Gateway",
        "merchant_id": merchant.id,
    }
    async with runtime.db.transaction() as tx:
        # Locked: a URL cleared meanwhile waits for this event (or this event for it).
        if not (await repository.lock_config(tx.conn, merchant.id))["webhook_url"]:
            raise WebhookUrlNotSet
        log_id = await record_event_async(tx, merchant.id, WEBHOOK_TEST, data)
        tx.after_commit(
            lambda: log.info("webhook_test_queued", merchant_id=merchant.id, webhook_ids=[log_id])
        )
    assert log_id is not None  # the merchant has a URL: its event has a delivery log
    return {
        "id": log_id,
        "event": WEBHOOK_TEST,
        "status": "pending",
        "message": "Test webhook scheduled",
    }
