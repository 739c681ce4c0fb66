"""Migration 002: the unique index that holds an order to one successful payment, and what it
does with a database that an older version left with orders paid twice."""

import psycopg
import pytest
from psycopg import sql

from shared.backends.migrations import apply_migrations

MERCHANT = "550e8400-e29b-41d4-a716-446655440000"


@pytest.fixture
def old_database(database_url):
    """A database of its own, migrated without 002, with the test merchant."""
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"] + "_m002"
    admin = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(database_url, dbname=name)
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
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(drop)


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
