"""How the checkout site and the demo shop run under uvicorn: healthcheck polls are not logged,
and a graceful stop on SIGTERM exits 0."""

import logging
import signal
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

# Polled by healthchecks every few seconds: a log line each would drown the rest.
PROBE_PATHS = frozenset({"/health", "/livez", "/readyz"})


class _SkipProbes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's access record: (client, method, path with query, HTTP version, status).
        args = record.args if isinstance(record.args, tuple) else ()
        path = str(args[2]).split("?", 1)[0] if len(args) > 2 else ""
        return path not in PROBE_PATHS


def exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the SIGTERM it stopped on after a graceful shutdown (exit 143 under
    Docker); a graceful stop is a success: exit 0."""
    raise SystemExit(0)


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Serve `app` until SIGTERM or Ctrl-C."""
    logging.getLogger("uvicorn.access").addFilter(_SkipProbes())
    signal.signal(signal.SIGTERM, exit_cleanly)
    uvicorn.run(app, host=host, port=port, server_header=False)
