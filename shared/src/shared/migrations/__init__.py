"""Numbered .sql migrations applied in order, each once, under an advisory lock.

A hand-written runner rather than yoyo-migrations: it is forty lines on psycopg 3, which we
already use, needs no second driver or configuration file, and the advisory lock makes several
processes starting at once safe (the first applies, the others wait and find nothing to do).
"""

from importlib import resources

import psycopg
import structlog

log = structlog.get_logger(__name__)

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


def apply_migrations(database_url: str) -> list[str]:
    """Apply every migration not applied yet; return the versions applied now."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute(CREATE_HISTORY)
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)  # type: ignore[arg-type]  # bundled files, not input
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("migration_applied", version=version)
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied_now
