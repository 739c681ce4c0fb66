"""Refund jobs. A refund moves pending -> processed exactly once, in one transaction with the
payment's amount_refunded and the refund.processed event (see payment_worker.tasks)."""

import structlog

from refund_worker import repository
from shared.backends.queues import REFUNDS_QUEUE
from shared.backends.worker import WorkerRuntime, counted, run_tick
from shared.domain.events import REFUND_PROCESSED, Event, queued_webhooks, record_events
from shared.domain.models import Refund

log = structlog.get_logger(__name__)

BATCH_SIZE = 50


def finalize_due_batch(current: WorkerRuntime) -> int:
    with current.db.transaction() as tx:
        due = repository.lock_due_refunds(tx.conn, BATCH_SIZE)
        if not due:
            return 0
        rows = repository.mark_processed(tx.conn, [r["id"] for r in due])
        repository.add_refunded_amounts(tx.conn, rows)
        queued = record_events(
            tx,
            [Event(row["merchant_id"], REFUND_PROCESSED, {"refund": Refund.from_row(row).model_dump()},
                   row["correlation_id"]) for row in rows],
        )  # fmt: skip
    for row, webhook in zip(rows, queued, strict=True):
        log.info("refund_processed", refund_id=row["id"], payment_id=row["payment_id"],
                 merchant_id=str(row["merchant_id"]), status=row["status"],
                 correlation_id=row["correlation_id"], **queued_webhooks([webhook]))  # fmt: skip
    return len(rows)


@counted(REFUNDS_QUEUE)
def finalize_due_refunds() -> int:
    """Tick: process every refund whose settlement is due, until none is due soon."""
    return run_tick(REFUNDS_QUEUE, finalize_due_batch, BATCH_SIZE)
