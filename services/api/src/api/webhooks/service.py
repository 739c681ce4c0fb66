"""Webhook logs, manual retries and the merchant's webhook configuration."""

import json
import uuid
from typing import Any

import structlog

from api.merchants.auth import AuthenticatedMerchant
from api.pagination import Total
from api.runtime import ApiRuntime
from api.webhooks import repository
from api.webhooks.errors import WebhookNotFound, WebhookUrlNotSet
from shared.db import Database, Row
from shared.errors import Conflict
from shared.events import WEBHOOK_TEST, record_event
from shared.queues import WEBHOOKS_QUEUE
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


def list_logs(
    db: Database, merchant_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], Total]:
    with db.connection() as conn:
        rows = repository.list_logs(conn, merchant_id, limit, offset)
        total = repository.count_logs(conn, merchant_id)
    return [_log_resource(row) for row in rows], total


def get_log(db: Database, merchant_id: str, log_id: str) -> dict[str, Any]:
    log_id = _log_id(log_id)
    with db.connection() as conn:
        row = repository.get_log(conn, log_id, merchant_id)
        if row is None:
            raise WebhookNotFound
        attempts = repository.list_attempts(conn, log_id)
    return _log_resource(row) | {
        "payload": json.loads(row["payload"]),
        "body": row["payload"],
        "attempt_history": [
            attempt | {"attempted_at": iso(attempt["attempted_at"])} for attempt in attempts
        ],
    }


def retry(runtime: ApiRuntime, merchant_id: str, log_id: str) -> dict[str, Any]:
    log_id = _log_id(log_id)
    with runtime.db.transaction() as tx:
        row = repository.schedule_again(tx.conn, log_id, merchant_id)
        if row is None:
            raise WebhookNotFound
        tx.after_commit(lambda: runtime.queues.wake(WEBHOOKS_QUEUE), key=WEBHOOKS_QUEUE)
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


def get_config(db: Database, merchant: AuthenticatedMerchant) -> dict[str, Any]:
    with db.connection() as conn:
        replaced = repository.live_replaced_secrets(conn, merchant.id)
    current = {"webhook_url": merchant.webhook_url, "webhook_secret": merchant.webhook_secret}
    return _config(current, replaced)


def update_config(runtime: ApiRuntime, merchant_id: str, url: str) -> dict[str, Any]:
    url = url.strip()
    if url:
        validate_webhook_url(url, runtime.settings.webhook_allow_private_networks)
    with runtime.db.transaction() as tx:
        row = repository.set_webhook_url(tx.conn, merchant_id, url or None)
        return _config(row, repository.live_replaced_secrets(tx.conn, merchant_id))


def rotate_secret(db: Database, merchant_id: str) -> dict[str, Any]:
    """Make a new current secret; the replaced one keeps signing for ROTATION_OVERLAP from
    now, as does every earlier one for its own 24 h (CONTRACT §7). Conflict (409) while
    MAX_REPLACED_SECRETS replaced secrets still sign, saying when the oldest stops."""
    with db.transaction() as tx:
        repository.lock_config(tx.conn, merchant_id)
        replaced = repository.live_replaced_secrets(tx.conn, merchant_id)
        if len(replaced) >= MAX_REPLACED_SECRETS:
            first_free = min(r["expires_at"] for r in replaced)
            raise Conflict(
                f"{len(replaced)} replaced webhook secrets still sign every webhook; rotate "
                f"again after {iso(first_free)}, when the oldest of them stops"
            )
        row = repository.replace_secret(
            tx.conn, merchant_id, new_webhook_secret(), ROTATION_OVERLAP
        )
        return _config(row, repository.live_replaced_secrets(tx.conn, merchant_id))


def send_test(runtime: ApiRuntime, merchant: AuthenticatedMerchant) -> dict[str, Any]:
    if not merchant.webhook_url:
        raise WebhookUrlNotSet
    data = {
        "message": "This is a test webhook from Payment Gateway",
        "merchant_id": merchant.id,
    }
    with runtime.db.transaction() as tx:
        log_id = record_event(tx, runtime.queues, merchant.id, WEBHOOK_TEST, data)
    if log_id is None:  # the URL was cleared in between
        raise WebhookUrlNotSet
    return {
        "id": log_id,
        "event": WEBHOOK_TEST,
        "status": "pending",
        "message": "Test webhook scheduled",
    }
