import psycopg
import pytest

from shared.backends.migrations import apply_migrations, migration_files


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
    # Indexes only ever written (README.md#the-cost-of-a-paid-order): every read is served by
    # another one.
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
    from shared.domain.seed import SeededMerchantSettings, seed_test_merchant

    seed_test_merchant(db, SeededMerchantSettings())
    seed_test_merchant(db, SeededMerchantSettings())

    assert db.execute("SELECT count(*) AS n FROM merchants").fetchone()["n"] == 1


@pytest.fixture
def database_before_010(scratch_database):
    return scratch_database("_before_010", before="010")


def test_migration_010_moves_each_webhook_url_into_a_default_endpoint(database_before_010):
    from psycopg.rows import dict_row

    with psycopg.connect(database_before_010, autocommit=True, row_factory=dict_row) as conn:
        with_url, without = (
            row["id"]
            for row in conn.execute(
                "INSERT INTO merchants (name, email, api_key, api_secret, webhook_secret,"
                " webhook_url) VALUES"
                " ('Hooked', 'h@x.test', 'k1', 's1', 'whsec_one', 'http://shop.test/hook'),"
                " ('Quiet', 'q@x.test', 'k2', 's2', 'whsec_two', NULL) RETURNING id"
            ).fetchall()
        )
        conn.execute(
            "INSERT INTO events (id, merchant_id, type, body) VALUES"
            " ('11111111-1111-4111-8111-111111111111', %s, 'payment.success',"
            '  \'{"event":"payment.success","data":{"payment":{"id":"pay_A"}}}\')',
            (with_url,),
        )
        conn.execute(
            "INSERT INTO webhook_logs (id, event_id, merchant_id, event, payload, status,"
            " next_retry_at) VALUES"
            " ('11111111-1111-4111-8111-111111111111', '11111111-1111-4111-8111-111111111111',"
            "  %(m)s, 'payment.success',"
            '  \'{"event":"payment.success","data":{"payment":{"id":"pay_A"}}}\','
            "  'pending', now()),"
            " ('22222222-2222-4222-8222-222222222222', NULL, %(m)s, 'refund.created',"
            '  \'{"event":"refund.created","data":{"refund":{"id":"rfnd_B"}}}\','
            "  'success', NULL)",
            {"m": with_url},
        )
        conn.execute(
            "INSERT INTO webhook_secrets (merchant_id, secret, expires_at)"
            " VALUES (%s, 'whsec_old', now() + interval '1 hour')",
            (with_url,),
        )

    assert apply_migrations(database_before_010)[0] == "010_webhook_endpoints"

    with psycopg.connect(database_before_010, row_factory=dict_row) as conn:
        [endpoint] = conn.execute("SELECT * FROM webhook_endpoints").fetchall()
        assert (endpoint["merchant_id"], endpoint["url"], endpoint["is_default"]) == (
            with_url, "http://shop.test/hook", True,
        )  # fmt: skip
        assert endpoint["events"] == ["*"] and endpoint["status"] == "enabled"
        assert endpoint["secret"] is None  # the merchant's webhook_secret signs for it
        assert endpoint["id"].startswith("we_") and len(endpoint["id"]) == 19
        logs = conn.execute(
            "SELECT id::text, event_id::text, endpoint_id, object_id, status FROM webhook_logs"
            " ORDER BY id"
        ).fetchall()
        assert [(log["event_id"], log["endpoint_id"], log["object_id"]) for log in logs] == [
            ("11111111-1111-4111-8111-111111111111", endpoint["id"], "pay_A"),
            # A log from before events were stored was sent with its own id as webhook-id.
            ("22222222-2222-4222-8222-222222222222", endpoint["id"], "rfnd_B"),
        ]
        assert logs[0]["status"] == "pending"
        event = conn.execute("SELECT object_id FROM events").fetchone()
        assert event["object_id"] == "pay_A"
        secret = conn.execute("SELECT endpoint_id FROM webhook_secrets").fetchone()
        assert secret["endpoint_id"] is None  # still the merchant's own, in its overlap
        columns = {
            row["column_name"]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'merchants'"
            )
        }
        assert "webhook_url" not in columns and without is not None


def test_at_most_one_default_endpoint_and_twenty_in_all_are_held_by_the_database(db):
    merchant = db.execute("SELECT id FROM merchants WHERE is_test").fetchone()["id"]
    db.execute("SELECT set_default_webhook_url(%s, 'http://127.0.0.1:9/a')", (merchant,))
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(
            "INSERT INTO webhook_endpoints (merchant_id, url, is_default) VALUES (%s, 'http://x/', true)",
            (merchant,),
        )
    for n in range(19):
        db.execute(
            "INSERT INTO webhook_endpoints (merchant_id, url, secret) VALUES (%s, %s, 'whsec_x')",
            (merchant, f"http://127.0.0.1:9/{n}"),
        )
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        db.execute(
            "INSERT INTO webhook_endpoints (merchant_id, url, secret) VALUES (%s, 'http://y/', 'w')",
            (merchant,),
        )
    assert refused.value.diag.constraint_name == "webhook_endpoints_at_most_20"


def test_check_waits_for_the_schema_and_applies_nothing(empty_database):
    """`python -m shared.backends.migrations --check` (what a Kubernetes init container runs before a
    service starts) exits 1 while migrations are missing, 0 once the job applied them all,
    and never applies one itself."""
    import subprocess
    import sys

    def run_check() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shared.backends.migrations", "--check", "--timeout", "1"],
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
    from shared.backends.migrations.__main__ import check

    apply_migrations(empty_database)
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(
            "DELETE FROM schema_migrations WHERE version = %s", (migration_files()[-1][0],)
        )

    assert check(empty_database, timeout_s=0.3, interval_s=0.1) is False
    apply_migrations(empty_database)
    assert check(empty_database, timeout_s=0.3, interval_s=0.1) is True
