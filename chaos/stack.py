"""The system under test: its own embedded PostgreSQL and Redis (so it may restart them), the
services as `make run` starts them (bench.system), two of each worker, and the test
merchant's webhook endpoints (ENDPOINTS), each with a receiver of its own checking that
endpoint's secret and failing a share of deliveries, one that nothing ever answers, and one
whose receiver is down until `recover_endpoint`. A supervisor restarts any service that
exits on its own, as compose's `restart: unless-stopped` would, and notes it."""

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg.rows import DictRow, dict_row
from redis import Redis

from bench.system import System, free_port
from chaos.client import MERCHANT_HEADERS
from chaos.endpoints import DISABLE_AFTER, ENDPOINTS, EndpointPlan
from devstack import processes
from devstack.embedded import EmbeddedServer, start_postgres, start_redis
from shared.backends.db import one

WORKERS = ("payment-worker", "refund-worker", "webhook-dispatcher")
QUEUES = {
    "payment-worker": "payments",
    "refund-worker": "refunds",
    "webhook-dispatcher": "webhooks",
}
SUPERVISE_EVERY_S = 0.5


@dataclass
class Endpoint:
    plan: EndpointPlan
    id: str
    url: str
    secret: str
    record: Path
    receiver: subprocess.Popen[bytes] | None = None


class Stack:
    def __init__(self, data_dir: Path, out_dir: Path, *, replicas: int, delay_ms: int,
                 fail_rate: float, seed: int, declining_replica: bool):  # fmt: skip
        self.data_dir = data_dir
        self.out_dir = out_dir
        self.replicas = replicas
        self.delay_ms = delay_ms
        self.fail_rate = fail_rate
        self.seed = seed
        self.declining_replica = declining_replica
        self.unexpected_exits: list[dict[str, Any]] = []
        self.supervisor_errors: list[str] = []
        # Held while a process is being killed or restarted, so the supervisor keeps out.
        self.lock = threading.RLock()
        self.held_down: set[str] = set()
        self._stopping = threading.Event()
        self.postgres: EmbeddedServer | None = None
        self.redis: EmbeddedServer | None = None
        self.system: System | None = None
        self.endpoints: dict[str, Endpoint] = {}

    # Starting and stopping

    def start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.out_dir.glob("deliveries*.jsonl"):
            stale.unlink()
        self.postgres = start_postgres(self.data_dir)
        self.redis = start_redis(self.data_dir)
        self.system = System(
            self.postgres.url,
            self.redis.url,
            log_dir=self.out_dir / "logs",
            TEST_PROCESSING_DELAY=str(self.delay_ms),
            WEBHOOK_RETRY_INTERVALS_TEST="true",
            WEBHOOK_ENDPOINT_DISABLE_AFTER=DISABLE_AFTER,
            LOG_LEVEL="info",
        )
        self.system.start("api")
        for name in WORKERS:
            if name == "payment-worker" and self.declining_replica and self.replicas > 1:
                # The simulated bank declines whatever this replica finalises, so both
                # outcomes (and their events) occur in test mode.
                self.system.start(name, copies=self.replicas - 1)
                self.system.start(name, TEST_PAYMENT_SUCCESS="false")
            else:
                self.system.start(name, copies=self.replicas)
        for name in WORKERS:
            self.system.wait_for_workers(QUEUES[name], self.replicas, timeout=60)
        for number, plan in enumerate(ENDPOINTS):
            if plan.name == "default":
                plan = dataclasses.replace(plan, fail_rate=self.fail_rate)
            endpoint = self._add_endpoint(plan)
            self.endpoints[plan.name] = endpoint
            if plan.fail_rate is not None and not plan.down_until_recovery:
                self._start_receiver(endpoint, self.seed + number)
        threading.Thread(target=self._supervise, name="supervisor", daemon=True).start()

    @property
    def receiver_url(self) -> str:
        return self.endpoints["default"].url

    def _add_endpoint(self, plan: EndpointPlan) -> Endpoint:
        """The endpoint made through the API, on a port of its own (its receiver, if any,
        starts later: its secret is known only now)."""
        assert self.system is not None
        api = self.system.api_url
        url = f"http://127.0.0.1:{free_port()}/webhook"
        record = self.out_dir / (
            "deliveries.jsonl" if plan.name == "default" else f"deliveries-{plan.name}.jsonl"
        )
        if plan.name == "default":
            # The config's URL is the default endpoint (docs/webhooks.md#default-endpoint); its secret the
            # merchant's webhook secret.
            httpx.put(f"{api}/api/v1/webhooks/config", json={"webhook_url": url},
                      headers=MERCHANT_HEADERS, timeout=10).raise_for_status()  # fmt: skip
            config = httpx.get(f"{api}/api/v1/webhooks/config", headers=MERCHANT_HEADERS,
                               timeout=10).raise_for_status().json()  # fmt: skip
            [row] = [
                e for e in httpx.get(f"{api}/api/v1/webhooks/endpoints",
                                     headers=MERCHANT_HEADERS, timeout=10).json()["data"]
                if e["default"]
            ]  # fmt: skip
            return Endpoint(plan, row["id"], url, config["webhook_secret"], record)
        response = httpx.post(
            f"{api}/api/v1/webhooks/endpoints",
            json={"url": url, "events": list(plan.events), "description": f"chaos {plan.name}"},
            headers=MERCHANT_HEADERS | {"Idempotency-Key": f"chaos-{self.seed}-{plan.name}"},
            timeout=10,
        ).raise_for_status()
        body = response.json()
        return Endpoint(plan, body["id"], url, body["secret"], record)

    def _start_receiver(self, endpoint: Endpoint, seed: int) -> None:
        """A receiver on the endpoint's port checking its secret, failing its share."""
        port = urlsplit(endpoint.url).port
        assert port is not None and endpoint.plan.fail_rate is not None
        log_path = self.out_dir / "logs" / f"receiver-{endpoint.plan.name}.log"
        with log_path.open("wb") as log:
            endpoint.receiver = processes.spawn(
                [sys.executable, "-m", "devstack.receiver", "--host", "127.0.0.1",
                 "--port", str(port), "--quiet", "--record", endpoint.record,
                 "--secret", endpoint.secret,
                 "--fail-rate", str(endpoint.plan.fail_rate), "--seed", str(seed)],
                stdout=log,
            )  # fmt: skip
        url = endpoint.url
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the webhook receiver of {endpoint.plan.name} did not start")

    def recover_endpoint(self, name: str, since: datetime) -> dict[str, Any]:
        """What a merchant does once its server is back: start the receiver, enable the
        endpoint again (PATCH status) and recover every event since `since` (docs/webhooks.md#recovery).
        Returns the endpoint as read before enabling it and the recovery's answer."""
        assert self.system is not None
        api = self.system.api_url
        endpoint = self.endpoints[name]
        self._start_receiver(endpoint, self.seed + len(ENDPOINTS))
        path = f"{api}/api/v1/webhooks/endpoints/{endpoint.id}"
        before = httpx.get(path, headers=MERCHANT_HEADERS, timeout=10).raise_for_status().json()
        httpx.patch(path, json={"status": "enabled"}, headers=MERCHANT_HEADERS,
                    timeout=10).raise_for_status()  # fmt: skip
        recovered = httpx.post(
            f"{path}/recover",
            json={"since": since.isoformat()},
            headers=MERCHANT_HEADERS | {"Idempotency-Key": f"chaos-{self.seed}-recover-{name}"},
            timeout=60,
        )
        recovered.raise_for_status()
        return {"before": before, "recover_status": recovered.status_code,
                "queued": recovered.json()["queued"]}  # fmt: skip

    def endpoint_states(self) -> dict[str, dict[str, Any]]:
        """Each endpoint as the API shows it now (status, disabled_reason, health)."""
        assert self.system is not None
        return {
            name: httpx.get(f"{self.system.api_url}/api/v1/webhooks/endpoints/{e.id}",
                            headers=MERCHANT_HEADERS, timeout=10).raise_for_status().json()
            for name, e in self.endpoints.items()
        }  # fmt: skip

    def stop(self) -> None:
        self._stopping.set()
        with self.lock:
            if self.system is not None:
                self.system.stop_all()
            for endpoint in self.endpoints.values():
                if endpoint.receiver is not None:
                    processes.stop(endpoint.receiver, signal.SIGTERM, 10.0)
            for server in (self.redis, self.postgres):
                if server is not None:
                    server.stop()

    def kill_everything(self) -> None:
        """Last resort (hard timeout): SIGKILL every process without waiting for locks."""
        self._stopping.set()
        children = list(self.system.processes.values()) if self.system else []
        children += [e.receiver for e in self.endpoints.values() if e.receiver is not None]
        children += [s.process for s in (self.redis, self.postgres) if s is not None]
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)

    def wait_until_stopped(self) -> None:
        self._stopping.wait()

    def _supervise(self) -> None:
        # Lives until the stack stops: what it restarts dies with the thread that spawned it
        # (see FaultRunner._run).
        assert self.system is not None
        while not self._stopping.wait(SUPERVISE_EVERY_S):
            with self.lock:
                if self._stopping.is_set():
                    return
                for key, process in list(self.system.processes.items()):
                    code = process.poll()
                    if code is None or key in self.held_down:
                        continue
                    self.unexpected_exits.append(
                        {"service": key, "exit_code": code, "at": time.time(),
                         "log_tail": _tail(self.system.log_dir / f"{key}.log")}
                    )  # fmt: skip
                    try:
                        self.system.respawn(key)
                    except Exception as exc:  # e.g. the API waiting for PostgreSQL: next round
                        self.supervisor_errors.append(f"restarting {key}: {exc}")

    # Faults

    def replicas_of(self, name: str) -> list[str]:
        assert self.system is not None
        return sorted(k for k in self.system.processes if k == name or k.startswith(f"{name}-"))

    def kill(self, key: str) -> None:
        """SIGKILL the process's whole group: no cleanup, no rollback but PostgreSQL's own."""
        assert self.system is not None
        with self.lock:
            self.held_down.add(key)
            self.system.kill(key)

    def respawn(self, key: str) -> None:
        assert self.system is not None
        with self.lock:
            self.system.respawn(key)
            self.held_down.discard(key)

    def flush_redis(self) -> None:
        assert self.redis is not None
        with Redis.from_url(self.redis.url, socket_timeout=5) as client:
            client.flushall()

    def restart_redis(self, down_s: float) -> None:
        assert self.redis is not None
        port = urlsplit(self.redis.url).port
        self.redis.stop()
        time.sleep(down_s)
        self.redis = start_redis(self.data_dir, port=port)

    def restart_postgres(self, down_s: float) -> None:
        assert self.postgres is not None
        port = urlsplit(self.postgres.url).port
        self.postgres.stop()
        time.sleep(down_s)
        self.postgres = start_postgres(self.data_dir, port=port)

    # Looking

    def database(self) -> psycopg.Connection[DictRow]:
        assert self.postgres is not None
        return psycopg.connect(self.postgres.url, row_factory=dict_row, autocommit=True,
                               connect_timeout=3)  # fmt: skip

    def pending_work(self) -> dict[str, int]:
        with self.database() as conn:
            row = one(
                conn.execute(
                    """
                SELECT (SELECT count(*) FROM payments WHERE status = 'pending') AS payments,
                       (SELECT count(*) FROM refunds WHERE status = 'pending') AS refunds,
                       (SELECT count(*) FROM webhook_logs WHERE status = 'pending') AS webhooks
                """
                )
            )
        return dict(row)

    def job_status(self) -> dict[str, Any]:
        assert self.system is not None
        return httpx.get(f"{self.system.api_url}/api/v1/test/jobs/status", timeout=5).json()

    def unregistered_workers(self) -> list[str]:
        """Live worker processes that RQ's registry (what job status counts) does not list,
        and worker hashes that lack the birth date RQ writes when a worker registers."""
        assert self.redis is not None and self.system is not None
        found = []
        with Redis.from_url(self.redis.url, decode_responses=True, socket_timeout=5) as client:
            registered = {
                client.hget(key, "pid")
                for queue in QUEUES.values()
                for key in client.smembers(f"rq:workers:{queue}")
            }
            for key, process in sorted(self.system.processes.items()):
                name = key.rstrip("-0123456789")
                if name in QUEUES and str(process.pid) not in registered:
                    found.append(f"{key} (pid {process.pid}) runs but is not registered")
            for key in client.scan_iter("rq:worker:*"):
                if client.type(key) == "hash" and not client.hexists(key, "birth"):
                    found.append(f"{key} has no birth date: {client.hgetall(key)}")
        return found

    def deliveries(self) -> dict[str, list[dict[str, Any]]]:
        """Every request each endpoint's receiver got, by endpoint name (none for an endpoint
        nothing listens on)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for name, endpoint in self.endpoints.items():
            lines = endpoint.record.read_text().splitlines() if endpoint.record.exists() else []
            found[name] = [json.loads(line) for line in lines if line]
        return found


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
