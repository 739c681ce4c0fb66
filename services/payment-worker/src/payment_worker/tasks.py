"""Payment jobs. A payment moves pending -> success | failed exactly once: the row is locked
(SKIP LOCKED) and updated only while still pending, in the same transaction as its order and
its webhook event. A job killed half-way rolls back and the next tick does the work again."""

import structlog

from payment_worker import repository
from shared.due import work_until_idle
from shared.events import PAYMENT_FAILED, PAYMENT_SUCCESS, record_event
from shared.queues import PAYMENTS_QUEUE
from shared.resources import payment_resource
from shared.simulation import payment_succeeds
from shared.worker import WorkerRuntime, counted, runtime

log = structlog.get_logger(__name__)

BATCH_SIZE = 200
DECLINED_CODE = "PAYMENT_FAILED"
DECLINED_DESCRIPTION = "Payment was declined by the bank"


def finalize_due_batch(current: WorkerRuntime) -> int:
    with current.db.transaction() as tx:
        due = repository.lock_due_payments(tx.conn, BATCH_SIZE)
        for payment in due:
            with structlog.contextvars.bound_contextvars(correlation_id=payment["correlation_id"]):
                if payment_succeeds(current.settings, payment["method"]):
                    row = repository.finalize_payment(tx.conn, payment["id"], "success", None, None)
                    repository.mark_order_paid(tx.conn, payment["order_id"])
                    event = PAYMENT_SUCCESS
                else:
                    row = repository.finalize_payment(
                        tx.conn, payment["id"], "failed", DECLINED_CODE, DECLINED_DESCRIPTION
                    )
                    event = PAYMENT_FAILED
                record_event(
                    tx,
                    current.queues,
                    payment["merchant_id"],
                    event,
                    {"payment": payment_resource(row)},
                )
                log.info("payment_finalized", payment_id=payment["id"], status=row["status"])
    return len(due)


@counted(PAYMENTS_QUEUE)
def finalize_due_payments() -> int:
    """Tick: finalise every payment whose bank answer is due, until none is due soon."""
    current = runtime()

    def next_due() -> float | None:
        with current.db.connection() as conn:
            return repository.seconds_until_next_due(conn)

    return work_until_idle(
        current.redis, PAYMENTS_QUEUE, lambda: finalize_due_batch(current), next_due
    )
