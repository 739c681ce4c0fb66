"""`python -m dashboard` (or the `dashboard` script): serve on DASHBOARD_HOST:DASHBOARD_PORT."""

import uvicorn

from dashboard.config import DashboardSettings
from dashboard.main import create_app
from shared.settings import load_settings


def main() -> None:
    settings = load_settings(DashboardSettings)
    uvicorn.run(
        create_app(settings),
        host=settings.dashboard_host,
        port=settings.dashboard_port,
        access_log=False,  # the app logs each request with its correlation id
        log_config=None,  # shared.logging's format, set up by create_app
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
