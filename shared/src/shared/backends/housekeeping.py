"""Housekeeping: rows kept for a while and then deleted, in bounded batches on a schedule.

Each purge is one DELETE of at most `batch` rows (default 1,000), repeated until a batch comes
back short, so no statement holds many locks or writes much WAL at once. Rows another session
holds are skipped (SKIP LOCKED), so any number of workers may purge at the same time; the
sweep of shared.backends.worker runs the purges about once a minute, on one worker at a time.

A table with a retention adds one entry to `gateway_purges`.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog
from pydantic import Field

from shared.backends.db import Database
from shared.core.settings import ServiceSettings

log = structlog.get_logger(__name__)

BATCH_ROWS = 1000
# One run stops after this long; the next run goes on where it stopped.
MAX_RUN_S = 10.0


class HousekeepingSettings(ServiceSettings):
    """How long stored rows are kept: read by every worker, whose sweep runs the purges."""

    # Stored events older than this are purged (docs/operations/housekeeping.md#retention).
    event_retention_days: int = Field(default=30, ge=1, le=3650)
    # Webhook delivery logs (with their attempts: full payloads and responses) that ended, and
    # were last touched, longer ago than this are purged; a pending one never is.
    webhook_log_retention_days: int = Field(default=30, ge=1, le=3650)


@dataclass(frozen=True)
class Purge:
    """A DELETE of at most %(batch)s expired rows of one table; `params` fills its other
    placeholders (e.g. a retention in days)."""

    table: str
    statement: str
    params: Mapping[str, object] = field(default_factory=dict)


# Idempotency keys are kept 24 h from first use (docs/idempotency.md#expiry): expires_at says until
# when.
IDEMPOTENCY_KEYS = Purge(
    "idempotency_keys",
    """
    DELETE FROM idempotency_keys
    WHERE (merchant_id, key) IN (
        SELECT merchant_id, key FROM idempotency_keys
        WHERE expires_at <= now()
        LIMIT %(batch)s
        FOR UPDATE SKIP LOCKED)
    """,
)


def expired_events(retention_days: int) -> Purge:
    """Events older than `retention_days` (EVENT_RETENTION_DAYS, default 30; docs/api.md#events).
    Their delivery logs stay, naming the event id (their webhook-id)."""
    return Purge(
        "events",
        """
        DELETE FROM events WHERE id IN (
            SELECT id FROM events WHERE created_at < now() - make_interval(days => %(days)s)
            ORDER BY created_at LIMIT %(batch)s
            FOR UPDATE SKIP LOCKED)
        """,
        {"days": retention_days},
    )


def expired_webhook_logs(retention_days: int) -> Purge:
    """Webhook delivery logs created and last updated more than `retention_days` ago
    (WEBHOOK_LOG_RETENTION_DAYS, default 30) that are no longer pending; their attempts go
    with them (ON DELETE CASCADE), so a batch of logs takes up to five attempts each."""
    return Purge(
        "webhook_logs",
        """
        DELETE FROM webhook_logs WHERE id IN (
            SELECT id FROM webhook_logs
            WHERE created_at < now() - make_interval(days => %(days)s)
              AND updated_at < now() - make_interval(days => %(days)s)
              AND status <> 'pending'
            ORDER BY created_at LIMIT %(batch)s
            FOR UPDATE SKIP LOCKED)
        """,
        {"days": retention_days},
    )


def gateway_purges(settings: HousekeepingSettings) -> list[Purge]:
    """Every purge the sweep runs, with the retentions `settings` gives."""
    return [
        IDEMPOTENCY_KEYS,
        expired_events(settings.event_retention_days),
        expired_webhook_logs(settings.webhook_log_retention_days),
    ]


def run_purges(db: Database, purges: list[Purge], batch: int = BATCH_ROWS) -> int:
    """Delete expired rows of every table in `purges`; returns how many rows went."""
    deleted = 0
    deadline = time.monotonic() + MAX_RUN_S
    for purge in purges:
        table_deleted = 0
        while time.monotonic() < deadline:
            with db.connection() as conn:
                count = conn.execute(purge.statement, {**purge.params, "batch": batch}).rowcount
            table_deleted += count
            if count < batch:
                break
        if table_deleted:
            log.info("expired_rows_deleted", table=purge.table, rows=table_deleted)
        deleted += table_deleted
    return deleted
