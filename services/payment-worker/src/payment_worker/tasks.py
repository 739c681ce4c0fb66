"""Payment jobs. A payment moves pending -> success | failed exactly once: the rows are locked
(SKIP LOCKED) and updated only while still pending, in the same transaction as their orders
and webhook events. A job killed half-way rolls back and the next tick does the work again.

An order is paid at most once (docs/api.md#one-successful-payment-per-order): the batch locks its
payments' orders before deciding anything, so a payment whose order is already paid, by an earlier
payment of this batch or by another worker's committed batch, fails with ORDER_ALREADY_PAID."""

from collections.abc import Callable, Iterable

import structlog

from payment_worker import repository
from payment_worker.config import PaymentWorkerSettings
from shared.backends.db import Row
from shared.backends.queues import PAYMENTS_QUEUE
from shared.backends.worker import WorkerRuntime, counted, run_tick
from shared.domain.events import (
    PAYMENT_FAILED,
    PAYMENT_SUCCESS,
    Event,
    queued_webhooks,
    record_events,
)
from shared.domain.models import Payment
from shared.domain.simulation import BankAnswer, bank_answer

log = structlog.get_logger(__name__)

# Small enough that a batch commits within a few milliseconds of falling due.
BATCH_SIZE = 50
ALREADY_PAID_CODE = "ORDER_ALREADY_PAID"
ALREADY_PAID_DESCRIPTION = "Order already paid"  # docs/api.md#exact-descriptions: the API's too

Outcome = tuple[str, str, str | None, str | None]


def decide_outcomes(
    due: Iterable[Row], paid_orders: set[str], bank: Callable[[Row], BankAnswer]
) -> list[Outcome]:
    """(payment id, status, error code, error description) for each due payment, in order.

    `due` are locked payments (id, method, order_id, test_outcome), oldest bank answer first;
    `paid_orders` the ids of their orders already paid, read under the orders' locks. The
    first approved payment of an unpaid order succeeds; every later payment of that order in
    the batch, and every payment of an order already paid, fails with ORDER_ALREADY_PAID
    without asking the bank. `bank(payment)` is the simulated bank's answer (bank_answer).
    """
    paid = set(paid_orders)
    outcomes: list[Outcome] = []
    for payment in due:
        if payment["order_id"] in paid:
            outcomes.append((payment["id"], "failed", ALREADY_PAID_CODE, ALREADY_PAID_DESCRIPTION))
            continue
        answer = bank(payment)
        if answer.approved:
            paid.add(payment["order_id"])
            outcomes.append((payment["id"], "success", None, None))
        else:
            outcomes.append((payment["id"], "failed", answer.error_code, answer.error_description))
    return outcomes


def finalize_due_batch(current: WorkerRuntime) -> int:
    """Finalise up to BATCH_SIZE due payments in one transaction; the number finalised.

    Statements: lock due payments (SKIP LOCKED), lock their orders (waits, in id order),
    update payments and orders together, record the outcome events. Payments whose order
    is paid meanwhile fail with ORDER_ALREADY_PAID (decide_outcomes)."""
    bank = current.service_settings(PaymentWorkerSettings)
    with current.db.transaction() as tx:
        due = repository.lock_due_payments(tx.conn, BATCH_SIZE)
        if not due:
            return 0
        paid_orders = repository.lock_paid_orders(tx.conn, sorted({p["order_id"] for p in due}))
        outcomes = decide_outcomes(
            due, paid_orders, lambda p: bank_answer(bank, p["method"], p["test_outcome"])
        )
        rows = repository.finalize_payments(tx.conn, outcomes)
        queued = record_events(
            tx,
            [
                Event(
                    row["merchant_id"],
                    PAYMENT_SUCCESS if row["status"] == "success" else PAYMENT_FAILED,
                    {"payment": Payment.from_row(row).model_dump()},
                    row["correlation_id"],
                )
                for row in rows
            ],
        )
    for row, webhook in zip(rows, queued, strict=True):
        log.info(
            "payment_finalized",
            payment_id=row["id"],
            order_id=row["order_id"],
            merchant_id=str(row["merchant_id"]),
            status=row["status"],
            correlation_id=row["correlation_id"],
            **queued_webhooks([webhook]),
        )
    return len(rows)


@counted(PAYMENTS_QUEUE)
def finalize_due_payments() -> int:
    """Tick: finalise every payment whose bank answer is due, until none is due soon."""
    return run_tick(PAYMENTS_QUEUE, finalize_due_batch, BATCH_SIZE)
