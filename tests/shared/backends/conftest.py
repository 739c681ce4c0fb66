from collections.abc import Iterator

import pytest
from redis import Redis

from devstack.embedded import start_redis


@pytest.fixture
def private_redis(tmp_path) -> Iterator[Redis]:
    """A Redis server of the test's own (`.url` on the client), so that no other test run's
    workers, sharing a database number on the common server, take this test's ticks."""
    server = start_redis(tmp_path)
    client = Redis.from_url(server.url)
    client.url = server.url
    try:
        yield client
    finally:
        client.close()
        server.stop()
