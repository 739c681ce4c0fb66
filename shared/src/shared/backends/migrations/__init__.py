"""Numbered .sql migrations applied in order, each once, under an advisory lock.

A hand-written runner rather than yoyo-migrations: it is forty lines on psycopg 3, which we
already use, needs no second driver or configuration file, and the advisory lock makes several
processes starting at once safe (the first applies, the others wait and find nothing to do).
"""

import time
from importlib import resources
from typing import Any

import psycopg
import structlog
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import tuple_row

from shared.backends.db import connection_options

log = structlog.get_logger(__name__)

# How long `python -m shared.backends.migrations` waits for PostgreSQL to accept its first
# connection: a fresh volume's first start (initdb, then a restart) takes seconds; minutes means
# it is wrong.
CONNECT_WAIT_S = 60.0
CONNECT_RETRY_S = 1.0

# Any constant unique to this application; pg_advisory_lock is database-wide.
MIGRATION_LOCK_ID = 7_280_431_955

CREATE_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every bundled migration, in order."""
    files = [f for f in resources.files(__package__).iterdir() if f.name.endswith(".sql")]
    return [
        (f.name.removesuffix(".sql"), f.read_text()) for f in sorted(files, key=lambda f: f.name)
    ]


def wait_for_database(
    database_url: str, timeout_s: float = CONNECT_WAIT_S, retry_s: float = CONNECT_RETRY_S
) -> None:
    """Return once PostgreSQL at `database_url` accepts a connection and answers a query.

    Logs one `waiting_for_database` warning per failed attempt (host, port, database and the
    error; never the password); raises `psycopg.OperationalError` after `timeout_s` seconds.
    """
    target = conninfo_to_dict(database_url)
    where = {key: target.get(key) for key in ("host", "port", "dbname")}
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(database_url, **connection_options(database_url)) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.error("database_unreachable", **where, waited_s=timeout_s)
                raise
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            log.warning(
                "waiting_for_database", **where, error=reason, gives_up_in_s=round(remaining)
            )
            time.sleep(min(retry_s, remaining))


# Whether the migrations table exists yet, then what it holds (both asked by readiness probes).
MIGRATIONS_TABLE_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"
APPLIED_VERSIONS = "SELECT version FROM schema_migrations"


def missing_versions(applied: set[str]) -> list[str]:
    """Versions bundled with this code that are not in `applied`, in order."""
    return [version for version, _ in migration_files() if version not in applied]


async def pending_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Versions bundled with this code that the database has not applied, in order: empty once
    the schema is at the latest migration (what readiness waits for)."""
    cursor = conn.cursor(row_factory=tuple_row)
    row = await (await cursor.execute(MIGRATIONS_TABLE_EXISTS)).fetchone()
    if not (row and row[0]):
        return missing_versions(set())
    return missing_versions(
        {version for (version,) in await (await cursor.execute(APPLIED_VERSIONS)).fetchall()}
    )


def apply_migrations(database_url: str) -> list[str]:
    """Apply every migration not applied yet; return the versions applied now."""
    applied_now: list[str] = []
    options = connection_options(database_url)
    with psycopg.connect(database_url, autocommit=True, **options) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(CREATE_HISTORY)
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("migration_applied", version=version)
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied_now
