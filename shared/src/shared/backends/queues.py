"""Queue names, their tick jobs, and waking a queue. Jobs are enqueued by dotted path so no
service imports another."""

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from rq import Queue

PAYMENTS_QUEUE = "payments"
REFUNDS_QUEUE = "refunds"
WEBHOOKS_QUEUE = "webhooks"
ALL_QUEUES = (PAYMENTS_QUEUE, REFUNDS_QUEUE, WEBHOOKS_QUEUE)

# Each queue has one job: a tick that works off everything due (see shared.backends.due).
FINALIZE_DUE_PAYMENTS_JOB = "payment_worker.tasks.finalize_due_payments"
FINALIZE_DUE_REFUNDS_JOB = "refund_worker.tasks.finalize_due_refunds"
DELIVER_DUE_WEBHOOKS_JOB = "webhook_dispatcher.tasks.deliver_due_webhooks"
TICK_JOBS = {
    PAYMENTS_QUEUE: FINALIZE_DUE_PAYMENTS_JOB,
    REFUNDS_QUEUE: FINALIZE_DUE_REFUNDS_JOB,
    WEBHOOKS_QUEUE: DELIVER_DUE_WEBHOOKS_JOB,
}

# How long a queued tick holds its queue's "queued" flag if no worker starts it (a worker
# killed between taking it and starting it). Longer than a tick runs
# (shared.backends.due.MAX_RUN_S), so a tick waiting for a busy worker is never doubled.
QUEUED_FLAG_TTL_S = 30
# Failed ticks stay in RQ's failed registry this long for an operator to read, then go.
FAILED_TICK_TTL_S = 24 * 3600
# Meta key of a tick job: the flag its worker clears as it starts the tick.
QUEUED_FLAG_META = "queued_flag"


def queued_flag_key(queue: str) -> str:
    """Set while a tick of `queue` waits in RQ; cleared by the worker that starts it."""
    return f"gateway:tick-queued:{queue}"


def redis_connection(url: str) -> Redis:
    # RQ stores pickled job data, so responses must stay bytes.
    return Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def async_redis_connection(url: str) -> AsyncRedis:
    """The API's connection for its own commands (the health check): awaited, so a request
    never takes a thread for them. The same timeouts as `redis_connection`."""
    return AsyncRedis.from_url(
        url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
    )


class JobQueues:
    """The three RQ queues of the gateway, seen from the workers' sweeps, which wake them."""

    def __init__(self, redis: Redis):
        self.redis = redis
        self._queues = {name: Queue(name, connection=redis) for name in ALL_QUEUES}

    def wake(self, *queues: str) -> list[str]:
        """Make sure a tick of each of `queues` is on its way; returns those this call
        enqueued a tick for.

        At most one tick per queue waits in Redis whatever the load and the number of wakers
        (the sweeps of every worker replica): a flag set with NX guards the enqueue and the worker
        clears it as it starts the tick, so work created after that start wakes a new one.
        The flags of all `queues` are set in one round trip. A tick keeps no result
        (result_ttl=0). Raises redis errors; the sweep (shared.backends.worker) tries again a second
        later.
        """
        pipeline = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipeline.set(queued_flag_key(queue), 1, nx=True, ex=QUEUED_FLAG_TTL_S)
        won = [queue for queue, set_now in zip(queues, pipeline.execute(), strict=True) if set_now]
        for queue in won:
            self._enqueue_tick(queue, queued_flag_key(queue))
        return won

    def _enqueue_tick(self, queue: str, flag: str) -> None:
        try:
            self._queues[queue].enqueue(
                TICK_JOBS[queue],
                result_ttl=0,
                failure_ttl=FAILED_TICK_TTL_S,
                meta={QUEUED_FLAG_META: flag},
            )
        except Exception:
            # Without its job, the flag would keep every waker away until it expires.
            self.redis.delete(flag)
            raise
