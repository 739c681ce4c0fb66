"""Refunds: any number of partial refunds of a successful payment, never more than it."""

from typing import Any

import structlog

from api.gateway import Gateway
from api.pagination import Total
from api.payments import repository as payments
from api.refunds import repository as refunds
from api.refunds.schemas import RefundCreate
from shared.db import Database
from shared.errors import BadRequest, NotFound
from shared.events import REFUND_CREATED, record_event
from shared.ids import PAYMENT_PREFIX, REFUND_PREFIX, is_id, new_id
from shared.logging import current_correlation_id
from shared.queues import REFUNDS_QUEUE
from shared.resources import refund_resource
from shared.simulation import refund_delay_ms

log = structlog.get_logger(__name__)


def available_refund_amount(payment: dict[str, Any], committed: int) -> int:
    return payment["amount"] - committed


def create_refund(
    gateway: Gateway, merchant_id: str, payment_id: str, body: RefundCreate
) -> dict[str, Any]:
    if not is_id(payment_id, PAYMENT_PREFIX):
        raise NotFound("Payment not found")
    with gateway.db.transaction() as tx:
        # The payment row lock makes concurrent refunds of one payment take turns here.
        payment = payments.lock_payment(tx.conn, payment_id, merchant_id)
        if payment is None:
            raise NotFound("Payment not found")
        if payment["status"] != "success":
            raise BadRequest("Payment not in refundable state")
        available = available_refund_amount(
            payment, refunds.committed_refund_amount(tx.conn, payment_id)
        )
        amount = body.amount if body.amount is not None else available
        if amount <= 0 or amount > available:
            raise BadRequest("Refund amount exceeds available amount")
        refund = refunds.insert_refund(
            tx.conn,
            id=new_id(REFUND_PREFIX),
            payment_id=payment_id,
            merchant_id=merchant_id,
            amount=amount,
            reason=body.reason,
            correlation_id=current_correlation_id(),
            delay_ms=refund_delay_ms(gateway.settings),
        )
        resource = refund_resource(refund)
        record_event(tx, gateway.queues, merchant_id, REFUND_CREATED, {"refund": resource})
        tx.after_commit(lambda: gateway.queues.wake(REFUNDS_QUEUE), key=REFUNDS_QUEUE)
        tx.after_commit(
            lambda: log.info("refund_created", refund_id=refund["id"], payment_id=payment_id,
                             merchant_id=merchant_id, amount=amount, status=refund["status"])
        )  # fmt: skip
    return resource


def get_refund(db: Database, merchant_id: str, refund_id: str) -> dict[str, Any]:
    if not is_id(refund_id, REFUND_PREFIX):
        raise NotFound("Refund not found")
    with db.connection() as conn:
        refund = refunds.get_refund(conn, refund_id, merchant_id)
    if refund is None:
        raise NotFound("Refund not found")
    return refund_resource(refund)


def list_payment_refunds(
    db: Database, merchant_id: str, payment_id: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], Total]:
    if not is_id(payment_id, PAYMENT_PREFIX):
        raise NotFound("Payment not found")
    with db.connection() as conn:
        if payments.get_payment(conn, payment_id, merchant_id) is None:
            raise NotFound("Payment not found")
        rows = refunds.list_refunds(conn, payment_id, limit, offset)
        total = refunds.count_refunds(conn, payment_id)
    return [refund_resource(row) for row in rows], total
