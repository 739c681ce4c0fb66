"""Lifetime counts of work done by the workers, kept in Redis beside the queues
(docs/api.md#job-status)."""

from redis import Redis

from shared.backends.queues import ALL_QUEUES


def _key(queue: str, outcome: str) -> str:
    return f"gateway:stats:{queue}:{outcome}"


def count_completed(redis: Redis, queue: str, items: int) -> None:
    if items:
        redis.incrby(_key(queue, "completed"), items)


def count_failed(redis: Redis, queue: str, items: int = 1) -> None:
    redis.incrby(_key(queue, "failed"), items)


def lifetime_counts(redis: Redis) -> dict[str, dict[str, int]]:
    keys = [_key(queue, outcome) for queue in ALL_QUEUES for outcome in ("completed", "failed")]
    values = iter(int(value or 0) for value in redis.mget(keys))
    return {queue: {"completed": next(values), "failed": next(values)} for queue in ALL_QUEUES}
