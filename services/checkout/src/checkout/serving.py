"""How the checkout site and the demo shop run under uvicorn: uvicorn's own lines in the
gateway's log format (shared.core.logging), no access log of its own (the apps log each request,
probes excepted), and a graceful stop on SIGTERM exits 0."""

import signal
from types import FrameType

import uvicorn
from starlette.types import ASGIApp


def exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the SIGTERM it stopped on after a graceful shutdown (exit 143 under
    Docker); a graceful stop is a success: exit 0."""
    raise SystemExit(0)


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Serve `app` until SIGTERM or Ctrl-C."""
    signal.signal(signal.SIGTERM, exit_cleanly)
    uvicorn.run(
        app,
        host=host,
        port=port,
        server_header=False,
        access_log=False,  # the app logs each request itself, with a correlation id
        log_config=None,  # shared.core.logging's format, set up by the app
    )
