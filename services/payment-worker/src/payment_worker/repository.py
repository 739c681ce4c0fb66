from typing import Any

from psycopg import Connection

from shared.resources import PAYMENT_COLUMNS

Row = dict[str, Any]


def lock_due_payments(conn: Connection, limit: int) -> list[Row]:
    """Pending payments the bank has answered for, locked; rows another worker holds are skipped."""
    return conn.execute(
        f"""
        SELECT {PAYMENT_COLUMNS} FROM payments
        WHERE status = 'pending' AND process_after <= clock_timestamp()
        ORDER BY process_after LIMIT %s
        FOR UPDATE SKIP LOCKED
        """,
        (limit,),
    ).fetchall()


def seconds_until_next_due(conn: Connection) -> float | None:
    row = conn.execute(
        "SELECT extract(epoch FROM min(process_after) - clock_timestamp())::float AS wait"
        " FROM payments WHERE status = 'pending'"
    ).fetchone()
    return row["wait"]


def finalize_payment(
    conn: Connection, payment_id: str, status: str, error_code: str | None, error: str | None
) -> Row:
    return conn.execute(
        f"""
        UPDATE payments
        SET status = %s, error_code = %s, error_description = %s, updated_at = now()
        WHERE id = %s AND status = 'pending'
        RETURNING {PAYMENT_COLUMNS}
        """,
        (status, error_code, error, payment_id),
    ).fetchone()


def mark_order_paid(conn: Connection, order_id: str) -> None:
    conn.execute(
        "UPDATE orders SET status = 'paid', updated_at = now() WHERE id = %s AND status <> 'paid'",
        (order_id,),
    )
