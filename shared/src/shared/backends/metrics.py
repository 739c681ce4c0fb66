"""Prometheus metrics of the workers: jobs by queue and outcome, items of work done, webhook
attempts by outcome. Each worker process serves them on METRICS_HOST:METRICS_PORT when the port
is set (loopback unless told otherwise), with `/livez` for a healthcheck beside `/metrics`."""

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import structlog
from prometheus_client import REGISTRY, Counter, make_wsgi_app

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

WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "gateway_webhook_endpoints_disabled",
    "Webhook endpoints disabled automatically, by reason: gone (it answered 410), failing "
    "(every delivery failed for WEBHOOK_ENDPOINT_DISABLE_AFTER)",
    ["reason"],
)


LIVEZ_PATH = "/livez"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # scraped and probed every few seconds: no line each


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def worker_loop_alive() -> bool:
    """The worker's loop runs in the main thread; it has ended once the worker is stopping."""
    return threading.main_thread().is_alive()


def metrics_app(alive: Callable[[], bool] = worker_loop_alive) -> Callable[..., Iterable[bytes]]:
    """WSGI app: `/livez` answers 200 `ok` while `alive()`, else 503; anything else is
    prometheus_client's exposition of the default registry (`/metrics`)."""
    exposition = make_wsgi_app(REGISTRY)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == LIVEZ_PATH:
            ok = alive()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8")],
            )
            return [b"ok\n" if ok else b"stopping\n"]
        return exposition(environ, start_response)

    return app


def serve_worker_metrics(
    port: int | None,
    host: str = "127.0.0.1",
    alive: Callable[[], bool] = worker_loop_alive,
) -> WSGIServer | None:
    """Serve `/metrics` and `/livez` on host:port in a daemon thread; nothing when port is
    unset. Loopback by default (docs/operations/observability.md#metrics): the metrics have no
    authentication; a container sets METRICS_HOST=0.0.0.0 so its network can scrape it. Returns the
    server (for tests)."""
    if not port:
        return None
    try:
        server = make_server(
            host, port, metrics_app(alive), _ThreadingServer, handler_class=_QuietHandler
        )
    except OSError as exc:
        # A second replica on one host: it works on, unscraped, rather than not at all.
        log.warning("metrics_port_unavailable", host=host, port=port, error=str(exc))
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
