"""How every worker service runs: wait for its dependencies, start RQ's cron scheduler (in a
thread) that enqueues the sweep tick every second, then work its queue with an RQ SimpleWorker.

SimpleWorker runs jobs in the worker process: a tick is a few database statements, cheaper
than the fork that RQ's default worker makes for every job.
"""

import contextlib
import functools
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import FrameType
from typing import Any

import psycopg
import structlog
from psycopg import Connection
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from shared.db import Database
from shared.due import work_until_idle
from shared.events import purge_expired_events
from shared.jobstats import count_completed, count_failed
from shared.logging import bind_correlation_id, configure_logging
from shared.metrics import JOBS, WORK_ITEMS, serve_worker_metrics
from shared.queues import JobQueues, redis_connection
from shared.settings import GatewaySettings, load_settings

log = structlog.get_logger(__name__)

SWEEP_INTERVAL_S = 1
EVENT_PURGE_INTERVAL_S = 3600
DEPENDENCY_RETRY_S = 1.0


@dataclass
class WorkerRuntime:
    """What jobs need from their process: one pool and one Redis connection, made once."""

    settings: GatewaySettings
    db: Database
    redis: Redis
    queues: JobQueues


@cache
def runtime() -> WorkerRuntime:
    settings = load_settings(GatewaySettings)
    db = Database(settings.database_url, min_size=1, max_size=4, name="worker")
    db.open()
    redis = redis_connection(settings.redis_url)
    return WorkerRuntime(settings=settings, db=db, redis=redis, queues=JobQueues(redis))


def counted(queue: str) -> Callable[[Callable[[], int]], Callable[[], int]]:
    """A tick job that counts the items it finalised as completed, itself as failed if it raises."""

    def decorate(tick: Callable[[], int]) -> Callable[[], int]:
        @functools.wraps(tick)
        def job() -> int:
            redis = runtime().redis
            try:
                done = tick()
            except Exception:
                count_failed(redis, queue)
                JOBS.labels(queue, "failed").inc()
                raise
            count_completed(redis, queue, done)
            JOBS.labels(queue, "completed").inc()
            WORK_ITEMS.labels(queue).inc(done)
            return done

        return job

    return decorate


def purge_expired_events_job() -> int:
    """Hourly housekeeping: drop events past EVENT_RETENTION_DAYS, in bounded batches."""
    current = runtime()
    with current.db.connection() as conn:
        return purge_expired_events(conn, current.settings.event_retention_days)


def run_tick(
    queue: str,
    finalize_due_batch: Callable[[WorkerRuntime], int],
    seconds_until_next_due: Callable[[Connection], float | None],
) -> int:
    """A tick of a queue whose work has due times in PostgreSQL (see shared.due)."""
    current = runtime()

    def next_due() -> float | None:
        with current.db.connection() as conn:
            return seconds_until_next_due(conn)

    return work_until_idle(current.redis, queue, lambda: finalize_due_batch(current), next_due)


class GatewayWorker(SimpleWorker):
    """Binds the correlation id of the request that caused a job into every log line, and
    registers again after a Redis flush or restart so job status keeps seeing it."""

    shutdown_requested = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.shutdown_requested = True
        super().request_stop(signum, frame)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # RQ's own writes (state, job counts) re-create our key after a flush or restart before
        # this runs; only register_birth writes the birth date.
        if pipeline is None and not self.connection.hexists(self.key, "birth"):
            self.connection.delete(self.key)
            self.register_birth()
        super().heartbeat(timeout, pipeline)

    def execute_job(self, job: Any, queue: Queue) -> None:
        correlation_id = (job.meta or {}).get("correlation_id")
        if correlation_id:
            bind_correlation_id(correlation_id)
        try:
            super().execute_job(job, queue)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")


def _api_healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except Exception:
        return False


def _database_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def _redis_answers(redis: Redis) -> bool:
    try:
        return bool(redis.ping())
    except Exception:
        return False


def wait_for_dependencies(settings: GatewaySettings, redis: Redis) -> None:
    """Block until PostgreSQL, Redis and the API all answer (CONTRACT §1)."""
    while True:
        missing = [
            name
            for name, answers in (
                ("postgresql", lambda: _database_answers(settings.database_url)),
                ("redis", lambda: _redis_answers(redis)),
                ("api", lambda: _api_healthy(settings.api_url)),
            )
            if not answers()
        ]
        if not missing:
            return
        log.info("waiting_for_dependencies", missing=missing)
        time.sleep(DEPENDENCY_RETRY_S)


class SweepScheduler(CronScheduler):
    """RQ's cron scheduler, run in a thread of the worker: the worker's main thread owns the
    signals, and the scheduler lives and dies with its worker."""

    def _install_signal_handlers(self) -> None:
        pass


def _run_sweep(redis_url: str, queue: str, tick: Callable[[], int], name: str) -> None:
    while True:
        try:
            cron = SweepScheduler(connection=redis_connection(redis_url), name=name)
            cron.register(tick, queue_name=queue, interval=SWEEP_INTERVAL_S)
            cron.register(
                purge_expired_events_job, queue_name=queue, interval=EVENT_PURGE_INTERVAL_S
            )
            cron.start()
        except Exception:
            # Redis away: the sweep must outlive it, or nothing would recover lost ticks.
            log.exception("sweep_scheduler_failed")
            time.sleep(DEPENDENCY_RETRY_S)


def run_worker(service: str, queue: str, tick: Callable[[], int]) -> None:
    """Run a worker service: its queue's tick jobs, and the cron sweep that enqueues them."""
    settings = load_settings(GatewaySettings)
    configure_logging(service, settings.log_level)
    redis = redis_connection(settings.redis_url)
    wait_for_dependencies(settings, redis)
    serve_worker_metrics(settings.metrics_port)
    name = f"{service}-{socket.gethostname()}-{os.getpid()}"
    sweep = threading.Thread(
        target=_run_sweep, args=(settings.redis_url, queue, tick, name), name="sweep", daemon=True
    )
    sweep.start()
    log.info("worker_starting", queue=queue)
    while True:
        worker = GatewayWorker([Queue(queue, connection=redis)], connection=redis)
        # Its teardown raises when it cannot reach Redis either.
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
            worker.work(with_scheduler=False, logging_level=settings.log_level.upper())
        if worker.shutdown_requested:
            return
        # RQ quits on a Redis error met outside its dequeue loop (the bookkeeping of a tick that
        # ended while Redis was down, a heartbeat): work on once Redis is back, as a restarted
        # process would; the sweep re-enqueues whatever the error lost.
        log.warning("worker_loop_ended_working_again", queue=queue)
        time.sleep(DEPENDENCY_RETRY_S)
        wait_for_dependencies(settings, redis)
