"""What a request needs from the API process: settings, the database pool and Redis, made once
at startup and closed at shutdown (the API's `shared.backends.worker.WorkerRuntime`). The API never
wakes a worker: what it commits wakes them through PostgreSQL (shared.backends.worker's sweep)."""

import asyncio
from dataclasses import dataclass, field

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from api.authentication.credentials import CredentialCache
from api.config import ApiSettings
from shared.backends.db import AsyncDatabase
from shared.backends.queues import async_redis_connection, redis_connection


@dataclass
class ApiRuntime:
    """The API process's long-lived resources; one per process, on `app.state.runtime`,
    handed to endpoints by `RuntimeDep` (api.dependencies)."""

    settings: ApiSettings
    db: AsyncDatabase
    redis: Redis  # for RQ, which is synchronous: the queue status report (in a thread)
    async_redis: AsyncRedis  # for the API's own commands: the health check
    credentials: CredentialCache = field(default_factory=CredentialCache)
    # Idempotent requests hold a connection for their whole handler; capping them below the
    # pool size leaves connections for every other request, so none can starve the rest.
    idempotent_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    @classmethod
    async def connect(cls, settings: ApiSettings) -> "ApiRuntime":
        db = AsyncDatabase(settings.database_url, max_size=settings.db_pool_size, name="api")
        await db.open(wait=False)
        redis = redis_connection(settings.redis_url)
        async_redis = async_redis_connection(settings.redis_url)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            async_redis=async_redis,
            idempotent_slots=asyncio.Semaphore(max(1, settings.db_pool_size - 2)),
        )

    async def close(self) -> None:
        await self.db.close()
        await self.async_redis.aclose()
        self.redis.close()
