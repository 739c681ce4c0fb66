"""docker-compose.yml run for real: one project on a Docker engine, under a fresh name, with
free host ports, a webhook receiver on its network and images tagged for this run only."""

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .deployfiles import COMPOSE_FILE, REPO_ROOT

RECEIVER_SOURCE = REPO_ROOT / "deploy" / "devstack" / "src" / "devstack" / "receiver.py"
DELIVERIES = "/tmp/deliveries.jsonl"  # inside the receiver's container
# Built by compose (a service with `build:`); migrate and checkout-demo run two of them.
BUILT_SERVICES = ("api", "payment-worker", "refund-worker", "webhook-dispatcher", "checkout",
                  "dashboard")  # fmt: skip
NAMED_CONTAINERS = ("postgres", "redis", "api", "checkout", "dashboard")
PUBLISHED = {"api": "API_HOST_PORT", "checkout": "CHECKOUT_HOST_PORT",
             "dashboard": "DASHBOARD_HOST_PORT", "checkout-demo": "DEMO_HOST_PORT"}  # fmt: skip


def engine_problem() -> str | None:
    """Why no Docker engine can run compose here, or None when one answers."""
    if shutil.which("docker") is None:
        return "no `docker` client on PATH"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True, text=True, timeout=20, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 20 s"
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return (
            f"no Docker engine answers ({last}); on a machine with ../shared/tools/docker-engine, "
            "`../shared/tools/docker-engine up` starts one (.ci/run does)"
        )
    version = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=20, check=False
    )
    if version.returncode != 0:
        return "`docker compose` (Compose v2) is not installed beside the engine"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SLOW_INIT_MARKER = "gateway-test: slow first start"


def override_file(directory: Path) -> Path:
    """What the test adds: no fixed container names (another run or a developer's stack may
    hold them on this engine), a first start of PostgreSQL whose temporary init server lives
    8 s (as on a slow disk: when a socket-only healthcheck passed too early) and the webhook
    receiver, run from the API's image."""
    slow_init = directory / "slow-init.sh"
    slow_init.write_text(f'echo "{SLOW_INIT_MARKER}"\nsleep 8\n')
    slow_init.chmod(0o644)
    services: dict[str, list[str]] = {
        name: ["container_name: !reset null"] for name in NAMED_CONTAINERS
    }
    services["postgres"] += [
        "volumes:",
        f"  - {slow_init}:/docker-entrypoint-initdb.d/slow-init.sh:ro",
    ]
    services["receiver"] = [
        "image: payment-gateway/api:${TAG:-latest}",
        "pull_policy: never",
        "init: true",
        f'command: ["python", "/opt/receiver.py", "--host", "0.0.0.0", "--port", "4000", '
        f'"--record", "{DELIVERIES}", "--quiet"]',
        "volumes:",
        f"  - {RECEIVER_SOURCE}:/opt/receiver.py:ro",
    ]
    lines = ["services:"]
    for name, body in services.items():
        lines += [f"  {name}:", *(f"    {line}" for line in body)]
    path = directory / "compose.test.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class ComposeStack:
    directory: Path
    project: str = field(default_factory=lambda: f"gwtest-{uuid.uuid4().hex[:8]}")
    timings: dict[str, float] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ports = {service: free_port() for service in PUBLISHED}
        self.override = override_file(self.directory)
        # Nothing of the caller's compose settings leaks in; the stack's own knobs are set.
        environ = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        self.env = environ | {
            "TAG": self.project,
            "TEST_MODE": "true",
            "TEST_PROCESSING_DELAY": "300",
            "TEST_PAYMENT_SUCCESS": "true",
            "WEBHOOK_RETRY_INTERVALS_TEST": "true",
            "PUBLISH_ADDRESS": "127.0.0.1",
            **{PUBLISHED[service]: str(port) for service, port in self.ports.items()},
        }
        self.api_url = f"http://127.0.0.1:{self.ports['api']}"

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> str:
        argv = ["docker", "compose", "--project-name", self.project,
                "--file", str(COMPOSE_FILE), "--file", str(self.override), *args]  # fmt: skip
        result = subprocess.run(
            argv, cwd=REPO_ROOT, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(
                f"`{' '.join(argv[2:])}` exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}\n{self.diagnosis()}"
            )
        return result.stdout + result.stderr

    def diagnosis(self) -> str:
        """The healthcheck results and last log lines of every container that is not healthy."""
        report = []
        for c in self.containers():
            if c["service"] == "migrate" or c["health"] in (None, "healthy"):
                continue
            health = subprocess.run(
                ["docker", "inspect", "--format", "{{json .State.Health.Log}}", c["id"]],
                capture_output=True, text=True, check=False,
            ).stdout  # fmt: skip
            logs = subprocess.run(
                ["docker", "logs", "--tail", "40", c["id"]],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            report.append(f"--- {c['service']} {c['status']} {c['health']}\nhealthchecks: {health}"
                          f"\nlogs:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")  # fmt: skip
        return "\n".join(report)

    def timed(self, name: str, *args: str) -> str:
        started = time.monotonic()
        output = self.compose(*args)
        self.timings[name] = round(time.monotonic() - started, 1)
        return output

    def containers(self) -> list[dict[str, Any]]:
        """Every container of the project, stopped ones too: id, service, state, exit code."""
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--no-trunc", "--filter",
             f"label=com.docker.compose.project={self.project}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        if not ids:
            return []
        inspected = json.loads(
            subprocess.run(
                ["docker", "inspect", *ids], capture_output=True, text=True, check=True
            ).stdout
        )
        return [
            {
                "id": c["Id"],
                "service": c["Config"]["Labels"]["com.docker.compose.service"],
                "status": c["State"]["Status"],
                "health": (c["State"].get("Health") or {}).get("Status"),
                "exit_code": c["State"]["ExitCode"],
                "started_at": c["State"]["StartedAt"],
                "ports": c["HostConfig"]["PortBindings"] or {},
            }
            for c in inspected
        ]

    def wait_healthy(self, timeout: float = 180) -> None:
        """Until every running service with a healthcheck is healthy (after a restart)."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = [
                c["service"]
                for c in self.containers()
                if c["service"] != "migrate"
                and (c["status"] != "running" or c["health"] not in (None, "healthy"))
            ]
            if not waiting:
                return
            assert time.monotonic() < deadline, f"not healthy after {timeout} s: {waiting}"
            time.sleep(1)

    def deliveries(self) -> list[dict[str, Any]]:
        """Every request the receiver got, as it recorded it (body, headers, verdicts)."""
        output = subprocess.run(
            ["docker", "compose", "--project-name", self.project, "--file", str(COMPOSE_FILE),
             "--file", str(self.override), "exec", "-T", "receiver", "sh", "-c",
             f"cat {DELIVERIES} 2>/dev/null || true"],
            cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        return [json.loads(line) for line in output.splitlines() if line.strip()]

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, argv in (
            ("containers", ["docker", "ps", "-aq", "--filter", label]),
            ("networks", ["docker", "network", "ls", "-q", "--filter", label]),
            ("volumes", ["docker", "volume", "ls", "-q", "--filter", label]),
        ):
            found[kind] = subprocess.run(
                argv, capture_output=True, text=True, check=True
            ).stdout.split()
        return found

    def remove_images(self) -> None:
        """This run's tags only; the layers stay in the build cache for the next run."""
        tags = [f"payment-gateway/{service}:{self.project}" for service in BUILT_SERVICES]
        subprocess.run(["docker", "image", "rm", *tags], capture_output=True, check=False)


def http(method: str, url: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, url, timeout=15, **kwargs)
