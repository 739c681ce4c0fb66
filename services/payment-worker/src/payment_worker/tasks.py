"""Payment jobs. A payment moves pending -> success | failed exactly once: the rows are locked
(SKIP LOCKED) and updated only while still pending, in the same transaction as their orders
and webhook events. A job killed half-way rolls back and the next tick does the work again."""

import structlog

from payment_worker import repository
from shared.events import PAYMENT_FAILED, PAYMENT_SUCCESS, Event, record_events
from shared.queues import PAYMENTS_QUEUE
from shared.resources import payment_resource
from shared.simulation import payment_succeeds
from shared.worker import WorkerRuntime, counted, run_tick

log = structlog.get_logger(__name__)

# Small enough that a batch commits within a few milliseconds of falling due.
BATCH_SIZE = 50
DECLINED_CODE = "PAYMENT_FAILED"
DECLINED_DESCRIPTION = "Payment was declined by the bank"


def finalize_due_batch(current: WorkerRuntime) -> int:
    with current.db.transaction() as tx:
        due = repository.lock_due_payments(tx.conn, BATCH_SIZE)
        if not due:
            return 0
        outcomes = [
            (p["id"], "success", None, None)
            if payment_succeeds(current.settings, p["method"])
            else (p["id"], "failed", DECLINED_CODE, DECLINED_DESCRIPTION)
            for p in due
        ]
        rows = repository.finalize_payments(tx.conn, outcomes)
        repository.mark_orders_paid(
            tx.conn, [r["order_id"] for r in rows if r["status"] == "success"]
        )
        record_events(
            tx,
            current.queues,
            [
                Event(
                    row["merchant_id"],
                    PAYMENT_SUCCESS if row["status"] == "success" else PAYMENT_FAILED,
                    {"payment": payment_resource(row)},
                    row["correlation_id"],
                )
                for row in rows
            ],
        )
    for row in rows:
        log.info(
            "payment_finalized",
            payment_id=row["id"],
            order_id=row["order_id"],
            merchant_id=str(row["merchant_id"]),
            status=row["status"],
            correlation_id=row["correlation_id"],
        )
    return len(rows)


@counted(PAYMENTS_QUEUE)
def finalize_due_payments() -> int:
    """Tick: finalise every payment whose bank answer is due, until none is due soon."""
    return run_tick(PAYMENTS_QUEUE, finalize_due_batch, repository.seconds_until_next_due)
