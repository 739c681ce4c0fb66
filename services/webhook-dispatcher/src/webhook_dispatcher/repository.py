from typing import Any

from psycopg import Connection

Row = dict[str, Any]

# How long a claimed delivery is ours: an attempt takes at most 5 s, so a dispatcher that
# died mid-attempt leaves its deliveries to others after this.
LEASE = "60 seconds"


def claim_due(
    conn: Connection, limit: int, per_merchant: int, skip_merchants: list[str]
) -> list[Row]:
    """Due deliveries, at most `per_merchant` each, leased to us by moving next_retry_at on."""
    return conn.execute(
        f"""
        WITH due AS (
            -- The earliest due rows no other dispatcher holds, off the partial index.
            SELECT id, merchant_id, next_retry_at FROM webhook_logs
            WHERE status = 'pending' AND next_retry_at <= clock_timestamp()
              AND merchant_id <> ALL(%(skip)s::uuid[])
            ORDER BY next_retry_at LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
        ), ranked AS (
            SELECT id, row_number() OVER (PARTITION BY merchant_id ORDER BY next_retry_at) AS place
            FROM due
        )
        UPDATE webhook_logs w
        SET next_retry_at = clock_timestamp() + interval '{LEASE}'
        FROM ranked, merchants m
        WHERE w.id = ranked.id AND ranked.place <= %(per_merchant)s AND m.id = w.merchant_id
        RETURNING w.id, w.merchant_id, w.payload, w.attempts, w.correlation_id,
                  coalesce(m.webhook_url, '') AS webhook_url, m.webhook_secret,
                  CASE WHEN m.previous_webhook_secret_expires_at > now()
                       THEN m.previous_webhook_secret END AS previous_webhook_secret
        """,
        {"limit": limit, "per_merchant": per_merchant, "skip": skip_merchants},
    ).fetchall()


def release_leases(conn: Connection, log_ids: list[str]) -> None:
    """Make claimed deliveries due now again (a stopping dispatcher that did not attempt them)."""
    conn.execute(
        "UPDATE webhook_logs SET next_retry_at = clock_timestamp()"
        " WHERE id = ANY(%s::uuid[]) AND status = 'pending'",
        (log_ids,),
    )


def seconds_until_next_due(conn: Connection) -> float | None:
    row = conn.execute(
        "SELECT extract(epoch FROM min(next_retry_at) - clock_timestamp())::float AS wait"
        " FROM webhook_logs WHERE status = 'pending'"
    ).fetchone()
    return row["wait"]


def record_attempts(conn: Connection, attempts: list[dict[str, Any]]) -> None:
    with conn.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO webhook_attempts (webhook_log_id, attempt_number, attempted_at,
                                          duration_ms, response_code, response_body, error)
            VALUES (%(log_id)s, %(attempt)s, %(attempted_at)s, %(duration_ms)s,
                    %(response_code)s, %(response_body)s, %(error)s)
            """,
            attempts,
        )
        cursor.executemany(
            """
            UPDATE webhook_logs
            SET attempts = %(attempt)s, last_attempt_at = %(attempted_at)s,
                response_code = %(response_code)s, status = %(status)s,
                next_retry_at = %(next_retry_at)s, updated_at = now()
            WHERE id = %(log_id)s AND status = 'pending'
            """,
            attempts,
        )
