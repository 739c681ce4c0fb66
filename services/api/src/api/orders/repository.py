from typing import Any

from psycopg.types.json import Jsonb

from api.pagination import Listing
from shared.backends.db import AsyncDictConnection, Row, fetchone_async, one_async
from shared.domain.models import Order

ORDER_COLUMNS = Order.columns()


async def insert_order(conn: AsyncDictConnection, **fields: Any) -> Row:
    return await one_async(
        conn,
        f"""
        INSERT INTO orders (id, merchant_id, amount, currency, receipt, notes)
        VALUES (%(id)s, %(merchant_id)s, %(amount)s, %(currency)s, %(receipt)s, %(notes)s)
        RETURNING {ORDER_COLUMNS}
        """,
        fields | {"notes": Jsonb(fields["notes"])},
    )


async def get_order(conn: AsyncDictConnection, order_id: str, merchant_id: str) -> Row | None:
    return await fetchone_async(
        conn,
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = %s AND merchant_id = %s",
        (order_id, merchant_id),
    )


async def get_public_order(
    conn: AsyncDictConnection, order_id: str, key_id: str | None = None
) -> Row | None:
    """The order's public summary; with `key_id`, only if the order's merchant has that key."""
    return await fetchone_async(
        conn,
        """
        SELECT o.id, o.amount, o.currency, o.status, m.name AS merchant_name
        FROM orders o JOIN merchants m ON m.id = o.merchant_id
        WHERE o.id = %(id)s AND (%(key_id)s::text IS NULL OR m.api_key = %(key_id)s::text)
        """,
        {"id": order_id, "key_id": key_id},
    )


async def get_order_status(
    conn: AsyncDictConnection, order_id: str, merchant_id: str | None
) -> str | None:
    row = await fetchone_async(
        conn,
        """
        SELECT status FROM orders
        WHERE id = %(id)s AND (%(merchant_id)s::uuid IS NULL OR merchant_id = %(merchant_id)s)
        """,
        {"id": order_id, "merchant_id": merchant_id},
    )
    return row["status"] if row else None


ORDERS = Listing(
    columns=ORDER_COLUMNS,
    table="orders",
    where="merchant_id = %(merchant_id)s AND (%(status)s::text IS NULL OR status = %(status)s)",
)
