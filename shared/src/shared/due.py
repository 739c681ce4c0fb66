"""Work that falls due at a time kept in PostgreSQL: payments when the bank answers, refunds,
webhook deliveries and their retries.

PostgreSQL holds every due time, so nothing is lost with Redis. A *tick* job works off
everything due, sleeping in short steps until the next due item while one is near, then
returns. Ticks are enqueued by whoever creates due work (at most one waiting tick per queue)
and every second by each worker's RQ cron scheduler, which is also the sweep that picks up
work whose tick was lost to a crash or a Redis flush. RQ's own scheduled jobs can't serve:
their due times have whole-second resolution.
"""

import time
from collections.abc import Callable

from redis import Redis

from shared.queues import JobQueues

# Near enough to wait for inside a tick rather than return and be woken again.
HORIZON_S = 1.5
# Longest sleep between looks at PostgreSQL, so newly created work is never late by more.
POLL_S = 0.02
# A tick returns after this long so shutdowns and other ticks are never held up for long.
MAX_RUN_S = 10.0
WAKEUP_TTL_MS = 10_000


def wakeup_key(queue: str) -> str:
    return f"gateway:wakeup:{queue}"


def request_tick(redis: Redis, queues: JobQueues, queue: str, job_path: str) -> None:
    """Make sure a tick is on its way; one waiting tick works off everything due."""
    if redis.set(wakeup_key(queue), 1, nx=True, px=WAKEUP_TTL_MS):
        queues.enqueue(queue, job_path)


def work_until_idle(
    redis: Redis,
    queue: str,
    finalize_due: Callable[[], int],
    seconds_until_next_due: Callable[[], float | None],
) -> int:
    """Finalise due work until nothing is due within the horizon; return how much was done."""
    done = 0
    started = time.monotonic()
    while True:
        while (finalized := finalize_due()) > 0:
            done += finalized
        wait = seconds_until_next_due()
        if wait is None or wait > HORIZON_S:
            # Let the next creator enqueue a tick, then look once more for work created
            # between our last look and the release, which no one else would wake up for.
            redis.delete(wakeup_key(queue))
            wait = seconds_until_next_due()
            if wait is None or wait > HORIZON_S:
                return done
        if time.monotonic() - started > MAX_RUN_S:
            return done
        time.sleep(min(max(wait, 0.0), POLL_S))
