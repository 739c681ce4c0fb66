from typing import Any

from api.dependencies import MerchantDep, PaginationDep, RuntimeDep
from api.errors import error_responses
from api.idempotency.dependency import RequestTransactionDep
from api.payments.errors import PaymentNotFound
from api.payments.schemas import PaymentIdInPath
from api.refunds import service
from api.refunds.errors import PaymentNotRefundable, RefundExceedsAvailable, RefundNotFound
from api.refunds.schemas import RefundCreate, RefundIdInPath, RefundPage
from api.routing import api_router
from shared.domain.models import Refund

router = api_router(tags=["refunds"])


@router.post(
    "/api/v1/payments/{payment_id}/refunds",
    status_code=201,
    response_model=Refund,
    responses=error_responses(PaymentNotRefundable, RefundExceedsAvailable, PaymentNotFound),
    summary="Refund a successful payment, in full or in part",
)
async def create_refund(
    merchant: MerchantDep,
    payment_id: PaymentIdInPath,
    runtime: RuntimeDep,
    tx: RequestTransactionDep,
    body: RefundCreate | None = None,
) -> Refund:
    """No body at all is `{}`, as for capture: the whole refundable amount."""
    return await service.create_refund(runtime, tx, merchant.id, payment_id, body or RefundCreate())


@router.get(
    "/api/v1/payments/{payment_id}/refunds",
    response_model=RefundPage,
    responses=error_responses(PaymentNotFound),
    summary="List a payment's refunds, newest first",
)
async def list_payment_refunds(
    merchant: MerchantDep,
    payment_id: PaymentIdInPath,
    runtime: RuntimeDep,
    pagination: PaginationDep,
) -> dict[str, Any]:
    return await service.list_payment_refunds(runtime.db, merchant.id, payment_id, pagination)


@router.get(
    "/api/v1/refunds/{refund_id}",
    response_model=Refund,
    responses=error_responses(RefundNotFound),
    summary="Get a refund",
)
async def get_refund(
    merchant: MerchantDep, refund_id: RefundIdInPath, runtime: RuntimeDep
) -> Refund:
    return await service.get_refund(runtime.db, merchant.id, refund_id)
