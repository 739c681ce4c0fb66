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


def test_a_durable_redis_keeps_every_key_and_its_expiry_across_a_restart(tmp_path: Path) -> None:
    # make run's Redis started with --save "" --appendonly no: a restart emptied it, and every
    # dashboard user was logged out. make run's is durable now.
    server = start_redis(tmp_path, durable=True)
    port = server.url.rsplit(":", 1)[1].split("/")[0]
    with redis.Redis.from_url(server.url) as client:
        client.set("dashboard:session:abc", "merchant", ex=3600)
        client.set("gone-soon", "x", px=1)
        client.set("kept", "forever")
    server.stop()

    restarted = start_redis(tmp_path, port=int(port), durable=True)
    try:
        with redis.Redis.from_url(restarted.url) as client:
            assert client.get("dashboard:session:abc") == b"merchant"
            assert 3500 < client.ttl("dashboard:session:abc") <= 3600
            assert client.get("gone-soon") is None  # an expiry is kept, not reset
            assert client.get("kept") == b"forever" and client.ttl("kept") == -1
    finally:
        restarted.stop()
    assert (tmp_path / "redis" / "appendonly.aof").exists()


def test_a_scratch_redis_starts_empty(tmp_path: Path) -> None:
    # Tests, benchmarks and chaos runs want a Redis that a restart empties.
    with start_redis(tmp_path) as first, redis.Redis.from_url(first.url) as client:
        client.set("note", "x")
    with start_redis(tmp_path) as second, redis.Redis.from_url(second.url) as client:
        assert client.get("note") is None
