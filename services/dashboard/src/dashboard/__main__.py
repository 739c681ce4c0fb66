"""`python -m dashboard` (or the `dashboard` script): serve on HOST:PORT (127.0.0.1:3000;
DASHBOARD_HOST and DASHBOARD_PORT win when set)."""

import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from dashboard.config import DashboardSettings
from dashboard.main import create_app
from shared.core.heap import freeze_startup_heap
from shared.core.settings import load_settings


def exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the SIGTERM it stopped on after a graceful shutdown (exit 143 under
    Docker); a graceful stop is a success: exit 0."""
    raise SystemExit(0)


def served_app(settings: DashboardSettings | None = None) -> FastAPI:
    """The app the process serves: `create_app` with its start-up heap frozen
    (shared.core.heap: no full collection walks it again)."""
    app = create_app(settings)
    freeze_startup_heap()
    return app


def main() -> None:
    settings = load_settings(DashboardSettings)
    signal.signal(signal.SIGTERM, exit_cleanly)
    uvicorn.run(
        served_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,  # the app logs each request with its correlation id
        log_config=None,  # shared.core.logging's format, set up by create_app
        # X-Forwarded-For and -Proto (a visitor's address, https) only from the reverse proxies
        # TRUSTED_PROXIES names; unset, from the socket: a visitor's own headers never count.
        proxy_headers=bool(settings.trusted_proxy_networks),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )


if __name__ == "__main__":
    main()
