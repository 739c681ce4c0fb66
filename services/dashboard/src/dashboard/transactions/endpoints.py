"""Payments: the paginated list, one payment with its refunds, capture and refund forms."""

import asyncio
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from dashboard.dependencies import GatewayDep, MerchantDep, MerchantSessionDep, id_in_path
from dashboard.gateway import ApiError, idempotency_key_or_none
from dashboard.pagination import DEFAULT_LIMIT, LimitQuery, OffsetQuery, Page
from dashboard.rendering import cut_text, inr, redirect, render
from dashboard.sessions import SessionMerchant
from dashboard.transactions.service import (
    PAYMENT_ID,
    PAYMENT_STATUSES,
    AmountInvalid,
    paise_to_rupees_text,
    rupees_to_paise,
)

router = APIRouter(prefix="/dashboard/transactions")

FormText = Annotated[str, Form()]
PaymentIdInPath = Annotated[str, id_in_path("payment_id", PAYMENT_ID, "Payment not found")]
# The API's limit on a refund reason, in code points.
REFUND_REASON_MAX = 255


@router.get("")
async def transactions(
    request: Request,
    merchant: MerchantDep,
    gateway: GatewayDep,
    status: str = "",
    limit: LimitQuery = DEFAULT_LIMIT,
    offset: OffsetQuery = 0,
) -> HTMLResponse:
    status = status if status in PAYMENT_STATUSES else ""
    listing = await gateway.api(merchant.credentials).payments.list(limit, offset, status or None)
    page = Page("/dashboard/transactions", limit, offset, listing["total"], {"status": status})
    context = {
        "payments": listing["data"],
        "page": page,
        "status": status,
        "statuses": PAYMENT_STATUSES,
        "page_title": "Transactions",
    }
    return await render(request, "transactions.html", context)


async def _payment_page(
    request: Request,
    merchant: SessionMerchant,
    gateway: GatewayDep,
    payment_id: str,
    refund_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    payment, refunds = await asyncio.gather(
        gateway.api(merchant.credentials).payments.get(payment_id),
        gateway.api(merchant.credentials).refunds.list(payment_id, 100, 0),
    )
    available = payment["amount_refundable"]  # the API applies the rule (docs/api.md#refunds)
    form = {"amount": paise_to_rupees_text(available), "reason": "", "error": None}
    context = {
        "payment": payment,
        "refunds": refunds["data"],
        "refundable": available,
        "can_capture": payment["status"] == "success" and not payment["captured"],
        "can_refund": payment["status"] == "success" and available > 0,
        "refund_form": form | (refund_form or {}),
        # One key per rendered form: a double click cannot capture or refund twice.
        "capture_key": secrets.token_urlsafe(16),
        "refund_key": secrets.token_urlsafe(16),
        "page_title": f"Payment {payment_id}",
    }
    return await render(request, "payment.html", context, status_code=status_code)


@router.get("/{payment_id}")
async def payment_detail(
    request: Request, merchant: MerchantDep, payment_id: PaymentIdInPath, gateway: GatewayDep
) -> HTMLResponse:
    return await _payment_page(request, merchant, gateway, payment_id)


@router.post("/{payment_id}/capture")
async def capture(
    request: Request,
    session: MerchantSessionDep,
    merchant: MerchantDep,
    payment_id: PaymentIdInPath,
    gateway: GatewayDep,
    idempotency_key: FormText = "",
) -> Response:
    await session.flash_outcome(
        gateway.api(merchant.credentials).payments.capture(
            payment_id, idempotency_key=idempotency_key_or_none(idempotency_key)
        ),
        success="Payment captured.",
        failure="Could not capture the payment",
    )
    return await redirect(request, session, f"/dashboard/transactions/{payment_id}")


@router.post("/{payment_id}/refunds")
async def refund(
    request: Request,
    session: MerchantSessionDep,
    merchant: MerchantDep,
    payment_id: PaymentIdInPath,
    gateway: GatewayDep,
    amount: FormText = "",
    reason: FormText = "",
    idempotency_key: FormText = "",
) -> Response:
    reason = cut_text(reason.strip(), REFUND_REASON_MAX)
    entered = {"amount": amount, "reason": reason}
    try:
        paise = rupees_to_paise(amount)
        created = await gateway.api(merchant.credentials).refunds.create(
            payment_id,
            paise,
            reason or None,
            idempotency_key=idempotency_key_or_none(idempotency_key),
        )
    except AmountInvalid as exc:
        form = entered | {"error": str(exc)}
        return await _payment_page(request, merchant, gateway, payment_id, form, 400)
    except ApiError as exc:
        if not exc.refused:
            raise
        form = entered | {"error": exc.sentence}
        return await _payment_page(request, merchant, gateway, payment_id, form, 400)
    session.flash(
        "success",
        f"Refund {created['id']} of {inr(created['amount'])} created. "
        "It is pending until the bank processes it.",
    )
    return await redirect(request, session, f"/dashboard/transactions/{payment_id}")
