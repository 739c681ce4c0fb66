"""How every worker service runs: wait for its dependencies, start the RQ cron scheduler that
enqueues the sweep tick, then work its queue with an RQ SimpleWorker.

SimpleWorker runs jobs in the worker process: a tick is a few database statements, cheaper
than the fork that RQ's default worker makes for every job.
"""

import ctypes
import functools
import multiprocessing
import signal
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
import structlog
from redis import Redis
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler

from shared.db import Database
from shared.jobstats import count_completed, count_failed
from shared.logging import bind_correlation_id, configure_logging
from shared.queues import JobQueues, redis_connection
from shared.settings import GatewaySettings, load_settings

log = structlog.get_logger(__name__)

SWEEP_INTERVAL_S = 1
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
                raise
            count_completed(redis, queue, done)
            return done

        return job

    return decorate


class GatewayWorker(SimpleWorker):
    """Binds the correlation id of the request that caused a job into every log line, and
    registers again after a Redis flush or restart so job status keeps seeing it."""

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is None and not self.connection.exists(self.key):
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


def _die_with_parent() -> None:
    # A SIGKILLed worker must not leave its cron scheduler enqueueing ticks for no one.
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _run_cron(
    redis_url: str, queue: str, tick: Callable[[], int], service: str, log_level: str
) -> None:
    _die_with_parent()
    configure_logging(f"{service}-cron", log_level)
    name = f"{service}-{socket.gethostname()}-{multiprocessing.current_process().pid}"
    cron = CronScheduler(connection=redis_connection(redis_url), name=name)
    cron.register(tick, queue_name=queue, interval=SWEEP_INTERVAL_S)
    cron.start()


def run_worker(service: str, queue: str, tick: Callable[[], int]) -> None:
    """Run a worker service: its queue's tick jobs, and the cron sweep that enqueues them."""
    settings = load_settings(GatewaySettings)
    configure_logging(service, settings.log_level)
    redis = redis_connection(settings.redis_url)
    wait_for_dependencies(settings, redis)
    cron = multiprocessing.get_context("fork").Process(
        target=_run_cron,
        args=(settings.redis_url, queue, tick, service, settings.log_level),
        name=f"{service}-cron",
        daemon=True,
    )
    cron.start()
    log.info("worker_starting", queue=queue, cron_pid=cron.pid)
    worker = GatewayWorker([Queue(queue, connection=redis)], connection=redis)
    try:
        worker.work(with_scheduler=False, logging_level=settings.log_level.upper())
    finally:
        cron.terminate()
