"""Connections that notice a vanished peer, a server that ends stuck transactions, and a
migration that waits for a database still starting
(docs/operations/running.md#processes-and-ports)."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from factories import run_coroutine
from shared.backends.db import Database, connection_options
from shared.backends.migrations import migration_files, pending_migrations, wait_for_database


class DelayedForwarder:
    """A TCP port that refuses connections until `open()`, then forwards them to `target`:
    PostgreSQL as a client sees it while its server is still starting."""

    def __init__(self, target: tuple[str, int]):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.target = target
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def open(self, after: float = 0.0) -> None:
        self._after = after
        self._thread.start()

    def _run(self) -> None:
        if self._stop.wait(self._after):
            return
        with socket.create_server(("127.0.0.1", self.port)) as server:
            server.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)


def _tcp_target(database_url: str) -> tuple[str, int]:
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    host = str(info.get("host") or "")
    if not host or host.startswith("/"):
        pytest.skip("the test PostgreSQL listens on a Unix socket: nothing to forward over TCP")
    return host, int(info.get("port") or 5432)


def _through(database_url: str, port: int) -> str:
    return psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=port)


@pytest.fixture
def forwarder(database_url: str) -> Iterator[DelayedForwarder]:
    proxy = DelayedForwarder(_tcp_target(database_url))
    yield proxy
    proxy.close()


def test_pool_connections_carry_keepalives_and_an_idle_in_transaction_timeout(database_url):
    database = Database(database_url, min_size=1, max_size=1, name="keepalive-test")
    database.open()
    try:
        with database.connection() as conn:
            client = conn.info.get_parameters()
            server = conn.execute("SHOW idle_in_transaction_session_timeout").fetchone()
    finally:
        database.close()

    assert client["keepalives"] == "1"
    assert int(client["keepalives_idle"]) <= 60
    assert int(client["keepalives_count"]) * int(client["keepalives_interval"]) <= 60
    assert server == {"idle_in_transaction_session_timeout": "1min"}


def test_a_stuck_transaction_is_ended_by_the_server(database_url):
    # The timeout as the pool sets it, shortened so the test does not wait a minute.
    options = connection_options(database_url) | {
        "options": "-c idle_in_transaction_session_timeout=300"
    }
    with psycopg.connect(database_url, **options) as conn:
        conn.execute("SELECT 1")  # opens the transaction (not autocommit)
        time.sleep(1.0)
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            conn.execute("SELECT 1")


def test_what_the_url_sets_wins_and_its_options_are_kept():
    url = "postgresql://u@db/x?keepalives_idle=7&options=-c%20statement_timeout%3D5000"

    options = connection_options(url)

    assert "keepalives_idle" not in options
    assert options["keepalives"] == 1
    assert options["options"] == (
        "-c statement_timeout=5000 -c idle_in_transaction_session_timeout=60000"
    )


def test_wait_for_database_waits_until_postgres_answers(database_url, forwarder):
    started = time.monotonic()
    forwarder.open(after=2.0)

    wait_for_database(_through(database_url, forwarder.port), timeout_s=30, retry_s=0.2)

    assert 2.0 <= time.monotonic() - started < 30  # its log line: test_migrate_retries_...


def test_wait_for_database_gives_up_after_its_bound(database_url):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    started = time.monotonic()

    with pytest.raises(psycopg.OperationalError):
        wait_for_database(_through(database_url, closed_port), timeout_s=1.0, retry_s=0.2)

    assert time.monotonic() - started < 10


def test_migrate_retries_its_first_connection(database_url, forwarder):
    """`migrate` started while PostgreSQL is not yet answering (compose)
    waits and then migrates, instead of failing at its first attempt."""
    env = {**os.environ, "DATABASE_URL": _through(database_url, forwarder.port)}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # not used by migrate

    migrate = subprocess.Popen(
        [sys.executable, "-m", "shared.backends.migrations"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert migrate.stdout is not None
        before = ""
        while "waiting_for_database" not in before and (line := migrate.stdout.readline()):
            before += line
        forwarder.open()  # PostgreSQL answers only once migrate has found it absent
        output = before + migrate.stdout.read()
        returncode = migrate.wait(timeout=60)
    finally:
        migrate.kill()

    assert returncode == 0, output
    assert "waiting_for_database" in before
    assert "database_ready" in output


def test_pending_migrations(database_url, empty_database):
    every_version = [version for version, _ in migration_files()]

    async def pending(url: str) -> list[str]:
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await pending_migrations(conn)

    assert run_coroutine(pending(empty_database)) == every_version
    assert run_coroutine(pending(database_url)) == []
