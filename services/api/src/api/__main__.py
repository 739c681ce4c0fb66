"""`python -m api --host HOST --port PORT`: the API under uvicorn, as `make run` and the image
start it. They default to the HOST and PORT variables (127.0.0.1, 8000); WEB_CONCURRENCY API
processes (default 1) share the port."""

import argparse
import os
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from api.config import ApiSettings
from api.main import create_app
from shared.core.heap import freeze_startup_heap
from shared.core.logging import configure_logging
from shared.core.settings import load_settings


def exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the SIGTERM it stopped on once it has shut down gracefully, so the
    process would die of it (exit 143 under Docker); a graceful stop is a success: exit 0."""
    raise SystemExit(0)


def served_app(settings: ApiSettings | None = None) -> FastAPI:
    """The app one API process serves (uvicorn's factory when WEB_CONCURRENCY > 1): `create_app`
    with its start-up heap frozen (shared.core.heap: no full collection walks it again)."""
    app = create_app(settings)
    freeze_startup_heap()
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", help="address to listen on (default: $HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8000)")
    args = parser.parse_args(argv)
    settings = load_settings(ApiSettings)
    # The supervising process of several workers logs too: in the same format.
    configure_logging("api", settings.log_level)
    signal.signal(signal.SIGTERM, exit_cleanly)
    workers = int(os.environ.get("WEB_CONCURRENCY") or 1)
    uvicorn.run(
        # Several processes need the app by import path: each builds its own.
        "api.__main__:served_app" if workers > 1 else served_app(settings),
        factory=workers > 1,
        workers=workers,
        host=args.host or settings.host,
        port=args.port or settings.port,
        # The API logs each request itself, with its correlation id; probes excepted.
        access_log=False,
        log_config=None,  # shared.core.logging's format, set up by create_app (and below)
        # Client addresses come from the socket; X-Forwarded-For counts only from the proxies
        # that TRUSTED_PROXIES names (the API's rate limits read it themselves).
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
