"""The PostgreSQL and Redis the test suite talks to, from the first source that is available.

1. `TEST_DATABASE_URL` and `TEST_REDIS_URL`, when both are set (CI uses the machine's servers);
2. PostgreSQL 16 and Redis 7 containers, when a Docker engine answers;
3. embedded servers in a temporary folder.
"""

import importlib.util
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from devstack.embedded import start_postgres, start_redis

ServerUrls = tuple[str, str]

POSTGRES_IMAGE = "postgres:16-alpine"
REDIS_IMAGE = "redis:7-alpine"


@contextmanager
def test_servers() -> Iterator[ServerUrls]:
    """Yield `(database_url, redis_url)`; servers this started are stopped on exit."""
    with ExitStack() as stack:
        yield _from_environment() or _from_containers(stack) or _from_embedded(stack)


# Not a test, although the name starts with test_ when imported into a test module.
test_servers.__test__ = False  # type: ignore[attr-defined]


def _from_environment() -> ServerUrls | None:
    database_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    return (database_url, redis_url) if database_url and redis_url else None


def _from_containers(stack: ExitStack) -> ServerUrls | None:
    if not _docker_answers():
        return None
    # Imported here: testcontainers is optional (devstack[containers]) and needs Docker.
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.community.redis import RedisContainer

    postgres = stack.enter_context(PostgresContainer(POSTGRES_IMAGE, driver=None))
    redis = stack.enter_context(RedisContainer(REDIS_IMAGE))
    redis_url = f"redis://{redis.get_container_host_ip()}:{redis.get_exposed_port(6379)}/0"
    return postgres.get_connection_url(), redis_url


def _docker_answers() -> bool:
    if importlib.util.find_spec("testcontainers") is None:
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no docker package, no socket, engine down: all mean "no Docker"
        return False


def _from_embedded(stack: ExitStack) -> ServerUrls:
    data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="devstack-")))
    postgres = stack.enter_context(start_postgres(data_dir))
    redis = stack.enter_context(start_redis(data_dir))
    return postgres.url, redis.url
