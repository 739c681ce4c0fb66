"""Housekeeping purges: expired idempotency keys go in bounded batches, fresh ones stay."""

import pytest

from shared.db import Database
from shared.housekeeping import IDEMPOTENCY_KEYS, run_purges


@pytest.fixture
def database(database_url, db):
    database = Database(database_url, min_size=1, max_size=2)
    database.open()
    yield database
    database.close()


def add_keys(db, prefix: str, count: int, expires: str) -> None:
    db.execute(
        f"""
        INSERT INTO idempotency_keys (merchant_id, key, request_method, request_path,
                                      request_hash, expires_at)
        SELECT id, %s || n, 'POST', '/api/v1/orders', 'h', now() + interval '{expires}'
        FROM merchants, generate_series(1, %s) AS n WHERE is_test
        """,
        (prefix, count),
    )


def test_expired_keys_go_and_fresh_ones_stay(database, db):
    add_keys(db, "old-", 25, "-1 second")
    add_keys(db, "fresh-", 5, "1 hour")

    assert run_purges(database, [IDEMPOTENCY_KEYS], batch=10) == 25

    keys = {row["key"] for row in db.execute("SELECT key FROM idempotency_keys")}
    assert keys == {f"fresh-{n}" for n in range(1, 6)}


def test_one_statement_deletes_at_most_a_batch(database, db):
    add_keys(db, "old-", 25, "-1 second")
    purge = IDEMPOTENCY_KEYS

    with database.connection() as conn:
        assert conn.execute(purge.statement, {"batch": 10}).rowcount == 10
