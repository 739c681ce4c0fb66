from datetime import datetime
from typing import Any

from api.pagination import Listing
from shared.backends.db import AsyncDictConnection, Row, fetchall_async, fetchone_async, one_async

LOG_COLUMNS = """
    l.id, l.event, l.event_id, l.endpoint_id, l.object_id, l.status, l.attempts, l.created_at,
    l.last_attempt_at, l.next_retry_at, l.response_code,
    coalesce(l.failure_reason, last_attempt.error) AS last_error
"""
# The error of a log's latest attempt, off the (webhook_log_id, attempt_number) unique index.
LAST_ATTEMPT = """
LEFT JOIN LATERAL (
    SELECT a.error FROM webhook_attempts a WHERE a.webhook_log_id = l.id
    ORDER BY a.attempt_number DESC LIMIT 1
) last_attempt ON true
"""


# Each filter is off when its parameter is NULL.
LOGS = Listing(
    columns=LOG_COLUMNS,
    table="webhook_logs l",
    joins=LAST_ATTEMPT,
    where="""
    l.merchant_id = %(merchant_id)s
    AND (%(status)s::text IS NULL OR l.status = %(status)s)
    AND (%(event)s::text IS NULL OR l.event = %(event)s)
    AND (%(endpoint_id)s::text IS NULL OR l.endpoint_id = %(endpoint_id)s)
    AND (%(object_id)s::text IS NULL OR l.object_id = %(object_id)s)
    """,
    order_by="l.created_at DESC, l.id DESC",
)


async def get_log(conn: AsyncDictConnection, log_id: str, merchant_id: str) -> Row | None:
    return await fetchone_async(
        conn,
        f"""
        SELECT {LOG_COLUMNS}, l.payload FROM webhook_logs l {LAST_ATTEMPT}
        WHERE l.id = %s AND l.merchant_id = %s
        """,
        (log_id, merchant_id),
    )


async def list_attempts(conn: AsyncDictConnection, log_id: str) -> list[Row]:
    return await fetchall_async(
        conn,
        """
        SELECT attempt_number, scheduled_attempt, attempted_at, duration_ms, response_code,
               response_body, error
        FROM webhook_attempts WHERE webhook_log_id = %s ORDER BY attempt_number
        """,
        (log_id,),
    )


async def lock_delivery_endpoint(
    conn: AsyncDictConnection, log_id: str, merchant_id: str
) -> Row | None:
    """The merchant's log `log_id` (None for an unknown id or another merchant's: `id`,
    `endpoint_id`, `event`) with the `endpoint_status` of the endpoint it goes to (its own, or
    the default endpoint for a log without one; None when that endpoint no longer exists) and
    `endpoint_takes_event`, whether that endpoint's filter takes the log's event type (the
    test shared.domain.events logs a delivery by). The endpoint's row is share-locked, so it is
    neither deleted, disabled nor narrowed before the caller's transaction ends; it is taken
    before the log's row, the lock order of every writer of an endpoint and its deliveries."""
    row = await fetchone_async(
        conn,
        "SELECT id, endpoint_id, event FROM webhook_logs WHERE id = %s AND merchant_id = %s",
        (log_id, merchant_id),
    )
    if row is None:
        return None
    endpoint = await fetchone_async(
        conn,
        """
        SELECT status, (%(event)s = ANY(events) OR '*' = ANY(events)) AS takes_event
        FROM webhook_endpoints
        WHERE merchant_id = %(merchant_id)s
          AND (id = %(endpoint_id)s OR (%(endpoint_id)s::text IS NULL AND is_default))
        FOR SHARE
        """,
        {"merchant_id": merchant_id, "endpoint_id": row["endpoint_id"], "event": row["event"]},
    )
    return row | {
        "endpoint_status": endpoint["status"] if endpoint else None,
        "endpoint_takes_event": bool(endpoint and endpoint["takes_event"]),
    }


async def schedule_again(conn: AsyncDictConnection, log_id: str, merchant_id: str) -> Row | None:
    """Deliver again at once with a fresh set of attempts; why it had ended (its endpoint
    disabled, say) no longer holds, so it is cleared."""
    return await fetchone_async(
        conn,
        """
        UPDATE webhook_logs
        SET status = 'pending', attempts = 0, next_retry_at = now(), failure_reason = NULL,
            updated_at = now()
        WHERE id = %s AND merchant_id = %s
        RETURNING id, status
        """,
        (log_id, merchant_id),
    )


async def get_config(conn: AsyncDictConnection, merchant_id: str, lock: bool = False) -> Row:
    """The merchant's webhook URL (its default endpoint's, None without one) and signing
    secret; with `lock`, the merchant row is locked: rotations of one merchant run one at a
    time, and a URL cleared meanwhile waits."""
    return await one_async(
        conn,
        f"""
        SELECT (SELECT e.url FROM webhook_endpoints e
                WHERE e.merchant_id = m.id AND e.is_default) AS webhook_url,
               m.webhook_secret
        FROM merchants m WHERE m.id = %s {"FOR NO KEY UPDATE OF m" if lock else ""}
        """,
        (merchant_id,),
    )


async def set_default_url(conn: AsyncDictConnection, merchant_id: str, url: str | None) -> None:
    """Point the default endpoint at `url` (made if missing; its id kept), or delete it for
    None (its pending deliveries end failed): migration 010's set_default_webhook_url."""
    await conn.execute("SELECT set_default_webhook_url(%s, %s)", (merchant_id, url))


# A replaced secret belongs to an endpoint, or with endpoint_id NULL to the merchant's own
# secret (the default endpoint's).
OWNED_BY = """
    merchant_id = %(merchant_id)s
    AND endpoint_id IS NOT DISTINCT FROM %(endpoint_id)s::text
"""


async def live_replaced_secrets(
    conn: AsyncDictConnection, merchant_id: str, endpoint_id: str | None = None
) -> list[Row]:
    """Replaced secrets still signing, newest first: (replaced_at, expires_at), no secret.
    `endpoint_id` None: the merchant's own secret (the default endpoint's)."""
    return await fetchall_async(
        conn,
        f"""
        SELECT replaced_at, expires_at FROM webhook_secrets
        WHERE {OWNED_BY} AND expires_at > now()
        ORDER BY replaced_at DESC, id DESC
        """,
        {"merchant_id": merchant_id, "endpoint_id": endpoint_id},
    )


async def secrets_in_force(conn: AsyncDictConnection, merchant_id: str) -> list[str]:
    """The secrets a delivery to the default endpoint is signed with now, as the dispatcher
    reads them: the current one first, then the replaced ones still in their overlap, newest
    first (another endpoint's replaced secrets are not the default's)."""
    row = await one_async(
        conn,
        """
        SELECT ARRAY[m.webhook_secret] || ARRAY(
                   SELECT s.secret FROM webhook_secrets s
                   WHERE s.merchant_id = m.id AND s.endpoint_id IS NULL
                     AND s.expires_at > now()
                   ORDER BY s.replaced_at DESC, s.id DESC) AS secrets
        FROM merchants m WHERE m.id = %s
        """,
        (merchant_id,),
    )
    return list(row["secrets"])


async def replace_secret(
    conn: AsyncDictConnection,
    merchant_id: str,
    endpoint_id: str | None,
    new_secret: str,
    overlap: str,
) -> str:
    """Keep the current secret of the merchant (`endpoint_id` None) or of an endpoint signing
    for `overlap` (an interval) and make `new_secret` current; replaced secrets that have run
    out are deleted on the way. Returns the new secret."""
    owner = {"merchant_id": merchant_id, "endpoint_id": endpoint_id}
    await conn.execute(
        f"DELETE FROM webhook_secrets WHERE {OWNED_BY} AND expires_at <= now()", owner
    )
    if endpoint_id is None:
        current = "SELECT webhook_secret FROM merchants WHERE id = %(merchant_id)s"
        make_current = (
            "UPDATE merchants SET webhook_secret = %(secret)s, updated_at = now()"
            " WHERE id = %(merchant_id)s"
        )
    else:
        current = "SELECT secret FROM webhook_endpoints WHERE id = %(endpoint_id)s"
        make_current = (
            "UPDATE webhook_endpoints SET secret = %(secret)s, updated_at = now()"
            " WHERE id = %(endpoint_id)s"
        )
    await conn.execute(
        f"""
        INSERT INTO webhook_secrets (merchant_id, endpoint_id, secret, replaced_at, expires_at)
        SELECT %(merchant_id)s::uuid, %(endpoint_id)s::text, ({current}), now(), now() + %(overlap)s::interval
        """,
        owner | {"overlap": overlap},
    )
    await conn.execute(make_current, owner | {"secret": new_secret})
    return new_secret


# --- endpoints ------------------------------------------------------------------------------

ENDPOINT_COLUMNS = """
    e.id, e.url, e.events, e.description, e.status, e.is_default,
    coalesce(e.secret, m.webhook_secret) AS secret, e.disabled_reason, e.created_at,
    e.updated_at
"""


ENDPOINTS = Listing(
    columns=ENDPOINT_COLUMNS,
    table="webhook_endpoints e",
    joins="JOIN merchants m ON m.id = e.merchant_id",
    where="e.merchant_id = %(merchant_id)s",
    order_by="e.created_at DESC, e.id DESC",
)


async def get_endpoint(
    conn: AsyncDictConnection, merchant_id: str, endpoint_id: str, lock: bool = False
) -> Row | None:
    """One of the merchant's endpoints (None for an unknown id or another merchant's); with
    `lock`, its row is locked for the caller's transaction."""
    return await fetchone_async(
        conn,
        f"""
        SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id
        WHERE e.id = %s AND e.merchant_id = %s {"FOR NO KEY UPDATE OF e" if lock else ""}
        """,
        (endpoint_id, merchant_id),
    )


# The first key of the transaction advisory locks that serialize recoveries of one endpoint
# (the second is a hash of its id); a two-key advisory lock never meets a one-key one.
RECOVERY_LOCK_CLASS = 7_280_432


async def hold_for_recovery(
    conn: AsyncDictConnection, merchant_id: str, endpoint_id: str
) -> Row | None:
    """One of the merchant's endpoints, as `get_endpoint` reads it, held for a batch of a
    recovery until the caller's transaction ends: other recoveries of it wait (so none queues
    an event twice), and it is not deleted meanwhile; no row lock that a dispatcher recording
    an attempt, or the API changing the endpoint, waits for (FOR KEY SHARE). A recovery under
    an Idempotency-Key is one transaction, held to its end."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (RECOVERY_LOCK_CLASS, endpoint_id)
    )
    return await fetchone_async(
        conn,
        f"""
        SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id
        WHERE e.id = %s AND e.merchant_id = %s FOR KEY SHARE OF e
        """,
        (endpoint_id, merchant_id),
    )


async def insert_endpoint(conn: AsyncDictConnection, **fields: Any) -> None:
    """A new, enabled, non-default endpoint. CheckViolation `webhook_endpoints_at_most_20`
    when the merchant has 20 already (the insert trigger of migration 010)."""
    await conn.execute(
        """
        INSERT INTO webhook_endpoints (id, merchant_id, url, events, description, secret)
        VALUES (%(id)s, %(merchant_id)s, %(url)s, %(events)s, %(description)s, %(secret)s)
        """,
        fields,
    )


async def update_endpoint(
    conn: AsyncDictConnection, endpoint_id: str, changes: dict[str, Any]
) -> None:
    """Set the given columns (url, events, description, status, disabled_reason,
    failing_since) of an endpoint."""
    columns = ("url", "events", "description", "status", "disabled_reason", "failing_since")
    assignments = [f"{column} = %({column})s" for column in columns if column in changes]
    await conn.execute(
        f"UPDATE webhook_endpoints SET {', '.join(assignments)}, updated_at = now()"
        " WHERE id = %(id)s",
        changes | {"id": endpoint_id},
    )


async def end_pending_deliveries(conn: AsyncDictConnection, endpoint_id: str, reason: str) -> int:
    """The endpoint's pending deliveries end failed with `reason`; how many did."""
    row = await one_async(
        conn, "SELECT end_pending_deliveries(%s, %s) AS ended", (endpoint_id, reason)
    )
    ended: int = row["ended"]
    return ended


async def delete_endpoint(conn: AsyncDictConnection, endpoint_id: str) -> None:
    await conn.execute("DELETE FROM webhook_endpoints WHERE id = %s", (endpoint_id,))


async def endpoints_health(conn: AsyncDictConnection, endpoint_ids: list[str]) -> dict[str, Row]:
    """Each endpoint's delivery health, in one query for them all: deliveries (logs) that
    ended success / failed in the last 24 h, when the last one succeeded (None if never, as
    far as logs are kept), those still pending after a failed attempt (`retrying`: waiting for
    their next retry) and when an attempt last failed. An endpoint without logs has zeros."""
    rows = await fetchall_async(
        conn,
        """
        SELECT endpoint_id,
               count(*) FILTER (WHERE status = 'success'
                                AND updated_at > now() - interval '24 hours') AS succeeded_24h,
               count(*) FILTER (WHERE status = 'failed'
                                AND updated_at > now() - interval '24 hours') AS failed_24h,
               max(last_attempt_at) FILTER (WHERE status = 'success') AS last_success_at,
               count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
               max(last_attempt_at) FILTER (WHERE status = 'failed'
                                            OR (status = 'pending' AND attempts > 0))
                   AS last_failure_at
        FROM webhook_logs WHERE endpoint_id = ANY(%s::text[])
        GROUP BY endpoint_id
        """,
        (endpoint_ids,),
    )
    found = {row["endpoint_id"]: row for row in rows}
    empty = {"succeeded_24h": 0, "failed_24h": 0, "last_success_at": None, "retrying": 0,
             "last_failure_at": None}  # fmt: skip
    return {endpoint_id: found.get(endpoint_id, empty) for endpoint_id in endpoint_ids}


async def recover_batch(
    conn: AsyncDictConnection,
    endpoint: Row,
    merchant_id: str,
    after: tuple[datetime, int],
    before: datetime,
    batch: int,
    first_due_in_ms: int,
    spacing_ms: int,
) -> Row:
    """One batch of a recovery: of the merchant's next `batch` events after `after`
    ((created_at, seq), exclusive) and created before `before`, each that the endpoint's
    filter takes, that is not the endpoint's own `webhook_endpoint.disabled` (sent to the
    merchant's other endpoints only) and that has no delivery to it that succeeded or is
    still pending gets a new pending log (a new id; the event id as webhook-id), due `first_due_in_ms` from now
    and `spacing_ms` apart. Returns `seen` (events read), `queued` (logs made) and
    `last_created_at`/`last_seq` (where the next batch starts)."""
    return await one_async(
        conn,
        """
        WITH batch AS (
            SELECT id, seq, type, body, object_id, correlation_id, created_at FROM events
            WHERE merchant_id = %(merchant_id)s AND created_at < %(before)s
              AND (created_at, seq) > (%(after_created_at)s, %(after_seq)s)
            ORDER BY created_at, seq LIMIT %(batch)s
        ), missed AS (
            SELECT b.*, row_number() OVER (ORDER BY b.created_at, b.seq) AS place FROM batch b
            WHERE (b.type = ANY(%(events)s::text[]) OR '*' = ANY(%(events)s::text[]))
              AND (%(is_default)s OR b.type <> 'webhook.test')
              -- An endpoint's own disabling is news for the merchant's other endpoints only.
              AND CASE WHEN b.type = 'webhook_endpoint.disabled'
                       THEN (b.body::jsonb #>> '{data,endpoint,id}')
                            IS DISTINCT FROM %(endpoint_id)s
                       ELSE true END
              AND NOT EXISTS (
                  SELECT 1 FROM webhook_logs l
                  WHERE l.event_id = b.id AND l.endpoint_id = %(endpoint_id)s
                    AND l.status IN ('success', 'pending'))
        ), queued AS (
            INSERT INTO webhook_logs (id, event_id, endpoint_id, merchant_id, event, payload,
                                      object_id, next_retry_at, correlation_id)
            SELECT gen_random_uuid(), m.id, %(endpoint_id)s, %(merchant_id)s, m.type, m.body,
                   m.object_id,
                   now() + make_interval(secs => (%(first_due_in_ms)s + (m.place - 1)
                                                  * %(spacing_ms)s) / 1000.0),
                   m.correlation_id
            FROM missed m
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM batch) AS seen, (SELECT count(*) FROM queued) AS queued,
               last.created_at AS last_created_at, last.seq AS last_seq
        FROM (SELECT 1) one
        LEFT JOIN (SELECT created_at, seq FROM batch ORDER BY created_at DESC, seq DESC LIMIT 1)
             last ON true
        """,
        {
            "merchant_id": merchant_id,
            "endpoint_id": endpoint["id"],
            "events": list(endpoint["events"]),
            "is_default": endpoint["is_default"],
            "before": before,
            "after_created_at": after[0],
            "after_seq": after[1],
            "batch": batch,
            "first_due_in_ms": first_due_in_ms,
            "spacing_ms": spacing_ms,
        },
    )
