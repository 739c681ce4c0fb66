"""Payments: created pending, finalised by the payment worker once the bank answers."""

from collections.abc import Sequence
from typing import Any

import structlog

from api.errors import found
from api.orders import repository as orders
from api.orders.errors import OrderAlreadyPaid, OrderNotFound
from api.pagination import Pagination
from api.payments import instruments
from api.payments import repository as payments
from api.payments.errors import CaptureAmountMismatch, PaymentNotCapturable, PaymentNotFound
from api.payments.schemas import CaptureRequest, PaymentCreate
from api.runtime import ApiRuntime
from shared.backends.db import AsyncDatabase, AsyncTransaction, Row
from shared.core.ids import ORDER_PREFIX, PAYMENT_PREFIX, is_id, new_id
from shared.core.logging import current_correlation_id
from shared.domain.events import (
    PAYMENT_CREATED,
    PAYMENT_PENDING,
    Event,
    queued_webhooks,
    record_events_async,
)
from shared.domain.models import Payment, PublicPayment, Resource
from shared.domain.simulation import payment_delay_ms

log = structlog.get_logger(__name__)


def _instrument_columns(body: PaymentCreate) -> dict[str, Any]:
    if body.method == "upi":
        upi = instruments.validate_vpa(body.vpa or "")
        return {
            "vpa": upi.vpa, "card_network": None, "card_last4": None,
            "test_outcome": upi.test_outcome,
        }  # fmt: skip
    assert body.card is not None
    card = instruments.validate_card(
        body.card.number, body.card.expiry_month, body.card.expiry_year, body.card.cvv
    )
    return {
        "vpa": None, "card_network": card.network, "card_last4": card.last4,
        "test_outcome": card.test_outcome,
    }  # fmt: skip


async def create_payment(
    runtime: ApiRuntime, tx: AsyncTransaction, merchant_id: str | None, body: PaymentCreate
) -> Payment:
    """Create a pending payment for an order, in `tx`; merchant_id None is the public
    checkout path."""
    instrument = _instrument_columns(body)  # before any database work: most mistakes end here
    if not is_id(body.order_id, ORDER_PREFIX):
        raise OrderNotFound
    async with tx.conn.transaction():
        payment = await payments.insert_payment_for_order(
            tx.conn,
            body.order_id,
            merchant_id,
            id=new_id(PAYMENT_PREFIX),
            method=body.method,
            delay_ms=payment_delay_ms(runtime.settings),
            correlation_id=current_correlation_id(),
            **instrument,
        )
        if payment is None:
            if await orders.get_order_status(tx.conn, body.order_id, merchant_id) == "paid":
                raise OrderAlreadyPaid
            raise OrderNotFound
        resource = Payment.from_row(payment)
        data = {"payment": resource.model_dump()}
        queued = await record_events_async(
            tx,
            [
                Event(payment["merchant_id"], name, data)
                for name in (PAYMENT_CREATED, PAYMENT_PENDING)
            ],
        )
        tx.after_commit(lambda: _log_state("payment_created", payment, queued))
    return resource


async def capture_payment(
    tx: AsyncTransaction, merchant_id: str, payment_id: str, body: CaptureRequest
) -> Payment:
    async with tx.conn.transaction():
        payment = await payments.lock_payment(tx.conn, payment_id, merchant_id)
        payment = found(payment, PaymentNotFound)
        if payment["status"] != "success" or payment["captured"]:
            raise PaymentNotCapturable
        if body.amount is not None and body.amount != payment["amount"]:
            raise CaptureAmountMismatch
        captured = await payments.mark_captured(tx.conn, payment_id)
        tx.after_commit(lambda: _log_state("payment_captured", captured))
        return Payment.from_row(captured)


def _log_state(event: str, payment: Row, webhooks: Sequence[str | None] = ()) -> None:
    """One line per state change, once it is committed; the correlation id is the request's.
    `webhooks`: the deliveries the change queued (`record_events`)."""
    log.info(event, payment_id=payment["id"], order_id=payment["order_id"],
             merchant_id=str(payment["merchant_id"]), status=payment["status"],
             **queued_webhooks(webhooks))  # fmt: skip


async def get_payment(db: AsyncDatabase, merchant_id: str, payment_id: str) -> Payment:
    async with db.connection() as conn:
        payment = await payments.get_payment(conn, payment_id, merchant_id)
    return Payment.from_row(found(payment, PaymentNotFound))


async def get_public_payment(db: AsyncDatabase, payment_id: str) -> Resource:
    """The payment's `PublicPayment` view, for the checkout page (no credentials)."""
    async with db.connection() as conn:
        payment = await payments.get_payment(conn, payment_id, None)
    return PublicPayment.from_row(found(payment, PaymentNotFound))


async def payment_stats(db: AsyncDatabase, merchant_id: str) -> dict[str, Any]:
    async with db.connection() as conn:
        stats = await payments.payment_stats(conn, merchant_id)
    total = stats["total"]
    return {
        "total_transactions": total,
        "successful_transactions": stats["successful"],
        "failed_transactions": stats["failed"],
        "total_amount": stats["successful_amount"],
        "refunded_amount": stats["refunded_amount"],
        "success_rate": round(100 * stats["successful"] / total, 2) if total else 0.0,
    }


async def list_payments(
    db: AsyncDatabase, merchant_id: str, status: str | None, pagination: Pagination
) -> dict[str, Any]:
    async with db.connection() as conn:
        filters = {"merchant_id": merchant_id, "status": status}
        rows, total = await payments.PAYMENTS.page(conn, filters, pagination)
    return pagination.page([Payment.from_row(row) for row in rows], total)
