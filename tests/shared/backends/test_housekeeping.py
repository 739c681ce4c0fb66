"""Housekeeping purges: expired idempotency keys go in bounded batches, fresh ones stay."""

import pytest

from shared.backends.db import Database
from shared.backends.housekeeping import IDEMPOTENCY_KEYS, run_purges


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


def add_logs(db, count: int, status: str, age: str) -> None:
    db.execute(
        f"""
        INSERT INTO webhook_logs (merchant_id, event, payload, status, attempts, next_retry_at,
                                  created_at, updated_at)
        SELECT id, 'payment.success', '{{}}', %(status)s, 1,
               CASE WHEN %(status)s = 'pending' THEN now() END,
               now() - interval '{age}', now() - interval '{age}'
        FROM merchants, generate_series(1, %(count)s) WHERE is_test
        """,
        {"status": status, "count": count},
    )
    db.execute(
        """
        INSERT INTO webhook_attempts (webhook_log_id, attempt_number, scheduled_attempt,
                                      attempted_at, duration_ms, response_code)
        SELECT l.id, 1, 1, l.created_at, 5, 200 FROM webhook_logs l
        WHERE NOT EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.webhook_log_id = l.id)
        """
    )


def test_old_webhook_logs_go_with_their_attempts_but_never_a_pending_one(database, db):
    from shared.backends.housekeeping import expired_webhook_logs

    add_logs(db, 12, "success", "31 days")
    add_logs(db, 3, "failed", "31 days")
    add_logs(db, 2, "pending", "31 days")  # still being delivered: kept however old
    add_logs(db, 4, "success", "29 days")

    assert run_purges(database, [expired_webhook_logs(30)], batch=5) == 15

    kept = db.execute("SELECT status, count(*) AS n FROM webhook_logs GROUP BY status").fetchall()
    assert {row["status"]: row["n"] for row in kept} == {"pending": 2, "success": 4}
    assert db.execute("SELECT count(*) AS n FROM webhook_attempts").fetchone()["n"] == 6


def test_a_log_touched_recently_stays(database, db):
    from shared.backends.housekeeping import expired_webhook_logs

    add_logs(db, 1, "success", "40 days")
    db.execute("UPDATE webhook_logs SET updated_at = now()")  # retried by hand yesterday

    assert run_purges(database, [expired_webhook_logs(30)]) == 0


def test_the_sweep_purges_webhook_logs_past_the_configured_retention(monkeypatch):
    from shared.backends.housekeeping import HousekeepingSettings, gateway_purges
    from shared.core.settings import load_settings

    monkeypatch.setenv("WEBHOOK_LOG_RETENTION_DAYS", "7")
    purges = gateway_purges(load_settings(HousekeepingSettings))

    [logs] = [purge for purge in purges if purge.table == "webhook_logs"]
    assert logs.params == {"days": 7}
