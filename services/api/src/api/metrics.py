"""Prometheus metrics of the API at /metrics: request latency by route and status, and, read
at scrape time, the work waiting and the workers alive on each queue.

With several API processes (uvicorn's WEB_CONCURRENCY > 1) each process writes its latency
histogram to a file of a folder they share (prometheus_client's multiprocess mode), so the
process that answers a scrape reports the requests of all of them.
"""

import os
import tempfile
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client import values as metric_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.routing import api_router

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


JobStatus = Callable[[], Awaitable[dict[str, Any]]]
# A gauge by queue of each figure of job status: (its name, its help text).
QUEUE_GAUGES = {
    "pending": ("gateway_queue_pending", "Work waiting in PostgreSQL, by queue"),
    "queued_jobs": ("gateway_queue_jobs_waiting", "RQ jobs waiting in Redis, by queue"),
    "processing": ("gateway_queue_jobs_running", "RQ jobs running now, by queue"),
    "workers": ("gateway_queue_workers", "Live workers, by queue"),
}


class QueueCollector(Collector):
    """The queue gauges of the last `refresh` (read just before each scrape is answered)."""

    def __init__(self, job_status: JobStatus):
        self.job_status = job_status
        self.queues: dict[str, dict[str, int]] | None = None

    async def refresh(self) -> None:
        try:
            self.queues = (await self.job_status())["queues"]
        except Exception:
            self.queues = None  # PostgreSQL or Redis away: /health says so; no stale figures

    def collect(self) -> Iterator[GaugeMetricFamily]:
        queues = self.queues
        if queues is None:
            return
        gauges = {
            field: GaugeMetricFamily(name, documentation, labels=["queue"])
            for field, (name, documentation) in QUEUE_GAUGES.items()
        }
        for name, counts in queues.items():
            for field, gauge in gauges.items():
                gauge.add_metric([name], counts[field])
        yield from gauges.values()


def shared_metrics_folder() -> Path | None:
    """The folder uvicorn's worker processes pool their metrics in, or None with one process.

    One folder per supervisor (its pid and start time), so a worker it restarts adds to what
    its siblings and its predecessor counted, and a restarted API starts from zero.
    """
    if int(os.environ.get("WEB_CONCURRENCY") or 1) <= 1:
        return None
    supervisor = os.getppid()
    try:
        with open(f"/proc/{supervisor}/stat") as stat:
            started = stat.read().rsplit(")", 1)[1].split()[19]  # starttime, proc(5) field 22
    except OSError:
        started = "0"
    folder = Path(tempfile.gettempdir()) / f"gateway-api-metrics-{supervisor}-{started}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


_multiprocess_folder: Path | None = None


def _write_values_to(folder: Path) -> None:
    """From now on, this process's metric values live in files of `folder` (once per process)."""
    global _multiprocess_folder
    if _multiprocess_folder is None:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
        metric_values.ValueClass = metric_values.MultiProcessValue()
        _multiprocess_folder = folder


class ApiMetrics:
    """One registry per app, so several apps in one process (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queues: QueueCollector | None = None
        folder = shared_metrics_folder()
        if folder is not None:
            _write_values_to(folder)
            MultiProcessCollector(self.registry, path=str(folder))
        self.request_seconds = Histogram(
            "gateway_http_request_duration_seconds",
            "API request latency by method, route template and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            # Shared: the files are read at scrape time, by the collector above.
            registry=self.registry if folder is None else None,
        )

    def observe(self, scope: MutableMapping[str, Any], status: int, seconds: float) -> None:
        # The route's template (/api/v1/payments/{payment_id}), never the raw path.
        route = getattr(scope.get("route"), "path", "unmatched")
        self.request_seconds.labels(scope["method"], route, str(status)).observe(seconds)

    def watch_queues(self, job_status: JobStatus) -> None:
        self.queues = QueueCollector(job_status)
        self.registry.register(self.queues)


router = api_router(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    app_metrics: ApiMetrics = request.app.state.metrics
    if app_metrics.queues is not None:
        await app_metrics.queues.refresh()
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
