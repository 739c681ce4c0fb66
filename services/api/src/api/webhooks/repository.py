from typing import Any

from psycopg import Connection

from api.pagination import Total, count_matching

Row = dict[str, Any]

LOG_COLUMNS = (
    "id, event, status, attempts, created_at, last_attempt_at, next_retry_at, response_code"
)


def list_logs(conn: Connection, merchant_id: str, limit: int, offset: int) -> list[Row]:
    return conn.execute(
        f"""
        SELECT {LOG_COLUMNS} FROM webhook_logs WHERE merchant_id = %s
        ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s
        """,
        (merchant_id, limit, offset),
    ).fetchall()


def count_logs(conn: Connection, merchant_id: str) -> Total:
    return count_matching(
        conn,
        "SELECT 1 FROM webhook_logs WHERE merchant_id = %(merchant_id)s",
        {"merchant_id": merchant_id},
    )


def get_log(conn: Connection, log_id: str, merchant_id: str) -> Row | None:
    return conn.execute(
        f"SELECT {LOG_COLUMNS}, payload FROM webhook_logs WHERE id = %s AND merchant_id = %s",
        (log_id, merchant_id),
    ).fetchone()


def list_attempts(conn: Connection, log_id: str) -> list[Row]:
    return conn.execute(
        """
        SELECT attempt_number, attempted_at, duration_ms, response_code, response_body, error
        FROM webhook_attempts WHERE webhook_log_id = %s ORDER BY id
        """,
        (log_id,),
    ).fetchall()


def schedule_again(conn: Connection, log_id: str, merchant_id: str) -> Row | None:
    """Deliver again at once with a fresh set of attempts."""
    return conn.execute(
        """
        UPDATE webhook_logs
        SET status = 'pending', attempts = 0, next_retry_at = now(), updated_at = now()
        WHERE id = %s AND merchant_id = %s
        RETURNING id, status
        """,
        (log_id, merchant_id),
    ).fetchone()


def set_webhook_url(conn: Connection, merchant_id: str, url: str | None) -> Row:
    return conn.execute(
        """
        UPDATE merchants SET webhook_url = %s, updated_at = now() WHERE id = %s
        RETURNING webhook_url, webhook_secret, previous_webhook_secret_expires_at
        """,
        (url, merchant_id),
    ).fetchone()


def rotate_secret(conn: Connection, merchant_id: str, new_secret: str, overlap: str) -> Row:
    return conn.execute(
        """
        UPDATE merchants
        SET previous_webhook_secret = webhook_secret,
            previous_webhook_secret_expires_at = now() + %s::interval,
            webhook_secret = %s, updated_at = now()
        WHERE id = %s
        RETURNING webhook_url, webhook_secret, previous_webhook_secret_expires_at
        """,
        (overlap, new_secret, merchant_id),
    ).fetchone()
