"""Queue names and job paths. Jobs are enqueued by dotted path so no service imports another."""

from redis import Redis
from rq import Queue

from shared.logging import current_correlation_id

PAYMENTS_QUEUE = "payments"
REFUNDS_QUEUE = "refunds"
WEBHOOKS_QUEUE = "webhooks"
ALL_QUEUES = (PAYMENTS_QUEUE, REFUNDS_QUEUE, WEBHOOKS_QUEUE)

# Each queue has one job: a tick that works off everything due (see shared.due).
FINALIZE_DUE_PAYMENTS_JOB = "payment_worker.tasks.finalize_due_payments"
FINALIZE_DUE_REFUNDS_JOB = "refund_worker.tasks.finalize_due_refunds"
DELIVER_DUE_WEBHOOKS_JOB = "webhook_dispatcher.tasks.deliver_due_webhooks"


def redis_connection(url: str) -> Redis:
    # RQ stores pickled job data, so responses must stay bytes.
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


class JobQueues:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._queues = {name: Queue(name, connection=redis) for name in ALL_QUEUES}

    def enqueue(self, queue: str, job_path: str, *args: object) -> None:
        """Enqueue a job carrying the caller's correlation id."""
        meta = {"correlation_id": current_correlation_id()}
        self._queues[queue].enqueue(job_path, *args, meta=meta)
