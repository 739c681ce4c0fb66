"""What a request needs from the process: settings, the database pool, Redis and the queues."""

from dataclasses import dataclass

from redis import Redis

from api.config import ApiSettings
from shared.db import Database
from shared.queues import JobQueues, redis_connection


@dataclass
class Gateway:
    settings: ApiSettings
    db: Database
    redis: Redis
    queues: JobQueues

    @classmethod
    def connect(cls, settings: ApiSettings) -> "Gateway":
        db = Database(settings.database_url, max_size=settings.db_pool_size, name="api")
        db.open(wait=False)
        redis = redis_connection(settings.redis_url)
        return cls(settings=settings, db=db, redis=redis, queues=JobQueues(redis))

    def close(self) -> None:
        self.db.close()
        self.redis.close()
