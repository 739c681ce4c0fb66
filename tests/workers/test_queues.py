"""Waking a queue: every tick job path imports, and at most one tick per queue waits in Redis."""

import importlib

import pytest
from rq import Queue, SimpleWorker

from shared.queues import (
    ALL_QUEUES,
    PAYMENTS_QUEUE,
    TICK_JOBS,
    WEBHOOKS_QUEUE,
    JobQueues,
    queued_flag_key,
)
from shared.worker import GatewayWorker


@pytest.mark.parametrize("queue", ALL_QUEUES)
def test_every_tick_job_path_imports(queue):
    module, _, function = TICK_JOBS[queue].rpartition(".")

    assert callable(getattr(importlib.import_module(module), function))


def test_waking_many_times_queues_one_tick(private_redis):
    redis = private_redis
    queues = JobQueues(redis)

    woken = [queues.wake(PAYMENTS_QUEUE) for _ in range(50)]

    assert woken.count([PAYMENTS_QUEUE]) == 1
    assert redis.llen(f"rq:queue:{PAYMENTS_QUEUE}") == 1


def test_one_wake_of_several_queues_queues_a_tick_of_each_not_yet_waiting(private_redis):
    redis = private_redis
    queues = JobQueues(redis)
    queues.wake(PAYMENTS_QUEUE)

    assert queues.wake(PAYMENTS_QUEUE, WEBHOOKS_QUEUE) == [WEBHOOKS_QUEUE]
    assert redis.llen(f"rq:queue:{PAYMENTS_QUEUE}") == 1
    assert redis.llen(f"rq:queue:{WEBHOOKS_QUEUE}") == 1


def test_a_started_tick_lets_the_next_wake_queue_another(private_redis, monkeypatch):
    redis = private_redis
    queues = JobQueues(redis)
    queues.wake(PAYMENTS_QUEUE)
    started = []
    # The tick itself is not under test here: record that it ran and what the flag was then.
    monkeypatch.setattr(
        SimpleWorker, "perform_job", lambda self, job, queue, *execution: started.append(
            redis.exists(queued_flag_key(PAYMENTS_QUEUE))) or True
    )  # fmt: skip

    GatewayWorker([Queue(PAYMENTS_QUEUE, connection=redis)], connection=redis).work(burst=True)

    assert started == [0], "the flag is cleared as the tick starts"
    assert queues.wake(PAYMENTS_QUEUE) == [PAYMENTS_QUEUE]


def test_a_tick_keeps_no_result(private_redis, worker_env):
    redis = private_redis
    JobQueues(redis).wake(PAYMENTS_QUEUE)

    GatewayWorker([Queue(PAYMENTS_QUEUE, connection=redis)], connection=redis).work(burst=True)

    assert [key for key in redis.keys("rq:*") if key.startswith((b"rq:job:", b"rq:results:"))] == []


def test_a_redis_that_hangs_holds_an_api_wake_up_half_a_second_then_none(private_redis):
    """The API awaits its wake-ups before answering: a Redis that accepts and never answers
    costs a request WAKE_TIMEOUT_S, and for the next second none at all (the sweep wakes)."""
    import socket
    import time

    from redis.asyncio import Redis as AsyncRedis

    from factories import run_coroutine
    from shared.queues import WAKE_TIMEOUT_S

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are accepted by the kernel, and never answered

    async def wake_twice() -> tuple[float, float, list[str]]:
        hung = AsyncRedis.from_url(f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
                                   socket_timeout=5)  # fmt: skip
        queues = JobQueues(private_redis, hung)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await queues.wake_async(PAYMENTS_QUEUE)
        first = time.monotonic() - started
        started = time.monotonic()
        woken = await queues.wake_async(PAYMENTS_QUEUE)
        return first, time.monotonic() - started, woken

    try:
        first, second, woken = run_coroutine(wake_twice())
    finally:
        silent.close()
    assert first < WAKE_TIMEOUT_S + 0.5
    assert second < 0.05 and woken == []
