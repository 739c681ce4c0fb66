"""Databases of a migration test's own: empty, or migrated only up to a version, to see what a
later migration does with data an older version left."""

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from shared.backends.migrations import migration_files


@pytest.fixture
def scratch_database(database_url: str) -> Iterator[Callable[..., str]]:
    """`scratch_database(suffix, before=None)` -> the URL of a new database named after the
    session's test database plus `suffix` (so parallel sessions never share it), with the
    migrations older than `before` applied and recorded (none when `before` is None). Every
    database made is dropped after the test."""
    admin = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    made: list[sql.Composable] = []

    def make(suffix: str, before: str | None = None) -> str:
        name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"] + suffix
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(drop)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(drop)
        url = psycopg.conninfo.make_conninfo(database_url, dbname=name)
        if before is not None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "CREATE TABLE schema_migrations (version text PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                for version, script in migration_files():
                    if version >= before:
                        break
                    conn.execute(script)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        return url

    yield make
    with psycopg.connect(admin, autocommit=True) as conn:
        for drop in made:
            conn.execute(drop)
