"""`python -m shared.backends.migrations`: apply migrations and seed the test merchant, then
exit.

`python -m shared.backends.migrations --check` applies nothing: it waits until the schema is at
the latest migration bundled with this code, then exits 0 (1 after `--timeout` seconds). An
orchestrator runs it before a service starts (a Kubernetes init container), so no replica
runs against a schema older than its code while the migration job is still working.
"""

import argparse
import time

import psycopg
import structlog

from shared.backends.db import connection_options
from shared.backends.migrations import (
    APPLIED_VERSIONS,
    MIGRATIONS_TABLE_EXISTS,
    apply_migrations,
    missing_versions,
    wait_for_database,
)
from shared.core.logging import configure_logging
from shared.core.settings import DatabaseSettings, load_settings
from shared.domain.seed import SeededMerchantSettings, seed_test_merchant


class MigrationSettings(DatabaseSettings, SeededMerchantSettings):
    """What `migrate` reads: DATABASE_URL, LOG_LEVEL and the seeded merchant's credentials."""


# How often `--check` looks at schema_migrations again while versions are missing.
CHECK_INTERVAL_S = 2.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shared.backends.migrations")
    parser.add_argument(
        "--check", action="store_true",
        help="apply nothing: wait until the schema is at the latest migration",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=float, default=600.0,
        help="with --check, seconds to wait before giving up with exit status 1 (default 600)",
    )  # fmt: skip
    return parser.parse_args(argv)


def applied_versions(database_url: str) -> set[str]:
    """The versions in schema_migrations; empty while the table does not exist."""
    with psycopg.connect(database_url, **connection_options(database_url)) as conn:
        row = conn.execute(MIGRATIONS_TABLE_EXISTS).fetchone()
        if not (row and row[0]):
            return set()
        return {version for (version,) in conn.execute(APPLIED_VERSIONS)}


def check(database_url: str, timeout_s: float, interval_s: float = CHECK_INTERVAL_S) -> bool:
    """Wait until every bundled migration is applied; False after `timeout_s` seconds. Logs
    what is missing (or why PostgreSQL did not answer) at most every 10 s."""
    log = structlog.get_logger()
    deadline = time.monotonic() + timeout_s
    said = 0.0
    while True:
        try:
            missing = missing_versions(applied_versions(database_url))
        except psycopg.OperationalError as exc:
            missing, reason = ["?"], str(exc).strip().splitlines()[-1:] or ["unreachable"]
        else:
            reason = []
        if not missing:
            log.info("schema_current")
            return True
        if time.monotonic() >= deadline:
            log.error("schema_not_current", missing=missing, error=reason, waited_s=timeout_s)
            return False
        if time.monotonic() - said >= 10:
            log.info("waiting_for_schema", missing=missing, error=reason)
            said = time.monotonic()
        time.sleep(interval_s)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = load_settings(MigrationSettings)
    configure_logging("migrate", settings.log_level)
    if args.check:
        raise SystemExit(0 if check(settings.database_url, args.timeout) else 1)
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
