"""Payments: the paginated list, one payment with its refunds, capture and refund forms."""

import asyncio
import secrets
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from dashboard.dependencies import FormText, MerchantPage, PageDep, id_in_path
from dashboard.gateway import ApiError, idempotency_key_or_none
from dashboard.pagination import DEFAULT_LIMIT, LimitQuery, OffsetQuery, Page
from dashboard.rendering import FormProblem, cut_text, form_problem, inr, redirect, render
from dashboard.transactions.service import (
    PAYMENT_ID,
    PAYMENT_STATUSES,
    AmountInvalid,
    paise_to_rupees_text,
    rupees_to_paise,
)

router = APIRouter(prefix="/dashboard/transactions")

PaymentIdInPath = Annotated[str, id_in_path("payment_id", PAYMENT_ID, "Payment not found")]
# The API's limit on a refund reason, in code points.
REFUND_REASON_MAX = 255


@router.get("")
async def transactions(
    page: PageDep,
    status: str = "",
    limit: LimitQuery = DEFAULT_LIMIT,
    offset: OffsetQuery = 0,
) -> HTMLResponse:
    status = status if status in PAYMENT_STATUSES else ""
    listing = await page.api.payments.list(limit, offset, status or None)
    paging = Page("/dashboard/transactions", limit, offset, listing["total"], {"status": status})
    context = {
        "payments": listing["data"],
        "page": paging,
        "status": status,
        "statuses": PAYMENT_STATUSES,
        "page_title": "Transactions",
    }
    return await render(page.request, "transactions.html", context)


async def _payment_page(
    page: MerchantPage,
    payment_id: str,
    refund_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    payment, refunds = await asyncio.gather(
        page.api.payments.get(payment_id), page.api.refunds.list(payment_id, 100, 0)
    )
    available = payment["amount_refundable"]  # the API applies the rule (docs/api.md#refunds)
    form = {"amount": paise_to_rupees_text(available), "reason": "", "problem": None}
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
    return await render(page.request, "payment.html", context, status_code=status_code)


@router.get("/{payment_id}")
async def payment_detail(page: PageDep, payment_id: PaymentIdInPath) -> HTMLResponse:
    return await _payment_page(page, payment_id)


@router.post("/{payment_id}/capture")
async def capture(
    page: PageDep, payment_id: PaymentIdInPath, idempotency_key: FormText = ""
) -> Response:
    await page.session.flash_outcome(
        page.api.payments.capture(
            payment_id, idempotency_key=idempotency_key_or_none(idempotency_key)
        ),
        success="Payment captured.",
        failure="Could not capture the payment",
    )
    return await redirect(page.request, page.session, f"/dashboard/transactions/{payment_id}")


# The refund form's labels for the API's field names (dashboard.rendering.form_problem).
REFUND_LABELS = {"amount": "Refund amount", "reason": "Reason"}


@router.post("/{payment_id}/refunds")
async def refund(
    page: PageDep,
    payment_id: PaymentIdInPath,
    amount: FormText = "",
    reason: FormText = "",
    idempotency_key: FormText = "",
) -> Response:
    reason = cut_text(reason.strip(), REFUND_REASON_MAX)
    entered = {"amount": amount, "reason": reason}
    try:
        paise = rupees_to_paise(amount)
        created = await page.api.refunds.create(
            payment_id,
            paise,
            reason or None,
            idempotency_key=idempotency_key_or_none(idempotency_key),
        )
    except (AmountInvalid, ApiError) as exc:
        if isinstance(exc, ApiError) and not exc.refused:
            raise
        problem = (
            form_problem(exc, REFUND_LABELS)
            if isinstance(exc, ApiError)
            else FormProblem(str(exc), "amount")
        )
        form = entered | {"problem": problem}
        return await _payment_page(page, payment_id, form, 400)
    page.session.flash(
        "success",
        f"Refund {created['id']} of {inr(created['amount'])} created. "
        "It is pending until the bank processes it.",
    )
    return await redirect(page.request, page.session, f"/dashboard/transactions/{payment_id}")
