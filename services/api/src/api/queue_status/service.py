"""Job status (docs/api.md#job-status). The unit is an item of work: a payment to finalise, a refund
to process, a webhook delivery. Pending items come from PostgreSQL; running jobs and live workers
from RQ; lifetime completed and failed counts from the workers' counters in Redis."""

import asyncio
from typing import Any

from rq import Queue, Worker
from rq.registry import StartedJobRegistry

from api.queue_status import repository
from api.runtime import ApiRuntime
from shared.backends.jobstats import lifetime_counts
from shared.backends.queues import ALL_QUEUES


async def job_status(runtime: ApiRuntime) -> dict[str, Any]:
    """The report of docs/api.md#job-status: PostgreSQL's pending counts, then RQ's figures (RQ is
    synchronous: read in a worker thread)."""
    async with runtime.db.connection() as conn:
        pending = await repository.pending_counts(conn)
    return await asyncio.to_thread(_with_rq_figures, runtime, pending)


def _with_rq_figures(runtime: ApiRuntime, pending: dict[str, int]) -> dict[str, Any]:
    lifetime = lifetime_counts(runtime.redis)
    queues: dict[str, dict[str, int]] = {}
    for name in ALL_QUEUES:
        queue = Queue(name, connection=runtime.redis)
        queues[name] = {
            "pending": pending[name],
            "queued_jobs": queue.count,
            "processing": StartedJobRegistry(queue=queue).count,
            "completed": lifetime[name]["completed"],
            "failed": lifetime[name]["failed"],
            "workers": Worker.count(queue=queue),
        }
    staffed = sum(1 for counts in queues.values() if counts["workers"] > 0)
    worker_status = (
        "running" if staffed == len(ALL_QUEUES) else "degraded" if staffed else "stopped"
    )
    totals = {
        field: sum(counts[field] for counts in queues.values())
        for field in ("pending", "processing", "completed", "failed")
    }
    return totals | {"worker_status": worker_status, "queues": queues}
