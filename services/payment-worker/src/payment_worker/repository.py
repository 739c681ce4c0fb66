from shared.backends.db import DictConnection, Row
from shared.domain.models import Payment


def lock_due_payments(conn: DictConnection, limit: int) -> list[Row]:
    """Pending payments the bank has answered for, oldest answer first, locked; rows another
    worker holds are skipped. Rows: id, method, order_id, test_outcome."""
    return conn.execute(
        """
        SELECT id, method, order_id, test_outcome FROM payments
        WHERE status = 'pending' AND process_after <= clock_timestamp()
        ORDER BY process_after LIMIT %s
        FOR UPDATE SKIP LOCKED
        """,
        (limit,),
    ).fetchall()


def lock_paid_orders(conn: DictConnection, order_ids: list[str]) -> set[str]:
    """Lock the given orders (waiting for any transaction that holds one) and return those
    already paid.

    Every writer of an order's payment state takes this row lock first: the payment worker
    here, the API when it creates a payment (its UPDATE of the order). So the status read is
    the latest committed one, and two workers finalising payments of one order take turns.
    The locks are taken in id order, the same order in every worker, so two batches sharing
    orders wait for each other and never deadlock. FOR NO KEY UPDATE: the key is not changed,
    so inserting payments that reference the order (a KEY SHARE lock) is not blocked by it.

    An order also counts as paid when a successful payment of it was committed before this
    statement began although the order does not say so (data fixed by hand): deciding success
    again would hit the unique index and fail the whole batch at every tick.
    """
    rows = conn.execute(
        """
        SELECT o.id, o.status = 'paid' OR EXISTS (
                   SELECT 1 FROM payments s WHERE s.order_id = o.id AND s.status = 'success'
               ) AS paid
        FROM orders o WHERE o.id = ANY(%b) ORDER BY o.id FOR NO KEY UPDATE OF o
        """,
        (order_ids,),
    ).fetchall()
    return {row["id"] for row in rows if row["paid"]}


def finalize_payments(
    conn: DictConnection, outcomes: list[tuple[str, str, str | None, str | None]]
) -> list[Row]:
    """Apply (id, status, error code, error description) to payments still pending, and mark
    the orders of the successful ones paid, in one statement. Returns the updated payments.

    The caller holds the orders' locks (lock_paid_orders) and gives at most one success per
    order; the unique index payments_one_success_per_order refuses a second one regardless.
    """
    ids, statuses, codes, descriptions = (list(column) for column in zip(*outcomes, strict=True))
    return conn.execute(
        f"""
        WITH finalized AS (
            UPDATE payments p
            SET status = o.status, error_code = o.code, error_description = o.description,
                updated_at = now()
            FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[])
                AS o(id, status, code, description)
            WHERE p.id = o.id AND p.status = 'pending'
            RETURNING {Payment.columns("p")}
        ), paid AS (
            UPDATE orders SET status = 'paid', updated_at = now()
            WHERE id IN (SELECT order_id FROM finalized WHERE status = 'success')
              AND status <> 'paid'
        )
        SELECT * FROM finalized
        """,
        (ids, statuses, codes, descriptions),
    ).fetchall()
