from typing import Any

from api.pagination import Listing
from shared.backends.db import AsyncDictConnection, Row, fetchone_async, one_async
from shared.domain.models import Refund, amount_refundable

REFUND_COLUMNS = Refund.columns()


async def refundable_amount(conn: AsyncDictConnection, payment_id: str) -> int:
    """The payment's `amount_refundable` (shared.domain.models.amount_refundable), in paise."""
    row = await one_async(
        conn, f"SELECT {amount_refundable()} FROM payments WHERE id = %s", (payment_id,)
    )
    return row["amount_refundable"]


async def insert_refund(conn: AsyncDictConnection, **fields: Any) -> Row:
    return await one_async(
        conn,
        f"""
        INSERT INTO refunds (id, payment_id, merchant_id, amount, reason, correlation_id,
                             process_after)
        VALUES (%(id)s, %(payment_id)s, %(merchant_id)s, %(amount)s, %(reason)s,
                %(correlation_id)s, now() + make_interval(secs => %(delay_ms)s / 1000.0))
        RETURNING {REFUND_COLUMNS}
        """,
        fields,
    )


async def get_refund(conn: AsyncDictConnection, refund_id: str, merchant_id: str) -> Row | None:
    return await fetchone_async(
        conn,
        f"SELECT {REFUND_COLUMNS} FROM refunds WHERE id = %s AND merchant_id = %s",
        (refund_id, merchant_id),
    )


REFUNDS = Listing(
    columns=REFUND_COLUMNS,
    table="refunds",
    where="payment_id = %(payment_id)s",
)
