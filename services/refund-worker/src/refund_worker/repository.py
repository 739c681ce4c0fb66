from typing import Any

from psycopg import Connection

from shared.resources import REFUND_COLUMNS

Row = dict[str, Any]


def lock_due_refunds(conn: Connection, limit: int) -> list[Row]:
    return conn.execute(
        f"""
        SELECT {REFUND_COLUMNS} FROM refunds
        WHERE status = 'pending' AND process_after <= clock_timestamp()
        ORDER BY process_after LIMIT %s
        FOR UPDATE SKIP LOCKED
        """,
        (limit,),
    ).fetchall()


def seconds_until_next_due(conn: Connection) -> float | None:
    row = conn.execute(
        "SELECT extract(epoch FROM min(process_after) - clock_timestamp())::float AS wait"
        " FROM refunds WHERE status = 'pending'"
    ).fetchone()
    return row["wait"]


def mark_processed(conn: Connection, refund_id: str) -> Row:
    return conn.execute(
        f"""
        UPDATE refunds SET status = 'processed', processed_at = now(), updated_at = now()
        WHERE id = %s AND status = 'pending'
        RETURNING {REFUND_COLUMNS}
        """,
        (refund_id,),
    ).fetchone()


def add_refunded_amount(conn: Connection, payment_id: str, amount: int) -> None:
    conn.execute(
        "UPDATE payments SET amount_refunded = amount_refunded + %s, updated_at = now()"
        " WHERE id = %s",
        (amount, payment_id),
    )
