"""How every worker service runs: wait for its dependencies, start the sweep (a thread that
wakes the queue when work falls due) and the housekeeping thread (the purges), then work the
queue with an RQ SimpleWorker until SIGTERM.

SimpleWorker runs jobs in the worker process: a tick is a few database statements, cheaper
than the fork that RQ's default worker makes for every job.

On SIGTERM the running tick returns after its current batch (everything it claimed is then
committed), the worker's `on_stop` finishes or releases what is still in flight, and the
process exits 0.
"""

import contextlib
import functools
import logging
import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from types import FrameType
from typing import Any, TypeVar

import psycopg
import structlog
from pydantic import Field
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker

from shared.backends import due
from shared.backends.db import Database
from shared.backends.due import HORIZON_S, DueListener, work_until_idle
from shared.backends.housekeeping import HousekeepingSettings, gateway_purges, run_purges
from shared.backends.jobstats import count_completed, count_failed
from shared.backends.metrics import JOBS, WORK_ITEMS, serve_worker_metrics
from shared.backends.queues import QUEUED_FLAG_META, JobQueues, redis_connection
from shared.core.heap import freeze_startup_heap
from shared.core.logging import configure_logging, redact_url
from shared.core.settings import BackendSettings, load_settings

log = structlog.get_logger(__name__)

SWEEP_INTERVAL_S = 1
# An idle worker wakes from Redis every WORKER_TTL_S - 15 s to beat its heartbeat (RQ), so it
# registers again soon after a Redis flush, and a killed one leaves job status within
# WORKER_TTL_S + 60 s (RQ's default, 420 s, kept dead workers listed for minutes).
WORKER_TTL_S = 20
DEPENDENCY_RETRY_S = 1.0
# A worker waiting for a dependency says which, this often: as info while a start is normal
# (make run starts the workers beside an API that needs seconds to answer), as a warning once
# it has waited DEPENDENCY_LATE_S.
DEPENDENCY_REPORT_S = 5.0
DEPENDENCY_LATE_S = 20.0
# The purges run about this often, on whichever worker's sweep takes the flag first.
HOUSEKEEPING_INTERVAL_S = 60
HOUSEKEEPING_FLAG = "gateway:housekeeping"

# Set by SIGTERM: ticks return between batches, the sweep stops.
STOPPING = threading.Event()
# Cleared while a tick runs in this process: its own listener hears the queue's channel then,
# and the sweep looks again as soon as it ends.
NO_TICK_RUNNING = threading.Event()
NO_TICK_RUNNING.set()


class WorkerSettings(BackendSettings, HousekeepingSettings):
    """What every worker reads; a worker with variables of its own subclasses it in its package
    (payment_worker.config, webhook_dispatcher.config)."""

    # Where the worker serves its Prometheus metrics and /livez; unset, it serves none.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"


W = TypeVar("W", bound=WorkerSettings)


@dataclass
class WorkerRuntime:
    """What jobs need from their process: one pool and one Redis connection, made once."""

    settings: WorkerSettings
    db: Database
    redis: Redis
    queues: JobQueues
    _listeners: dict[str, DueListener] = field(default_factory=dict)
    _service_settings: dict[type[WorkerSettings], WorkerSettings] = field(default_factory=dict)

    def service_settings(self, settings_class: type[W]) -> W:
        """The worker service's own settings (`settings_class`, read once per runtime);
        run_worker has checked them at start."""
        if settings_class not in self._service_settings:
            self._service_settings[settings_class] = load_settings(settings_class)
        settings = self._service_settings[settings_class]
        assert isinstance(settings, settings_class)
        return settings

    def listener(self, queue: str) -> DueListener:
        """The process's LISTEN connection for `queue`'s newly due work (one more connection)."""
        if queue not in self._listeners:
            self._listeners[queue] = DueListener(self.settings.database_url, queue)
        return self._listeners[queue]

    def close(self) -> None:
        for listener in self._listeners.values():
            listener.close()
        self.db.close()


@cache
def runtime() -> WorkerRuntime:
    settings = load_settings(WorkerSettings)
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


def due_reader(queue: str) -> Callable[[], float | None]:
    """Seconds until `queue`'s next due work (shared.backends.due.seconds_until_next_due), read on a
    connection of the process's pool."""

    def next_due() -> float | None:
        with runtime().db.connection() as conn:
            return due.seconds_until_next_due(conn, queue)

    return next_due


def run_until_idle(
    queue: str,
    finalize_due: Callable[[], int],
    seconds_until_next_due: Callable[[], float | None],
    full_batch: int | None = None,
) -> int:
    """Work off `queue`'s due work (shared.backends.due.work_until_idle, with the queue's
    batch window and `full_batch`), woken by its NOTIFY channel."""
    listener = runtime().listener(queue)
    listener.discard_pending()
    NO_TICK_RUNNING.clear()
    try:
        return work_until_idle(
            finalize_due, seconds_until_next_due, listener.wait, STOPPING,
            due.BATCH_WINDOW_S[queue], full_batch,
        )  # fmt: skip
    finally:
        NO_TICK_RUNNING.set()


def run_tick(
    queue: str, finalize_due_batch: Callable[[WorkerRuntime], int], batch_size: int
) -> int:
    """A tick of a queue whose work has due times in PostgreSQL (see shared.backends.due);
    `finalize_due_batch` finalises at most `batch_size` items and returns how many."""
    current = runtime()
    return run_until_idle(
        queue, lambda: finalize_due_batch(current), due_reader(queue), full_batch=batch_size
    )


class GatewayWorker(SimpleWorker):
    """Clears its queue's "queued tick" flag as it starts a tick (see JobQueues.wake), stops
    ticks between batches on SIGTERM, and registers again after a Redis flush or restart so
    job status keeps seeing it.

    A tick serves work of many requests: each item's log lines carry that item's correlation
    id, so no request's id is bound for the whole job."""

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        STOPPING.set()
        super().request_stop(signum, frame)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        # RQ's own writes (state, job counts) re-create our key after a flush or restart before
        # this runs; only register_birth writes the birth date.
        if pipeline is None and not self.connection.hexists(self.key, "birth"):
            self.connection.delete(self.key)
            self.register_birth()
        super().heartbeat(timeout, pipeline)

    def execute_job(self, job: Any, queue: Queue) -> None:
        flag = (job.meta or {}).get(QUEUED_FLAG_META)
        if flag:
            self.connection.delete(flag)
        structlog.contextvars.clear_contextvars()
        super().execute_job(job, queue)


def _answers(ask: Callable[[], object]) -> bool:
    """Whether a dependency answers `ask()` with something true, rather than an error."""
    try:
        return bool(ask())
    except Exception:
        return False


def _api_ready(api_url: str) -> bool:
    # Readiness, not /health: it waits for the schema to be migrated too
    # (docs/operations/running.md#probes).
    with urllib.request.urlopen(f"{api_url}/readyz", timeout=2) as response:  # noqa: S310
        return response.status == 200


def _database_ready(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() is not None


def wait_for_dependencies(settings: WorkerSettings, redis: Redis) -> None:
    """Block until PostgreSQL, Redis and the API all answer (docs/operations/running.md); meanwhile
    say, every DEPENDENCY_REPORT_S, which of them (by URL) is still awaited: at INFO, and at WARNING
    once the wait has lasted DEPENDENCY_LATE_S."""
    started = time.monotonic()
    reported_at: float | None = None
    while True:
        missing = [
            (name, url)
            for name, url, ask in (
                ("postgresql", settings.database_url, lambda: _database_ready(settings.database_url)),
                ("redis", settings.redis_url, redis.ping),
                ("api", settings.api_url, lambda: _api_ready(settings.api_url)),
            )
            if not _answers(ask)
        ]  # fmt: skip
        if not missing:
            if reported_at is not None:
                log.info("dependencies_ready")
            return
        now = time.monotonic()
        if reported_at is None or now - reported_at >= DEPENDENCY_REPORT_S:
            reported_at = now
            late = now - started >= DEPENDENCY_LATE_S
            say = log.warning if late else log.info
            for name, url in missing:
                say("waiting_for_dependency", dependency=name, url=redact_url(url))
        if STOPPING.wait(DEPENDENCY_RETRY_S):
            return


def _sweep(current: WorkerRuntime, queue: str, next_due: Callable[[], float | None]) -> None:
    """Wake the queue when work falls due: at once when it commits (the queue's NOTIFY, heard
    on a LISTEN connection of the sweep's own while no tick of this process runs), and after
    each second anyway, so work whose tick was lost (crash, Redis flush or outage) or that lies
    further ahead is picked up in time. Idle, that is one indexed read and one Redis SET NX a
    second: no job runs and nothing is logged. Nothing else wakes a queue: what the API and the
    other workers commit announces itself (migration 007), with no Redis round trip of theirs.
    """
    listener = DueListener(current.settings.database_url, queue)
    failing = False
    tick_seen = False  # near work was left to a running tick: look again as soon as it ends
    while not STOPPING.is_set():
        try:
            if NO_TICK_RUNNING.is_set() and not tick_seen:
                listener.wait(SWEEP_INTERVAL_S, unheard_s=SWEEP_INTERVAL_S)
            else:
                # The tick hears the channel itself; what it left when it ended is read below.
                NO_TICK_RUNNING.wait(SWEEP_INTERVAL_S)
                listener.discard_pending()
            if STOPPING.is_set():
                break
            wait_s = next_due()
            near = wait_s is not None and wait_s <= HORIZON_S
            tick_seen = near and not NO_TICK_RUNNING.is_set()
            if near and not tick_seen:
                current.queues.wake(queue)
            if failing:
                log.info("sweep_recovered", queue=queue)
            failing = False
        except Exception as exc:
            # Redis or PostgreSQL away: said once, tried again every second.
            if not failing:
                log.warning("sweep_failed", queue=queue, error=str(exc))
            failing = True
            STOPPING.wait(SWEEP_INTERVAL_S)
    listener.close()


def _housekeeping(current: WorkerRuntime) -> None:
    """About once a minute, on one worker of all (a Redis flag picks it), the housekeeping
    purges. A thread of its own: a purge may run for seconds, and the sweep must not wait."""
    failing = False
    while not STOPPING.wait(SWEEP_INTERVAL_S):
        try:
            if current.redis.set(HOUSEKEEPING_FLAG, 1, nx=True, ex=HOUSEKEEPING_INTERVAL_S):
                run_purges(current.db, gateway_purges(current.settings))
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("housekeeping_failed", error=str(exc))
            failing = True


def _rq_logging_level(level: str) -> str:
    """RQ logs every job at INFO ("Job OK", "result is kept for …"): 5 lines a second for an
    idle worker. Our ticks log what they do, so RQ says only warnings unless debugging."""
    return "DEBUG" if level.upper() == "DEBUG" else "WARNING"


def run_worker(
    service: str,
    queue: str,
    tick: Callable[[], int],
    next_due: Callable[[], float | None],
    on_stop: Callable[[], None] | None = None,
    settings_class: type[WorkerSettings] = WorkerSettings,
) -> None:
    """Run a worker service: its queue's tick jobs and the sweep, which wakes the queue when
    `next_due()` (seconds until the next due item, None for none) says work is near; on
    SIGTERM, stop after the current batch, run `on_stop` (finish or release what is still in
    flight) and return, so the process exits 0. `settings_class` is the service's settings,
    checked before anything starts (a bad variable stops the process with exit code 2)."""
    settings = load_settings(settings_class)
    configure_logging(service, settings.log_level)
    rq_level = _rq_logging_level(settings.log_level)
    logging.getLogger("rq").setLevel(rq_level)
    redis = redis_connection(settings.redis_url)
    # Until RQ installs its own handlers: a SIGTERM while waiting is a clean stop too.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda signum, frame: STOPPING.set())
    wait_for_dependencies(settings, redis)
    if STOPPING.is_set():
        log.info("worker_stopped", queue=queue)
        return
    serve_worker_metrics(settings.metrics_port, settings.metrics_host)
    current = runtime()
    threading.Thread(
        target=_sweep, args=(current, queue, next_due), name="sweep", daemon=True
    ).start()
    threading.Thread(
        target=_housekeeping, args=(current,), name="housekeeping", daemon=True
    ).start()
    freeze_startup_heap()
    log.info("worker_started", queue=queue, host=socket.gethostname(), pid=os.getpid())
    while True:
        worker = GatewayWorker(
            [Queue(queue, connection=redis)], connection=redis, worker_ttl=WORKER_TTL_S
        )
        # Its teardown raises when it cannot reach Redis either.
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
            worker.work(with_scheduler=False, logging_level=rq_level)
        if STOPPING.is_set():
            break
        # RQ quits on a Redis error met outside its dequeue loop (the bookkeeping of a tick that
        # ended while Redis was down, a heartbeat): work on once Redis is back, as a restarted
        # process would; the sweep re-enqueues whatever the error lost.
        log.warning("worker_loop_ended_working_again", queue=queue)
        time.sleep(DEPENDENCY_RETRY_S)
        wait_for_dependencies(settings, redis)
    if on_stop is not None:
        on_stop()
    current.close()
    log.info("worker_stopped", queue=queue)
