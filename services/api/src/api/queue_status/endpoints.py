from typing import Any

from pydantic import BaseModel

from api.dependencies import RuntimeDep
from api.queue_status import service
from api.routing import api_router

router = api_router(tags=["jobs"])


class QueueStatus(BaseModel):
    pending: int
    queued_jobs: int
    processing: int
    completed: int
    failed: int
    workers: int


class JobStatus(BaseModel):
    pending: int
    processing: int
    completed: int
    failed: int
    worker_status: str
    queues: dict[str, QueueStatus]


@router.get(
    "/api/v1/test/jobs/status",
    response_model=JobStatus,
    summary="Work waiting, running and done across the payments, refunds and webhooks queues",
)
async def job_status(runtime: RuntimeDep) -> dict[str, Any]:
    return await service.job_status(runtime)
