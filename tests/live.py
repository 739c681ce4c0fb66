"""Real service processes for tests: the API and workers as `make run` starts them."""

import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from devstack import processes
from devstack.services import local_services

LOG_DIR = Path(__file__).resolve().parent.parent / "test-artifacts" / "logs"

# Test mode, as every service of a test runs: instant and successful payments, webhooks to
# loopback allowed, the short retry schedule.
TEST_MODE_ENV = {
    "TEST_MODE": "true",
    "TEST_PROCESSING_DELAY": "0",
    "TEST_PAYMENT_SUCCESS": "true",
    "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
    "WEBHOOK_RETRY_INTERVALS_TEST": "true",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], url: str | None = None):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.url = url
        self.log_path = LOG_DIR / f"{name}-{time.time_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process: subprocess.Popen[bytes] = processes.spawn(argv, env=env, stdout=self._log)

    def wait_until_healthy(self, path: str = "/health", timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            try:
                # 503 is an answer too: /health says which dependency is down.
                httpx.get(f"{self.url}{path}", timeout=1)
                return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        processes.stop(self.process, signal.SIGKILL, 5.0, whole_group=True)

    def stop(self) -> None:
        processes.stop(self.process, signal.SIGTERM, 10.0, whole_group=True)
        self._log.close()


def api_argv(port: int) -> list[str]:
    """The API as `make run` starts it, on `port`."""
    return _make_run_argv("api", {"PORT": str(port)})


def worker_argv(module: str) -> list[str]:
    """A worker as `make run` starts it: payment_worker is the payment-worker service."""
    return _make_run_argv(module.replace("_", "-"), {})


def _make_run_argv(name: str, environ: dict[str, str]) -> list[str]:
    [service] = [s for s in local_services(environ) if s.name == name]
    return list(service.argv)
