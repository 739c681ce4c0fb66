"""Where the test suite's PostgreSQL and Redis come from."""

import psycopg
import pytest
import redis

from devstack import servers
from devstack.servers import test_servers


def test_environment_urls_are_used_when_both_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://ci@db:5432/gateway_test")
    monkeypatch.setenv("TEST_REDIS_URL", "redis://cache:6379/15")

    with test_servers() as urls:
        assert urls == ("postgresql://ci@db:5432/gateway_test", "redis://cache:6379/15")


@pytest.mark.slow
def test_embedded_servers_when_only_one_url_is_set_and_no_docker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://ci@db:5432/gateway_test")
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.setattr(servers, "_docker_answers", lambda: False)

    with test_servers() as (database_url, redis_url):
        assert database_url.startswith("postgresql://postgres@127.0.0.1:")
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        with redis.Redis.from_url(redis_url) as client:
            assert client.ping()

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database_url, connect_timeout=2)
