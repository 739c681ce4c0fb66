"""Test harness: a real PostgreSQL and Redis (TEST_DATABASE_URL/TEST_REDIS_URL, else
testcontainers, else the embedded servers of `make run`). The test database is dropped,
created and migrated once per session, and emptied before every test; so is the Redis db."""

import os
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from redis import Redis

from api.config import ApiSettings
from api.main import create_app
from devstack.servers import test_servers
from shared.migrations import apply_migrations
from shared.seed import SeededMerchantSettings, seed_test_merchant

TEST_MERCHANT_HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}

# Tables emptied between tests; schema_migrations stays.
DATA_TABLES = (
    "webhook_attempts", "webhook_logs", "idempotency_keys", "refunds", "payments", "orders",
    "merchants",
)  # fmt: skip


def _recreate_database(url: str) -> None:
    """Start every session from an empty test database, as a fresh clone would."""
    name = psycopg.conninfo.conninfo_to_dict(url).get("dbname", "postgres")
    if name == "postgres":
        raise RuntimeError("TEST_DATABASE_URL must name a database of its own, not postgres")
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def empty_database(database_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of its own, with no schema, for the test module asking; dropped after."""
    name = "gateway_empty_" + request.module.__name__.rpartition(".")[2]
    url = psycopg.conninfo.make_conninfo(database_url, dbname=name)
    _recreate_database(url)
    yield url
    _drop_database(url)


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    with test_servers() as (database_url, redis_url):
        _recreate_database(database_url)
        apply_migrations(database_url)
        yield database_url, redis_url


@pytest.fixture(scope="session")
def database_url(server_urls: tuple[str, str]) -> str:
    return server_urls[0]


@pytest.fixture(scope="session")
def redis_url(server_urls: tuple[str, str]) -> str:
    return server_urls[1]


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> ApiSettings:
    return ApiSettings(
        database_url=database_url,
        redis_url=redis_url,
        test_mode=True,
        test_processing_delay=0,
        webhook_allow_private_networks=True,
        log_level="warning",
    )


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """A clean database with the test merchant seeded, and a connection for assertions."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in DATA_TABLES)
            )
        )
        seed_test_merchant(conn, SeededMerchantSettings())
        conn.row_factory = psycopg.rows.dict_row
        yield conn


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    connection = Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.close()


@pytest.fixture
def client(settings: ApiSettings, db: psycopg.Connection, redis: Redis) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def service_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment every live service process gets, in test mode."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TEST_MODE": "true",
        "TEST_PROCESSING_DELAY": "0",
        "TEST_PAYMENT_SUCCESS": "true",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_INTERVALS_TEST": "true",
        "LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_service(service_env, db, redis):
    """Start a service process (api, payment_worker, ...); all are stopped after the test."""
    from live import LiveProcess, api_argv, free_port, worker_argv

    started: list[LiveProcess] = []

    def start(name: str, **env: str) -> LiveProcess:
        environment = service_env | env
        if name == "api":
            port = free_port()
            service = LiveProcess(name, api_argv(port), environment, f"http://127.0.0.1:{port}")
            started.append(service)
            service.wait_until_healthy()
            return service
        service = LiveProcess(name, worker_argv(name), environment)
        started.append(service)
        return service

    yield start
    for service in reversed(started):
        service.stop()


@pytest.fixture
def live_stack(start_service):
    """A running API with a payment worker and a refund worker; yields the API's URL."""
    api = start_service("api")
    for worker in ("payment_worker", "refund_worker"):
        start_service(worker, API_URL=api.url)
    return api.url


def _live_gateway(database_url: str, redis_url: str, **env: str):
    """A session-long API and payment worker on their own database: yields the API's URL."""
    from live import LiveProcess, api_argv, free_port, worker_argv

    _recreate_database(database_url)
    apply_migrations(database_url)
    # Empty like the database: rate-limit windows of an earlier session (sign-ups per address,
    # one hour) would otherwise still count against this one.
    with Redis.from_url(redis_url) as redis:
        redis.flushdb()
    base = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "TEST_MODE": "true", "TEST_PROCESSING_DELAY": "300",
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "PYTHONUNBUFFERED": "1", **env}  # fmt: skip
    with psycopg.connect(database_url) as conn:
        seed_test_merchant(conn, SeededMerchantSettings())
    port = free_port()
    api = LiveProcess("session-api", api_argv(port), base, f"http://127.0.0.1:{port}")
    worker = LiveProcess("session-payment-worker", worker_argv("payment_worker"),
                         base | {"API_URL": api.url})  # fmt: skip
    try:
        api.wait_until_healthy()
        yield api.url
    finally:
        worker.stop()
        api.stop()


def _sibling(url: str, database_suffix: str | None = None, redis_db_offset: int = 0) -> str:
    if database_suffix is not None:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        return psycopg.conninfo.make_conninfo(url, dbname=f"{name}_{database_suffix}")
    base, _, db_number = url.rpartition("/")
    return f"{base}/{(int(db_number or 0) + redis_db_offset) % 16}"


@pytest.fixture(scope="session")
def api_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """A running API with its payment worker (payments succeed after 300 ms), over HTTP."""
    database_url, redis_url = server_urls
    yield from _live_gateway(
        _sibling(database_url, "live"), _sibling(redis_url, redis_db_offset=-2)
    )


@pytest.fixture(scope="session")
def failing_api_url(server_urls: tuple[str, str]) -> Iterator[str]:
    """Like api_url, but every payment fails (TEST_PAYMENT_SUCCESS=false)."""
    database_url, redis_url = server_urls
    yield from _live_gateway(
        _sibling(database_url, "failing"),
        _sibling(redis_url, redis_db_offset=-3),
        TEST_PAYMENT_SUCCESS="false",
    )


@pytest.fixture
def test_order(api_url: str) -> dict:
    """A fresh order of the seeded test merchant on the live API."""
    import httpx

    response = httpx.post(
        f"{api_url}/api/v1/orders", json={"amount": 50000}, headers=TEST_MERCHANT_HEADERS
    )
    assert response.status_code == 201, response.text
    return response.json()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


@pytest.fixture
def test_failed(request):
    """test_failed() in a fixture's teardown: whether the test body failed (for screenshots)."""

    def failed() -> bool:
        report = request.node.stash.get(_CALL_REPORT, None)
        return report is not None and report.failed

    return failed


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright: one per session, shared by every browser test."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not os.path.exists(executable):
        pytest.skip(f"no Chromium at {executable} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def merchant_headers() -> dict[str, str]:
    return dict(TEST_MERCHANT_HEADERS)


def pytest_report_header() -> str:
    source = "env" if os.environ.get("TEST_DATABASE_URL") else "testcontainers or embedded"
    return f"gateway test servers: {source}"


@pytest.fixture
def worker_env(monkeypatch, database_url: str, redis_url: str, db, redis):
    """Environment for calling worker jobs in this process, as a worker process would."""
    from shared.worker import runtime

    for name, value in {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TEST_MODE": "true",
        "TEST_PROCESSING_DELAY": "0",
        "TEST_PAYMENT_SUCCESS": "true",
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        "WEBHOOK_RETRY_INTERVALS_TEST": "true",
        "LOG_LEVEL": "warning",
    }.items():
        monkeypatch.setenv(name, value)
    runtime.cache_clear()
    yield monkeypatch
    runtime().close()
    runtime.cache_clear()


@pytest.fixture
def webhook_url(db) -> str:
    """Give the test merchant a webhook URL so events are logged (nothing listens there)."""
    url = "http://127.0.0.1:9/webhook"
    db.execute("UPDATE merchants SET webhook_url = %s WHERE is_test", (url,))
    return url


class RunningReceiver:
    def __init__(self, receiver, server, thread, url: str):
        self.receiver, self.server, self.thread, self.url = receiver, server, thread, url

    @property
    def events(self) -> list[dict]:
        return list(self.receiver.events)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def start_receiver():
    """Start the test merchant receiver (devstack.receiver) in a thread on a free port."""
    import threading
    import time

    import uvicorn

    from devstack.receiver import Receiver
    from live import free_port

    running: list[RunningReceiver] = []

    def start(secrets=("whsec_test_abc123",), fail_first: int = 0, **options) -> RunningReceiver:
        receiver = Receiver(secrets=list(secrets), fail_first=fail_first, quiet=True, **options)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(receiver, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        running.append(
            RunningReceiver(receiver, server, thread, f"http://127.0.0.1:{port}/webhook")
        )
        return running[-1]

    yield start
    for receiver in running:
        receiver.stop()


@pytest.fixture
def receiver(start_receiver, db):
    """A receiver the test merchant's webhook URL points at."""
    running = start_receiver()
    db.execute("UPDATE merchants SET webhook_url = %s WHERE is_test", (running.url,))
    return running
