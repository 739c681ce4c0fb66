from typing import Any

from shared.backends.db import DictConnection, Row
from shared.domain.models import WebhookEndpoint

# How long a claimed delivery is ours: an attempt takes at most 5 s, so a dispatcher that
# died mid-attempt leaves its deliveries to others after this.
LEASE = "60 seconds"


def claim_due(
    conn: DictConnection,
    limit: int,
    per_lane: int,
    lane_rooms: dict[str, int],
    per_merchant: int,
    merchant_rooms: dict[str, int],
) -> list[Row]:
    """Due deliveries leased to us by moving next_retry_at on: at most `limit` in all, at
    most `lane_rooms[x]` of lane x (its attempts in flight leave it that much room) and
    `per_lane` of any other, and likewise at most `merchant_rooms[m]` of merchant m's and
    `per_merchant` of any other merchant's. A delivery's lane is its endpoint (its merchant's
    id for a log without one), so one endpoint's backlog never holds up another's, and a
    merchant's many endpoints never hold up other merchants. A log without an endpoint goes
    to the merchant's default endpoint. Each row carries the endpoint's URL, its current
    secret and `replaced_secrets`, the replaced ones still signing, newest first (the default
    endpoint's are the merchant's).

    A due delivery whose endpoint is disabled or gone, or no longer takes its event type (its
    `events` narrowed since it was logged), is not leased but ended, `failed` with the reason
    "endpoint disabled", "endpoint deleted" or "endpoint no longer takes <type>" (its
    `failure_reason` in the row), and returned with that status, to be left alone: such an
    endpoint gets nothing (docs/webhooks.md#delivery-logs; `recover` sends what a disabled
    one missed later), and an attempt could only fail or send what was not wanted. Disabling
    or deleting ends the endpoint's pending deliveries, but not one logged by an event whose
    transaction read the endpoint as enabled and committed after it; narrowing ends none, so
    widening the filter again before they fall due sends them after all."""
    full = [lane for lane, room in lane_rooms.items() if room <= 0]
    full_merchants = [merchant for merchant, room in merchant_rooms.items() if room <= 0]
    return conn.execute(
        f"""
        WITH due AS (
            -- The earliest due rows no other dispatcher holds, off the partial index.
            SELECT id, merchant_id, endpoint_id, event, next_retry_at,
                   coalesce(endpoint_id, merchant_id::text) AS lane
            FROM webhook_logs
            WHERE status = 'pending' AND next_retry_at <= clock_timestamp()
              AND coalesce(endpoint_id, merchant_id::text) <> ALL(%(full)b::text[])
              AND merchant_id <> ALL(%(full_merchants)b::uuid[])
            ORDER BY next_retry_at LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        ), ranked AS (
            SELECT id, merchant_id, endpoint_id, event, lane,
                   row_number() OVER (PARTITION BY lane ORDER BY next_retry_at) AS place,
                   row_number() OVER (PARTITION BY merchant_id ORDER BY next_retry_at)
                       AS merchant_place
            FROM due
        ), rooms AS (
            SELECT * FROM unnest(%(busy)b::text[], %(rooms)b::int[]) AS r(lane, room)
        ), merchant_rooms AS (
            SELECT * FROM unnest(%(busy_merchants)b::uuid[], %(merchant_room_sizes)b::int[])
                AS r(merchant_id, room)
        )
        UPDATE webhook_logs w
        SET next_retry_at = CASE WHEN ended.reason IS NULL
                                 THEN clock_timestamp() + interval '{LEASE}' END,
            status = CASE WHEN ended.reason IS NULL THEN w.status ELSE 'failed' END,
            failure_reason = coalesce(ended.reason, w.failure_reason),
            updated_at = CASE WHEN ended.reason IS NULL THEN w.updated_at ELSE now() END
        FROM ranked
        LEFT JOIN rooms USING (lane)
        LEFT JOIN merchant_rooms USING (merchant_id)
        JOIN merchants m ON m.id = ranked.merchant_id
        LEFT JOIN webhook_endpoints e
               ON e.id = ranked.endpoint_id
               OR (ranked.endpoint_id IS NULL AND e.merchant_id = m.id AND e.is_default)
        -- Why the delivery ends here unsent; NULL: it is leased and attempted. The filter
        -- test is the one shared.domain.events logs a delivery by.
        CROSS JOIN LATERAL (
            SELECT CASE WHEN e.id IS NULL THEN 'endpoint deleted'
                        WHEN e.status = 'disabled' THEN 'endpoint disabled'
                        WHEN NOT (ranked.event = ANY(e.events) OR '*' = ANY(e.events))
                        THEN 'endpoint no longer takes ' || ranked.event
                   END AS reason
        ) ended
        WHERE w.id = ranked.id AND ranked.place <= coalesce(rooms.room, %(per_lane)s)
          AND ranked.merchant_place <= coalesce(merchant_rooms.room, %(per_merchant)s)
        RETURNING w.id, w.merchant_id, w.endpoint_id, ranked.lane, w.event_id, w.event,
                  w.payload, w.attempts, w.correlation_id, w.status, w.next_retry_at,
                  w.failure_reason,
                  coalesce(e.url, '') AS webhook_url,
                  coalesce(e.secret, m.webhook_secret) AS webhook_secret,
                  ARRAY(SELECT s.secret FROM webhook_secrets s
                        WHERE s.merchant_id = m.id AND s.expires_at > now()
                          AND s.endpoint_id IS NOT DISTINCT FROM
                              (CASE WHEN e.is_default THEN NULL ELSE e.id END)
                        ORDER BY s.replaced_at DESC, s.id DESC) AS replaced_secrets
        """,
        {
            "limit": limit,
            "per_lane": per_lane,
            "full": full,
            "busy": list(lane_rooms),
            "rooms": list(lane_rooms.values()),
            "per_merchant": per_merchant,
            "full_merchants": full_merchants,
            "busy_merchants": list(merchant_rooms),
            "merchant_room_sizes": list(merchant_rooms.values()),
        },
    ).fetchall()


def release_leases(conn: DictConnection, log_ids: list[str]) -> None:
    """Make claimed deliveries due now again (a stopping dispatcher that did not attempt them).

    A delivery another transaction holds is left to it (its lease runs out as usual): that
    one is recording an attempt of it or ending it, and waiting for it here while holding
    others could close a lock cycle with a dispatcher disabling their endpoint (see
    `record_attempts` for the lock order)."""
    conn.execute(
        """
        UPDATE webhook_logs SET next_retry_at = clock_timestamp()
        WHERE id IN (SELECT id FROM webhook_logs
                     WHERE id = ANY(%b::uuid[]) AND status = 'pending'
                     FOR UPDATE SKIP LOCKED)
        """,
        (log_ids,),
    )


# The keys of a `tasks.attempt_row` that record_attempts stores, in `given`'s column order.
ATTEMPT_COLUMNS = ("log_id", "endpoint_id", "attempt", "attempted_at", "duration_ms",
                   "response_code", "response_body", "error", "status", "next_retry_at",
                   "lease")  # fmt: skip


def record_attempts(conn: DictConnection, attempts: list[dict[str, Any]]) -> list[int]:
    """Log each finished attempt, move its delivery on and keep its endpoint's
    `failing_since`; returns each attempt's number.

    `attempts` are `tasks.attempt_row` dicts (log_id, endpoint_id, attempt, attempted_at,
    duration_ms, response_code, response_body, error, status, next_retry_at, lease). An
    attempt's number counts every attempt of its delivery, manual retries included (`attempt`
    is its place in the five scheduled ones). The delivery rows are locked in id order, so two
    dispatchers recording attempts of one delivery (a lease that ran out) number them one
    after the other; UNIQUE (webhook_log_id, attempt_number) holds it.

    Every attempt is logged, but only one made under the delivery's current lease (its
    next_retry_at still the `lease` its claim set) moves the delivery on: a manual retry made
    while the attempt was in flight (due now, attempts 0) stands instead of being overwritten
    by that attempt's outcome (a fifth failure would end it `failed`, the retry lost), and so
    does a claim by another dispatcher after the lease ran out.

    An endpoint's `failing_since` is cleared by a successful attempt and set by the first
    failed one after a success (docs/webhooks.md#endpoint-health); only rows whose value
    changes are written.

    Lock order: the batch's endpoint rows first, in id order, then its delivery rows. Every
    transaction that writes an endpoint and its pending deliveries takes them in that order:
    the API's update and delete of an endpoint, set_default_webhook_url, and this
    transaction's own tracking and disabling (`tasks.disable_unhealthy_endpoints`), which
    ends every pending delivery of the endpoint it disables, other dispatchers' included.
    Taking a delivery before its endpoint would let two dispatchers disabling one endpoint,
    or a dispatcher and the API, each wait for the other (a deadlock, and the batch's
    recording lost until its leases run out).
    """
    # Both locks in one statement (one round trip, one plan): the endpoints' subquery has no
    # reference to the delivery rows, so PostgreSQL runs it once, as the one-time filter of the
    # scan of webhook_logs, before that scan returns a row; the delivery rows are locked above
    # the sort, in id order, after it.
    conn.execute(
        """
        SELECT 1 FROM webhook_logs
        WHERE id = ANY(%(log_ids)b::uuid[])
          AND (SELECT count(*) FROM (
                   SELECT 1 FROM webhook_endpoints WHERE id = ANY(%(endpoint_ids)b::text[])
                   ORDER BY id FOR NO KEY UPDATE) AS locked) >= 0
        ORDER BY id FOR UPDATE
        """,
        {
            "log_ids": sorted({a["log_id"] for a in attempts}),
            "endpoint_ids": sorted({a["endpoint_id"] for a in attempts if a["endpoint_id"]}),
        },
    )
    # One statement for the whole batch, in a snapshot taken after the locks (a statement per
    # attempt cost the dispatcher more CPU than its HTTP requests): number the attempts after
    # those already stored, insert them, move each delivery on as its last attempt in the batch
    # says, and keep each endpoint's failing streak.
    rows = conn.execute(
        """
        WITH given AS (
            SELECT * FROM unnest(
                %(log_id)b::uuid[], %(endpoint_id)b::text[], %(attempt)b::int[],
                %(attempted_at)b::timestamptz[], %(duration_ms)b::int[],
                %(response_code)b::int[], %(response_body)b::text[], %(error)b::text[],
                %(status)b::text[], %(next_retry_at)b::timestamptz[],
                %(lease)b::timestamptz[]
            ) WITH ORDINALITY AS g(log_id, endpoint_id, attempt, attempted_at, duration_ms,
                                   response_code, response_body, error, status, next_retry_at,
                                   lease, position)
        ), numbered AS (
            SELECT g.*,
                   coalesce((SELECT max(a.attempt_number) FROM webhook_attempts a
                             WHERE a.webhook_log_id = g.log_id), 0)
                   + row_number() OVER (PARTITION BY g.log_id ORDER BY g.position)
                   AS attempt_number
            FROM given g
        ), inserted AS (
            INSERT INTO webhook_attempts (webhook_log_id, attempt_number, scheduled_attempt,
                                          attempted_at, duration_ms, response_code,
                                          response_body, error)
            SELECT log_id, attempt_number, attempt, attempted_at, duration_ms, response_code,
                   response_body, error
            FROM numbered
        ), updated AS (
            UPDATE webhook_logs l
            SET attempts = last.attempt, last_attempt_at = last.attempted_at,
                response_code = last.response_code, status = last.status,
                next_retry_at = last.next_retry_at, updated_at = now()
            FROM (SELECT DISTINCT ON (log_id) * FROM given ORDER BY log_id, position DESC) last
            WHERE l.id = last.log_id AND l.status = 'pending' AND l.next_retry_at = last.lease
        ), health AS (
            SELECT endpoint_id, bool_or(status = 'success') AS ok,
                   min(attempted_at) AS first_attempt
            FROM given WHERE endpoint_id IS NOT NULL
            GROUP BY endpoint_id
        ), tracked AS (
            UPDATE webhook_endpoints e
            SET failing_since = CASE WHEN health.ok THEN NULL ELSE health.first_attempt END
            FROM health
            WHERE e.id = health.endpoint_id
              AND ((health.ok AND e.failing_since IS NOT NULL)
                   OR (NOT health.ok AND e.failing_since IS NULL))
        )
        SELECT attempt_number FROM numbered ORDER BY position
        """,
        # One array per column of `given`, each named as the attempt's key.
        {key: [a[key] for a in attempts] for key in ATTEMPT_COLUMNS},
    ).fetchall()
    return [row["attempt_number"] for row in rows]


def failing_for(conn: DictConnection, endpoint_ids: list[str], disable_after_s: float) -> list[str]:
    """Of `endpoint_ids`, the enabled ones that have failed for `disable_after_s` seconds:
    no success since `failing_since`, at least that long ago, and at least 5 deliveries to
    it ended `failed` by their attempts within that time. Deliveries ended unsent (with a
    `failure_reason`: the endpoint disabled or deleted, its `events` narrowed) say nothing of
    its health and do not count."""
    rows = conn.execute(
        """
        SELECT e.id FROM webhook_endpoints e
        WHERE e.id = ANY(%(ids)b::text[]) AND e.status = 'enabled'
          AND e.failing_since <= now() - make_interval(secs => %(after)s)
          AND (SELECT count(*) FROM (
                   SELECT 1 FROM webhook_logs l
                   WHERE l.endpoint_id = e.id AND l.status = 'failed'
                     AND l.failure_reason IS NULL
                     AND l.updated_at > now() - make_interval(secs => %(after)s)
                   LIMIT 5) AS failed) = 5
        ORDER BY e.id
        """,
        {"ids": endpoint_ids, "after": disable_after_s},
    ).fetchall()
    return [row["id"] for row in rows]


def disable_endpoint(conn: DictConnection, endpoint_id: str, reason: str) -> Row | None:
    """Disable an enabled endpoint with `reason` and end its pending deliveries; the endpoint's
    row (`WebhookEndpoint.columns()`), or None if it was not enabled (disabled already,
    deleted)."""
    row = conn.execute(
        f"""
        UPDATE webhook_endpoints
        SET status = 'disabled', disabled_reason = %s, updated_at = now()
        WHERE id = %s AND status = 'enabled'
        RETURNING {WebhookEndpoint.columns()}
        """,
        (reason, endpoint_id),
    ).fetchone()
    if row is not None:
        conn.execute("SELECT end_pending_deliveries(%s, %s)", (endpoint_id, "endpoint disabled"))
    return row
