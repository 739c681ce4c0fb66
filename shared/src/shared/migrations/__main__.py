"""`python -m shared.migrations`: apply migrations and seed the test merchant, then exit."""

import psycopg
import structlog

from shared.logging import configure_logging
from shared.migrations import apply_migrations
from shared.seed import seed_test_merchant
from shared.settings import GatewaySettings, load_settings


def main() -> None:
    settings = load_settings(GatewaySettings)
    configure_logging("migrate", settings.log_level)
    applied = apply_migrations(settings.database_url)
    with psycopg.connect(settings.database_url) as conn:
        seed_test_merchant(conn, settings)
    structlog.get_logger().info("database_ready", applied=applied)


if __name__ == "__main__":
    main()
