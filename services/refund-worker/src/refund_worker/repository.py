from shared.backends.db import DictConnection, Row
from shared.domain.models import Refund


def lock_due_refunds(conn: DictConnection, limit: int) -> list[Row]:
    return conn.execute(
        """
        SELECT id FROM refunds
        WHERE status = 'pending' AND process_after <= clock_timestamp()
        ORDER BY process_after LIMIT %s
        FOR UPDATE SKIP LOCKED
        """,
        (limit,),
    ).fetchall()


def mark_processed(conn: DictConnection, refund_ids: list[str]) -> list[Row]:
    return conn.execute(
        f"""
        UPDATE refunds SET status = 'processed', processed_at = now(), updated_at = now()
        WHERE id = ANY(%b) AND status = 'pending'
        RETURNING {Refund.columns()}
        """,
        (refund_ids,),
    ).fetchall()


def add_refunded_amounts(conn: DictConnection, refunds: list[Row]) -> None:
    conn.execute(
        """
        UPDATE payments p SET amount_refunded = p.amount_refunded + r.total, updated_at = now()
        FROM (SELECT payment_id, sum(amount) AS total
              FROM unnest(%b::text[], %b::bigint[]) AS r(payment_id, amount)
              GROUP BY payment_id) r
        WHERE p.id = r.payment_id
        """,
        ([r["payment_id"] for r in refunds], [r["amount"] for r in refunds]),
    )
