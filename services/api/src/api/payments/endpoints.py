from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from api.dependencies import MerchantDep, PaginationDep, RuntimeDep
from api.errors import error_responses
from api.idempotency.dependency import RequestTransactionDep
from api.orders.errors import OrderAlreadyPaid, OrderNotFound
from api.payments import service
from api.payments.errors import (
    CaptureAmountMismatch,
    ExpiredCard,
    InvalidCard,
    PaymentNotCapturable,
    PaymentNotFound,
)
from api.payments.schemas import (
    CaptureRequest,
    PaymentCreate,
    PaymentIdInPath,
    PaymentPage,
    PaymentStats,
)
from api.ratelimit import limiter as limits
from api.ratelimit.dependencies import RateLimiterDep, address_of
from api.routing import api_router
from shared.domain.models import Payment, PublicPayment, Resource

router = api_router(tags=["payments"])

PaymentStatus = Literal["pending", "success", "failed"]


async def limit_public_payments(
    request: Request, body: PaymentCreate, limiter: RateLimiterDep
) -> AsyncIterator[None]:
    """Card testing: payment attempts per client address and per order, and card attempts the
    API refuses (INVALID_CARD, EXPIRED_CARD) per order."""
    await limiter.hit(limits.PUBLIC_PAYMENTS_PER_ADDRESS, address_of(request, limiter))
    await limiter.hit(limits.PUBLIC_PAYMENTS_PER_ORDER, body.order_id)
    if body.method == "card":
        await limiter.check(limits.CARD_FAILURES_PER_ORDER, body.order_id)
    try:
        yield
    except (InvalidCard, ExpiredCard):
        await limiter.record(limits.CARD_FAILURES_PER_ORDER, body.order_id)
        raise


PublicPaymentLimit = Depends(limit_public_payments, scope="function")


@router.post(
    "/api/v1/payments",
    status_code=201,
    response_model=Payment,
    responses=error_responses(OrderAlreadyPaid, OrderNotFound),
    summary="Create a UPI or card payment for an order; processed asynchronously",
)
async def create_payment(
    body: PaymentCreate, merchant: MerchantDep, runtime: RuntimeDep, tx: RequestTransactionDep
) -> Payment:
    return await service.create_payment(runtime, tx, merchant.id, body)


@router.get(
    "/api/v1/payments",
    response_model=PaymentPage,
    summary="List payments, newest first",
)
async def list_payments(
    merchant: MerchantDep,
    runtime: RuntimeDep,
    pagination: PaginationDep,
    status: Annotated[PaymentStatus | None, Query(description="Only this status")] = None,
) -> dict[str, Any]:
    return await service.list_payments(runtime.db, merchant.id, status, pagination)


@router.get(
    "/api/v1/payments/stats",
    response_model=PaymentStats,
    summary="Totals for the dashboard: transactions, successful amount, success rate",
)
async def payment_stats(merchant: MerchantDep, runtime: RuntimeDep) -> dict[str, Any]:
    return await service.payment_stats(runtime.db, merchant.id)


@router.post(
    "/api/v1/payments/public",
    status_code=201,
    response_model=Payment,
    responses=error_responses(OrderAlreadyPaid, OrderNotFound, 429),
    summary="Create a payment from the checkout page (no credentials)",
    dependencies=[PublicPaymentLimit],
)
async def create_public_payment(body: PaymentCreate, runtime: RuntimeDep) -> Payment:
    async with runtime.db.autocommit() as tx:
        return await service.create_payment(runtime, tx, None, body)


@router.get(
    "/api/v1/payments/{payment_id}",
    response_model=Payment,
    responses=error_responses(PaymentNotFound),
    summary="Get a payment",
)
async def get_payment(
    merchant: MerchantDep, payment_id: PaymentIdInPath, runtime: RuntimeDep
) -> Payment:
    return await service.get_payment(runtime.db, merchant.id, payment_id)


@router.post(
    "/api/v1/payments/{payment_id}/capture",
    response_model=Payment,
    responses=error_responses(PaymentNotCapturable, CaptureAmountMismatch, PaymentNotFound),
    summary="Capture a successful payment",
)
async def capture_payment(
    merchant: MerchantDep,
    payment_id: PaymentIdInPath,
    tx: RequestTransactionDep,
    body: CaptureRequest | None = None,
) -> Payment:
    return await service.capture_payment(tx, merchant.id, payment_id, body or CaptureRequest())


@router.get(
    "/api/v1/payments/{payment_id}/public",
    response_model=PublicPayment,
    responses=error_responses(PaymentNotFound),
    summary="A payment's status, for the checkout page",
)
async def get_public_payment(payment_id: PaymentIdInPath, runtime: RuntimeDep) -> Resource:
    return await service.get_public_payment(runtime.db, payment_id)
