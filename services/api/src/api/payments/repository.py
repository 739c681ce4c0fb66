from typing import Any

from api.pagination import Listing
from shared.backends.db import AsyncDictConnection, Row, fetchone_async, one_async
from shared.domain.models import Payment

COLUMNS = Payment.columns()


async def insert_payment_for_order(
    conn: AsyncDictConnection, order_id: str, merchant_id: str | None, **fields: Any
) -> Row | None:
    """Lock the order, mark it attempted and insert its payment in one statement; None when
    the order is unknown (or another merchant's) or already paid."""
    return await fetchone_async(
        conn,
        f"""
        WITH payable AS (
            UPDATE orders SET status = 'attempted', updated_at = now()
            WHERE id = %(order_id)s AND status <> 'paid'
              AND (%(merchant_id)s::uuid IS NULL OR merchant_id = %(merchant_id)s)
            RETURNING id, merchant_id, amount, currency
        )
        INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, vpa,
                              card_network, card_last4, test_outcome, correlation_id,
                              process_after)
        SELECT %(id)s, id, merchant_id, amount, currency, %(method)s, %(vpa)s,
               %(card_network)s, %(card_last4)s, %(test_outcome)s, %(correlation_id)s,
               now() + make_interval(secs => %(delay_ms)s / 1000.0)
        FROM payable
        RETURNING {COLUMNS}
        """,
        fields | {"order_id": order_id, "merchant_id": merchant_id},
    )


async def get_payment(
    conn: AsyncDictConnection, payment_id: str, merchant_id: str | None
) -> Row | None:
    """A payment by id; scoped to a merchant unless merchant_id is None (public reads)."""
    return await fetchone_async(
        conn,
        f"""
        SELECT {COLUMNS} FROM payments
        WHERE id = %(id)s AND (%(merchant_id)s::uuid IS NULL OR merchant_id = %(merchant_id)s)
        """,
        {"id": payment_id, "merchant_id": merchant_id},
    )


PAYMENTS = Listing(
    columns=COLUMNS,
    table="payments",
    where="merchant_id = %(merchant_id)s AND (%(status)s::text IS NULL OR status = %(status)s)",
)


async def lock_payment(conn: AsyncDictConnection, payment_id: str, merchant_id: str) -> Row | None:
    return await fetchone_async(
        conn,
        f"SELECT {Payment.columns(computed=False)} FROM payments"
        " WHERE id = %s AND merchant_id = %s FOR UPDATE",
        (payment_id, merchant_id),
    )


async def mark_captured(conn: AsyncDictConnection, payment_id: str) -> Row:
    return await one_async(
        conn,
        f"""
        UPDATE payments SET captured = true, updated_at = now() WHERE id = %s
        RETURNING {COLUMNS}
        """,
        (payment_id,),
    )


async def payment_stats(conn: AsyncDictConnection, merchant_id: str) -> Row:
    return await one_async(
        conn,
        """
        SELECT count(*) AS total,
               count(*) FILTER (WHERE status = 'success') AS successful,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               coalesce(sum(amount) FILTER (WHERE status = 'success'), 0)::bigint AS successful_amount,
               coalesce(sum(amount_refunded), 0)::bigint AS refunded_amount
        FROM payments WHERE merchant_id = %s
        """,
        (merchant_id,),
    )
