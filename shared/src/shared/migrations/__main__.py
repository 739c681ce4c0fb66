"""`python -m shared.migrations`: apply migrations and seed the test merchant, then exit."""

import psycopg
import structlog

from shared.db import connection_options
from shared.logging import configure_logging
from shared.migrations import apply_migrations, wait_for_database
from shared.seed import SeededMerchantSettings, seed_test_merchant
from shared.settings import DatabaseSettings, load_settings


class MigrationSettings(DatabaseSettings, SeededMerchantSettings):
    """What `migrate` reads: DATABASE_URL, LOG_LEVEL and the seeded merchant's credentials."""


def main() -> None:
    settings = load_settings(MigrationSettings)
    configure_logging("migrate", settings.log_level)
    # Compose starts this as soon as PostgreSQL's healthcheck passes; other orchestrators may not.
    try:
        wait_for_database(settings.database_url)
    except psycopg.OperationalError:
        raise SystemExit(1) from None
    applied = apply_migrations(settings.database_url)
    with psycopg.connect(
        settings.database_url, **connection_options(settings.database_url)
    ) as conn:
        seed_test_merchant(conn, settings)
    structlog.get_logger().info("database_ready", applied=applied)


if __name__ == "__main__":
    main()
