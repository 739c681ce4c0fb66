from typing import Any

from api.pagination import Total, count_matching
from shared.db import DictConnection, Row, one
from shared.serializers import REFUND_COLUMNS, amount_refundable


def refundable_amount(conn: DictConnection, payment_id: str) -> int:
    """The payment's `amount_refundable` (shared.serializers.amount_refundable), in paise."""
    return one(
        conn.execute(f"SELECT {amount_refundable()} FROM payments WHERE id = %s", (payment_id,))
    )["amount_refundable"]


def insert_refund(conn: DictConnection, **fields: Any) -> Row:
    return one(
        conn.execute(
            f"""
        INSERT INTO refunds (id, payment_id, merchant_id, amount, reason, correlation_id,
                             process_after)
        VALUES (%(id)s, %(payment_id)s, %(merchant_id)s, %(amount)s, %(reason)s,
                %(correlation_id)s, now() + make_interval(secs => %(delay_ms)s / 1000.0))
        RETURNING {REFUND_COLUMNS}
        """,
            fields,
        )
    )


def get_refund(conn: DictConnection, refund_id: str, merchant_id: str) -> Row | None:
    return conn.execute(
        f"SELECT {REFUND_COLUMNS} FROM refunds WHERE id = %s AND merchant_id = %s",
        (refund_id, merchant_id),
    ).fetchone()


def list_refunds(conn: DictConnection, payment_id: str, limit: int, offset: int) -> list[Row]:
    return conn.execute(
        f"""
        SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = %s
        ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s
        """,
        (payment_id, limit, offset),
    ).fetchall()


def count_refunds(conn: DictConnection, payment_id: str) -> Total:
    return count_matching(
        conn, "SELECT 1 FROM refunds WHERE payment_id = %(payment_id)s", {"payment_id": payment_id}
    )
