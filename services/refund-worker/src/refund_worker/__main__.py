from refund_worker.tasks import finalize_due_refunds
from shared.backends.queues import REFUNDS_QUEUE
from shared.backends.worker import due_reader, run_worker

if __name__ == "__main__":
    run_worker(
        "refund-worker",
        REFUNDS_QUEUE,
        finalize_due_refunds,
        next_due=due_reader(REFUNDS_QUEUE),
    )
