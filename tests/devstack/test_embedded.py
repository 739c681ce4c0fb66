"""Embedded PostgreSQL and Redis: start in a folder, serve real clients, stop, keep data."""

from pathlib import Path

import psycopg
import pytest
import redis

from devstack.embedded import start_postgres, start_redis

pytestmark = pytest.mark.slow


def test_postgres_serves_the_gateway_database_until_stopped(tmp_path: Path) -> None:
    server = start_postgres(tmp_path)
    try:
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("payment_gateway",)
    finally:
        server.stop()
    server.stop()  # idempotent, as atexit may call it again

    assert server.process.returncode == 0
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)


def test_postgres_keeps_its_data_between_starts(tmp_path: Path) -> None:
    with start_postgres(tmp_path) as first, psycopg.connect(first.url) as conn:
        conn.execute("CREATE TABLE kept (note text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")

    with start_postgres(tmp_path) as second, psycopg.connect(second.url) as conn:
        assert conn.execute("SELECT note FROM kept").fetchall() == [("still here",)]


def test_redis_serves_until_stopped(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    try:
        with redis.Redis.from_url(server.url) as client:
            client.set("greeting", "namaste")
            assert client.get("greeting") == b"namaste"
    finally:
        server.stop()

    assert server.process.returncode == 0
    with (
        pytest.raises(redis.ConnectionError),
        redis.Redis.from_url(server.url, socket_connect_timeout=2) as client,
    ):
        client.ping()
