"""Refunds: any number of partial refunds of a successful payment, never more than it."""

from typing import Any

import structlog

from api.errors import found
from api.pagination import Pagination
from api.payments import repository as payments
from api.payments.errors import PaymentNotFound
from api.refunds import repository as refunds
from api.refunds.errors import PaymentNotRefundable, RefundExceedsAvailable, RefundNotFound
from api.refunds.schemas import RefundCreate
from api.runtime import ApiRuntime
from shared.backends.db import AsyncDatabase, AsyncTransaction
from shared.core.ids import REFUND_PREFIX, new_id
from shared.core.logging import current_correlation_id
from shared.domain.events import REFUND_CREATED, queued_webhooks, record_event_async
from shared.domain.models import Refund
from shared.domain.simulation import refund_delay_ms

log = structlog.get_logger(__name__)


async def create_refund(
    runtime: ApiRuntime, tx: AsyncTransaction, merchant_id: str, payment_id: str, body: RefundCreate
) -> Refund:
    async with tx.conn.transaction():
        # The payment row lock makes concurrent refunds of one payment take turns here.
        payment = await payments.lock_payment(tx.conn, payment_id, merchant_id)
        payment = found(payment, PaymentNotFound)
        if payment["status"] != "success":
            raise PaymentNotRefundable
        # Its own statement, after the lock: it sees every refund committed before ours.
        available = await refunds.refundable_amount(tx.conn, payment_id)
        amount = body.amount if body.amount is not None else available
        if amount <= 0 or amount > available:
            raise RefundExceedsAvailable(field="amount" if body.amount is not None else None)
        refund = await refunds.insert_refund(
            tx.conn,
            id=new_id(REFUND_PREFIX),
            payment_id=payment_id,
            merchant_id=merchant_id,
            amount=amount,
            reason=body.reason,
            correlation_id=current_correlation_id(),
            delay_ms=refund_delay_ms(runtime.settings),
        )
        resource = Refund.from_row(refund)
        webhook = await record_event_async(
            tx, merchant_id, REFUND_CREATED, {"refund": resource.model_dump()}
        )
        tx.after_commit(
            lambda: log.info("refund_created", refund_id=refund["id"], payment_id=payment_id,
                             merchant_id=merchant_id, amount=amount, status=refund["status"],
                             **queued_webhooks([webhook]))
        )  # fmt: skip
    return resource


async def get_refund(db: AsyncDatabase, merchant_id: str, refund_id: str) -> Refund:
    async with db.connection() as conn:
        refund = await refunds.get_refund(conn, refund_id, merchant_id)
    return Refund.from_row(found(refund, RefundNotFound))


async def list_payment_refunds(
    db: AsyncDatabase, merchant_id: str, payment_id: str, pagination: Pagination
) -> dict[str, Any]:
    async with db.connection() as conn:
        found(await payments.get_payment(conn, payment_id, merchant_id), PaymentNotFound)
        rows, total = await refunds.REFUNDS.page(conn, {"payment_id": payment_id}, pagination)
    return pagination.page([Refund.from_row(row) for row in rows], total)
