"""Refund jobs. A refund moves pending -> processed exactly once, in one transaction with the
payment's amount_refunded and the refund.processed event (see payment_worker.tasks)."""

import structlog

from refund_worker import repository
from shared.due import work_until_idle
from shared.events import REFUND_PROCESSED, record_event
from shared.queues import REFUNDS_QUEUE
from shared.resources import refund_resource
from shared.worker import WorkerRuntime, counted, runtime

log = structlog.get_logger(__name__)

BATCH_SIZE = 200


def finalize_due_batch(current: WorkerRuntime) -> int:
    with current.db.transaction() as tx:
        due = repository.lock_due_refunds(tx.conn, BATCH_SIZE)
        for refund in due:
            with structlog.contextvars.bound_contextvars(correlation_id=refund["correlation_id"]):
                row = repository.mark_processed(tx.conn, refund["id"])
                repository.add_refunded_amount(tx.conn, refund["payment_id"], refund["amount"])
                record_event(
                    tx, current.queues, refund["merchant_id"], REFUND_PROCESSED,
                    {"refund": refund_resource(row)},
                )  # fmt: skip
                log.info(
                    "refund_processed", refund_id=refund["id"], payment_id=refund["payment_id"]
                )
    return len(due)


@counted(REFUNDS_QUEUE)
def finalize_due_refunds() -> int:
    """Tick: process every refund whose settlement is due, until none is due soon."""
    current = runtime()

    def next_due() -> float | None:
        with current.db.connection() as conn:
            return repository.seconds_until_next_due(conn)

    return work_until_idle(
        current.redis, REFUNDS_QUEUE, lambda: finalize_due_batch(current), next_due
    )
