from typing import Any

from psycopg import Connection

from shared.resources import PAYMENT_COLUMNS

Row = dict[str, Any]


def lock_due_payments(conn: Connection, limit: int) -> list[Row]:
    """Pending payments the bank has answered for, locked; rows another worker holds are skipped."""
    return conn.execute(
        """
        SELECT id, method FROM payments
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


def finalize_payments(
    conn: Connection, outcomes: list[tuple[str, str, str | None, str | None]]
) -> list[Row]:
    """Apply (id, status, error code, error description) to payments still pending, in one go."""
    ids, statuses, codes, descriptions = (list(column) for column in zip(*outcomes, strict=True))
    return conn.execute(
        f"""
        UPDATE payments p
        SET status = o.status, error_code = o.code, error_description = o.description,
            updated_at = now()
        FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS o(id, status, code, description)
        WHERE p.id = o.id AND p.status = 'pending'
        RETURNING {", ".join(f"p.{c.strip()}" for c in PAYMENT_COLUMNS.split(","))}
        """,
        (ids, statuses, codes, descriptions),
    ).fetchall()


def mark_orders_paid(conn: Connection, order_ids: list[str]) -> None:
    conn.execute(
        "UPDATE orders SET status = 'paid', updated_at = now()"
        " WHERE id = ANY(%s) AND status <> 'paid'",
        (order_ids,),
    )
