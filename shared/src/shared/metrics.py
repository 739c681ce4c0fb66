"""Prometheus metrics of the workers: jobs by queue and outcome, items of work done, webhook
attempts by outcome. Each worker process serves them on METRICS_PORT when it is set."""

import structlog
from prometheus_client import Counter, start_http_server

log = structlog.get_logger(__name__)

JOBS = Counter(
    "gateway_jobs", "Worker jobs (ticks) run, by queue and outcome", ["queue", "outcome"]
)
WORK_ITEMS = Counter(
    "gateway_work_items",
    "Payments finalised, refunds processed and webhook attempts made, by queue",
    ["queue"],
)
WEBHOOK_ATTEMPTS = Counter(
    "gateway_webhook_attempts",
    "Webhook delivery attempts by outcome: success, http_error, timeout, connection, blocked",
    ["outcome"],
)


def serve_worker_metrics(port: int | None) -> None:
    if not port:
        return
    try:
        start_http_server(port, addr="0.0.0.0")  # noqa: S104  # scraped from outside the container
    except OSError as exc:
        # A second replica on one host: it works on, unscraped, rather than not at all.
        log.warning("metrics_port_unavailable", port=port, error=str(exc))
