"""What a request needs from the API process: settings, the database pool, Redis and the
queues, made once at startup and closed at shutdown (the API's `shared.worker.WorkerRuntime`)."""

import asyncio
from dataclasses import dataclass, field

from redis import Redis

from api.config import ApiSettings
from shared.db import Database
from shared.queues import JobQueues, redis_connection


@dataclass
class ApiRuntime:
    """The API process's long-lived resources; one per process, on `app.state.runtime`,
    handed to endpoints by `RuntimeDep` (api.dependencies)."""

    settings: ApiSettings
    db: Database
    redis: Redis
    queues: JobQueues
    # Idempotent requests hold a connection across several thread hops; capping them below
    # the pool size leaves connections for every other request, so none can starve the rest.
    idempotent_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    @classmethod
    def connect(cls, settings: ApiSettings) -> "ApiRuntime":
        db = Database(settings.database_url, max_size=settings.db_pool_size, name="api")
        db.open(wait=False)
        redis = redis_connection(settings.redis_url)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            queues=JobQueues(redis),
            idempotent_slots=asyncio.Semaphore(max(1, settings.db_pool_size - 2)),
        )

    def close(self) -> None:
        self.db.close()
        self.redis.close()
