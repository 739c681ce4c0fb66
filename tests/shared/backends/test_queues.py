"""Waking a queue: every tick job path imports, and at most one tick per queue waits in Redis."""

import importlib

import pytest
from rq import Queue, SimpleWorker

from shared.backends.queues import (
    ALL_QUEUES,
    PAYMENTS_QUEUE,
    TICK_JOBS,
    WEBHOOKS_QUEUE,
    JobQueues,
    queued_flag_key,
)
from shared.backends.worker import GatewayWorker


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
