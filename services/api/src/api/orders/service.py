"""Orders: what a merchant asks a shopper to pay."""

from typing import Any

from api.errors import found
from api.orders import repository
from api.orders.errors import OrderNotFound
from api.orders.schemas import OrderCreate
from api.pagination import Pagination
from shared.backends.db import AsyncDatabase, AsyncTransaction
from shared.core.ids import ORDER_PREFIX, new_id
from shared.domain.models import Order, PublicOrder, Resource


async def create_order(tx: AsyncTransaction, merchant_id: str, body: OrderCreate) -> Order:
    """One statement, atomic on its own: no transaction block of its own."""
    order = await repository.insert_order(
        tx.conn,
        id=new_id(ORDER_PREFIX),
        merchant_id=merchant_id,
        amount=body.amount,
        currency=body.currency,
        receipt=body.receipt,
        notes=body.notes,
    )
    return Order.from_row(order)


async def get_order(db: AsyncDatabase, merchant_id: str, order_id: str) -> Order:
    async with db.connection() as conn:
        order = await repository.get_order(conn, order_id, merchant_id)
    return Order.from_row(found(order, OrderNotFound))


async def get_public_order(db: AsyncDatabase, order_id: str, key_id: str | None = None) -> Resource:
    """The order's `PublicOrder` view. OrderNotFound also when `key_id` (the checkout SDK's key) is not the order's merchant's: a
    page opened with one merchant's key never shows another merchant's order."""
    async with db.connection() as conn:
        order = await repository.get_public_order(conn, order_id, key_id)
    return PublicOrder.from_row(found(order, OrderNotFound))


async def list_orders(
    db: AsyncDatabase, merchant_id: str, status: str | None, pagination: Pagination
) -> dict[str, Any]:
    """The merchant's orders, newest first; only those of `status` when given."""
    async with db.connection() as conn:
        filters = {"merchant_id": merchant_id, "status": status}
        rows, total = await repository.ORDERS.page(conn, filters, pagination)
    return pagination.page([Order.from_row(row) for row in rows], total)
