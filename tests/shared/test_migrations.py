import psycopg
import pytest

from shared.migrations import apply_migrations, migration_files


def test_migrations_apply_once_to_an_empty_database(empty_database):
    first = apply_migrations(empty_database)
    second = apply_migrations(empty_database)

    assert first == [version for version, _ in migration_files()]
    assert second == []
    with psycopg.connect(empty_database) as conn:
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes")}
    assert {
        "idx_orders_merchant_id", "idx_payments_order_id", "idx_payments_status",
        "idx_refunds_payment_id", "idx_webhook_logs_merchant_id",
        "idx_webhook_logs_due",
    } <= indexes  # fmt: skip
    # Indexes only ever written (issue 13): every read is served by another one.
    assert not {"idx_webhook_logs_status", "idx_webhook_attempts_log_id"} & indexes


def test_concurrent_migrators_apply_each_migration_once(empty_database):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(apply_migrations, [empty_database] * 4))

    assert sorted(len(applied) for applied in results) == [0, 0, 0, len(migration_files())]


def test_amount_checks_hold_in_the_database(db):
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO orders (id, merchant_id, amount) VALUES "
            "('order_AAAAAAAAAAAAAAAA', '550e8400-e29b-41d4-a716-446655440000', 99)"
        )


def test_seed_is_idempotent(db):
    from shared.seed import SeededMerchantSettings, seed_test_merchant

    seed_test_merchant(db, SeededMerchantSettings())
    seed_test_merchant(db, SeededMerchantSettings())

    assert db.execute("SELECT count(*) AS n FROM merchants").fetchone()["n"] == 1


def test_check_waits_for_the_schema_and_applies_nothing(empty_database):
    """`python -m shared.migrations --check` (what a Kubernetes init container runs before a
    service starts) exits 1 while migrations are missing, 0 once the job applied them all,
    and never applies one itself."""
    import subprocess
    import sys

    def run_check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shared.migrations", "--check", "--timeout", "1"],
            env={"DATABASE_URL": empty_database, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    missing = run_check()
    assert missing.returncode == 1, missing.stderr + missing.stdout
    assert "schema_not_current" in missing.stdout + missing.stderr
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,)

    apply_migrations(empty_database)
    current = run_check()
    assert current.returncode == 0, current.stderr + current.stdout


def test_check_waits_while_a_migration_is_missing(empty_database):
    from shared.migrations.__main__ import check

    apply_migrations(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM schema_migrations WHERE version = %s", (migration_files()[-1][0],)
        )

    assert check(empty_database, timeout_s=0.3, interval_s=0.1) is False
    apply_migrations(empty_database)
    assert check(empty_database, timeout_s=0.3, interval_s=0.1) is True
