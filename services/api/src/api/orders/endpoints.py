from typing import Annotated, Any, Literal

from fastapi import Query

from api.dependencies import MerchantDep, PaginationDep, RuntimeDep
from api.errors import error_responses
from api.fields import NO_NUL_PATTERN
from api.idempotency.dependency import RequestTransactionDep
from api.orders import service
from api.orders.errors import OrderNotFound
from api.orders.schemas import OrderCreate, OrderIdInPath, OrderPage
from api.routing import api_router
from shared.domain.models import Order, PublicOrder, Resource

router = api_router(tags=["orders"])

OrderStatus = Literal["created", "paid"]


@router.post(
    "/api/v1/orders",
    status_code=201,
    response_model=Order,
    summary="Create an order",
)
async def create_order(
    body: OrderCreate, merchant: MerchantDep, tx: RequestTransactionDep
) -> Order:
    return await service.create_order(tx, merchant.id, body)


@router.get(
    "/api/v1/orders",
    response_model=OrderPage,
    summary="List orders, newest first",
)
async def list_orders(
    merchant: MerchantDep,
    runtime: RuntimeDep,
    pagination: PaginationDep,
    status: Annotated[OrderStatus | None, Query(description="Only this status")] = None,
) -> dict[str, Any]:
    return await service.list_orders(runtime.db, merchant.id, status, pagination)


@router.get(
    "/api/v1/orders/{order_id}",
    response_model=Order,
    responses=error_responses(OrderNotFound),
    summary="Get an order",
)
async def get_order(merchant: MerchantDep, order_id: OrderIdInPath, runtime: RuntimeDep) -> Order:
    return await service.get_order(runtime.db, merchant.id, order_id)


@router.get(
    "/api/v1/orders/{order_id}/public",
    response_model=PublicOrder,
    responses=error_responses(OrderNotFound),
    summary="An order's public summary, for the checkout page",
)
async def get_public_order(
    order_id: OrderIdInPath,
    runtime: RuntimeDep,
    key_id: Annotated[
        str | None,
        Query(
            max_length=255,
            pattern=NO_NUL_PATTERN,
            description="The checkout SDK's API key: 404 unless the order is its merchant's",
        ),
    ] = None,
) -> Resource:
    return await service.get_public_order(runtime.db, order_id, key_id)
