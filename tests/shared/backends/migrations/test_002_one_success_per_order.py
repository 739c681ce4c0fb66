"""Migration 002: the unique index that holds an order to one successful payment, and what it
does with a database that an older version left with orders paid twice."""

import psycopg
import pytest

from shared.backends.migrations import apply_migrations

MERCHANT = "550e8400-e29b-41d4-a716-446655440000"


@pytest.fixture
def old_database(scratch_database):
    """A database of its own, migrated without 002, with the test merchant."""
    url = scratch_database("_m002")
    apply_migrations(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP INDEX payments_one_success_per_order")
        conn.execute("DELETE FROM schema_migrations WHERE version LIKE '002%'")
        conn.execute(
            "INSERT INTO merchants (id, name, email, api_key, api_secret, webhook_secret)"
            " VALUES (%s, 'M', 'm@example.com', 'k', 's', 'w')",
            (MERCHANT,),
        )
        conn.execute(
            "INSERT INTO orders (id, merchant_id, amount, status)"
            " VALUES ('order_AAAAAAAAAAAAAAAA', %s, 50000, 'paid')",
            (MERCHANT,),
        )
        for suffix in "AB":
            conn.execute(
                "INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, vpa,"
                " status) VALUES (%s, 'order_AAAAAAAAAAAAAAAA', %s, 50000, 'INR', 'upi', 'a@b',"
                " 'success')",
                (f"pay_{suffix * 16}", MERCHANT),
            )
    return url


def test_migration_stops_on_orders_paid_twice_and_names_them(old_database):
    with pytest.raises(psycopg.errors.RaiseException, match="order_AAAAAAAAAAAAAAAA"):
        apply_migrations(old_database)

    with psycopg.connect(old_database, autocommit=True) as conn:
        # Resolved by a person as the hint says; then the migration goes through.
        conn.execute(
            "UPDATE payments SET status = 'failed', error_code = 'ORDER_ALREADY_PAID',"
            " error_description = 'Order already paid' WHERE id = 'pay_BBBBBBBBBBBBBBBB'"
        )
    assert [v for v in apply_migrations(old_database) if v.startswith("002")]
    with psycopg.connect(old_database) as conn:
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes")}
    assert "payments_one_success_per_order" in indexes
