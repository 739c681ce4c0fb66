from payment_worker.config import PaymentWorkerSettings
from payment_worker.tasks import finalize_due_payments
from shared.backends.queues import PAYMENTS_QUEUE
from shared.backends.worker import due_reader, run_worker

if __name__ == "__main__":
    run_worker(
        "payment-worker",
        PAYMENTS_QUEUE,
        finalize_due_payments,
        next_due=due_reader(PAYMENTS_QUEUE),
        settings_class=PaymentWorkerSettings,
    )
