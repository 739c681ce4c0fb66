"""The gateway's own processes, started as `make run` starts them, on free ports."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import psutil
import psycopg

from devstack import processes
from devstack.services import Service, local_services
from shared.backends.migrations import apply_migrations

LOG_DIR = Path("bench-results/logs")

# What a checkout starts, given the environment: `devstack.services.local_services` for this
# one, the other checkout's own list for a baseline (bench.baseline).
ServiceList = Callable[[Mapping[str, str]], list[Service]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reset_database(database_url: str, migrate: bool = True) -> None:
    """An empty database; migrated with the test merchant seeded unless `migrate` is False
    (a baseline's System migrates it with its own migrations)."""
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    admin = psycopg.conninfo.make_conninfo(database_url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    if migrate:
        apply_migrations(database_url)


def migrations_module(python: str) -> str:
    """The migrate program of the checkout whose interpreter is `python`:
    `shared.backends.migrations`, or `shared.migrations` in a checkout from before shared was
    split into rooms (a BASELINE such as b9029a1)."""
    probe = subprocess.run([python, "-c", "import shared.backends.migrations"], capture_output=True)
    return "shared.backends.migrations" if probe.returncode == 0 else "shared.migrations"


class System:
    def __init__(
        self,
        database_url: str,
        redis_url: str,
        *,
        log_dir: Path = LOG_DIR,
        services: ServiceList = local_services,
        **env: str,
    ):
        self.services = services
        self.api_port = free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PORT": str(self.api_port),
            "API_URL": f"http://127.0.0.1:{self.api_port}",
            "TEST_MODE": "true",
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            "LOG_LEVEL": "warning",
            **env,
        }
        self.api_url = self.env["API_URL"]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # How each process was started (its service and extra environment), for `respawn`.
        self._launches: dict[str, tuple[Service, dict[str, str]]] = {}
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        python = next(iter(s.argv for s in services(self.env) if s.name == "api"))[0]
        subprocess.run(
            [python, "-m", migrations_module(python)], env=self.env, check=True, capture_output=True
        )

    def start(self, name: str, copies: int = 1, **env: str) -> None:
        """Start `copies` more of a service, keyed `name`, `name-2`, ...; `env` is added to
        their environment."""
        [service] = [s for s in self.services(self.env) if s.name == name]
        for _ in range(copies):
            key, copy = name, 1
            while key in self.processes:
                copy += 1
                key = f"{name}-{copy}"
            self._launches[key] = (service, env)
            self._spawn(key, truncate_log=True)
        if name == "api":
            self._wait_for(f"{self.api_url}/health")

    def kill(self, key: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send `sig` to one process's whole group (SIGKILL: a crash) and reap it; `respawn`
        starts it again."""
        processes.stop(self.processes[key], sig, 10.0, whole_group=True)

    def respawn(self, key: str) -> None:
        """Start a process that was killed or died again, as it was first started."""
        self._spawn(key, truncate_log=False)
        if self._launches[key][0].name == "api":
            self._wait_for(f"{self.api_url}/health")

    def _spawn(self, key: str, truncate_log: bool) -> None:
        service, extra_env = self._launches[key]
        env = self.env | service.env | extra_env
        if "METRICS_PORT" in service.env:
            # Copies on one host need a port each, as compose's replicas have a container each.
            env["METRICS_PORT"] = str(free_port())
        if service.name != "api" and service.port is not None:
            # Web services listen on a free port too, so a `make run` beside us never collides.
            for variable, value in service.env.items():
                if value == str(service.port):
                    env[variable] = str(free_port())
        with (self.log_dir / f"{key}.log").open("wb" if truncate_log else "ab") as log:
            self.processes[key] = processes.spawn(
                service.argv, env=env, stdout=log, nice=service.nice
            )

    def log_lines(self) -> dict[str, int]:
        """Lines each process has written to its log so far (stdout and stderr)."""
        counts = {}
        for key in self.processes:
            with (self.log_dir / f"{key}.log").open("rb") as log:
                counts[key] = sum(
                    chunk.count(b"\n") for chunk in iter(lambda: log.read(1 << 20), b"")
                )
        return counts

    def stop(self, name: str) -> None:
        for key in [k for k in self.processes if self._launches[k][0].name == name]:
            processes.stop(self.processes.pop(key), signal.SIGTERM, 10.0, whole_group=True)
            del self._launches[key]

    def stop_all(self) -> None:
        for key in list(self.processes):
            processes.stop(self.processes.pop(key), signal.SIGTERM, 10.0, whole_group=True)
        self._launches.clear()

    def wait_for_workers(self, queue: str, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = httpx.get(f"{self.api_url}/api/v1/test/jobs/status").json()
            if status["queues"][queue]["workers"] >= count:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{count} {queue} worker(s) did not start")

    def resident_mb(self) -> dict[str, float]:
        """Proportional set size of each service and its children: shared pages are split
        between the processes that share them, so the sizes add up to what the machine holds."""
        sizes = {}
        for key, process in self.processes.items():
            try:
                parent = psutil.Process(process.pid)
                members = [parent, *parent.children(recursive=True)]
                sizes[key] = round(sum(p.memory_full_info().pss for p in members) / 2**20, 1)
            except psutil.NoSuchProcess:
                continue
        return sizes

    @staticmethod
    def _wait_for(url: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{url} did not answer")
