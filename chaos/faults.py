"""Faults at random moments of the load, planned from the seed: each worker type SIGKILLed
(whole process group) and restarted a few times, the API killed once, Redis flushed once and
restarted once, PostgreSQL restarted once. One thread applies them in order; each is timed
from the start of the phase it falls in, so a kill of the refund worker always lands while
refunds are being created."""

import random
import threading
import time
from dataclasses import dataclass
from typing import Literal

from chaos.stack import Stack

Phase = Literal["payments", "refunds"]
KINDS = ("kill", "flush-redis", "restart-redis", "restart-postgres")


@dataclass(frozen=True)
class Fault:
    phase: Phase
    offset_s: float
    kind: str  # one of KINDS
    target: str  # a service for kills, else "redis" / "postgres"
    down_s: float  # how long the process or server stays down
    replica_choice: float  # which replica a kill hits, as a fraction of the replicas


@dataclass
class AppliedFault:
    fault: Fault
    started_s: float  # from the start of the load
    ended_s: float
    detail: str


def plan_faults(
    rng: random.Random, payments_s: float, refunds_s: float, kills: int, api_kills: int
) -> list[Fault]:
    def moment(phase: Phase | None = None) -> tuple[Phase, float]:
        if phase is None:
            phase = (
                "payments" if rng.random() < payments_s / (payments_s + refunds_s) else "refunds"
            )
        length = payments_s if phase == "payments" else refunds_s
        # Not in the first or last moments of a phase, when little is in flight (and faults
        # take a few seconds each, so later ones slip a little).
        return phase, rng.uniform(0.1 * length, 0.8 * length)

    faults = []
    for target, phase in (("payment-worker", "payments"), ("refund-worker", "refunds"),
                          ("webhook-dispatcher", None)):  # fmt: skip
        for _ in range(kills):
            faults.append(Fault(*moment(phase), "kill", target, rng.uniform(0, 2), rng.random()))  # type: ignore[arg-type]
    for _ in range(api_kills):
        faults.append(Fault(*moment(), "kill", "api", 0.0, 0.0))
    faults.append(Fault(*moment(), "flush-redis", "redis", 0.0, 0.0))
    faults.append(Fault(*moment(), "restart-redis", "redis", rng.uniform(1, 3), 0.0))
    faults.append(Fault(*moment(), "restart-postgres", "postgres", rng.uniform(1, 3), 0.0))
    return sorted(faults, key=lambda f: (f.phase != "payments", f.offset_s))


class FaultRunner:
    def __init__(self, stack: Stack, faults: list[Fault], log: "Log"):
        self.stack = stack
        self.faults = faults
        self.log = log
        self.applied: list[AppliedFault] = []
        self.errors: list[str] = []
        self.phase_started: dict[Phase, threading.Event] = {
            "payments": threading.Event(), "refunds": threading.Event()
        }  # fmt: skip
        self._phase_at: dict[Phase, float] = {}
        self.load_started = 0.0
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)

    def begin_phase(self, phase: Phase) -> None:
        now = time.monotonic()
        if phase == "payments":
            self.load_started = now
        self._phase_at[phase] = now
        self.phase_started[phase].set()
        if not self._thread.is_alive() and phase == "payments":
            self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait until every fault has been applied."""
        self._finished.wait(timeout)

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    @property
    def last_fault_ended(self) -> float | None:
        """Monotonic time the last fault was over (its process or server restarted)."""
        if not self.applied:
            return None
        return self.load_started + max(a.ended_s for a in self.applied)

    def _run(self) -> None:
        try:
            self._apply_all()
        finally:
            self._finished.set()
        # Linux sends a child its parent-death signal (devstack.processes) when the *thread*
        # that spawned it ends: the servers and services restarted here must outlive it.
        self.stack.wait_until_stopped()

    def _apply_all(self) -> None:
        for fault in self.faults:
            self.phase_started[fault.phase].wait()
            due = self._phase_at[fault.phase] + fault.offset_s
            time.sleep(max(0.0, due - time.monotonic()))
            started = time.monotonic()
            try:
                detail = self._apply(fault)
            except Exception as exc:  # a fault that cannot be applied is a failed run
                detail = f"could not apply: {type(exc).__name__}: {exc}"
                self.errors.append(f"{fault.kind} {fault.target}: {detail}")
            applied = AppliedFault(
                fault, started - self.load_started, time.monotonic() - self.load_started, detail
            )
            self.applied.append(applied)
            self.log(
                f"  fault at {applied.started_s:6.1f} s ({fault.phase}): {fault.kind} "
                f"{fault.target}: {detail}"
            )

    def _apply(self, fault: Fault) -> str:
        stack = self.stack
        if fault.kind == "kill":
            replicas = stack.replicas_of(fault.target)
            key = replicas[min(int(fault.replica_choice * len(replicas)), len(replicas) - 1)]
            stack.kill(key)
            time.sleep(fault.down_s)
            stack.respawn(key)
            return f"SIGKILL {key} (process group), restarted after {fault.down_s:.1f} s"
        if fault.kind == "flush-redis":
            stack.flush_redis()
            return "FLUSHALL"
        if fault.kind == "restart-redis":
            stack.restart_redis(fault.down_s)
            return f"stopped, started again on the same port after {fault.down_s:.1f} s"
        if fault.kind == "restart-postgres":
            stack.restart_postgres(fault.down_s)
            return f"stopped (fast shutdown), started again after {fault.down_s:.1f} s"
        raise ValueError(fault.kind)


class Log:
    """Prints progress lines with the time since the run started."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def __call__(self, line: str) -> None:
        with self._lock:
            print(f"[{time.monotonic() - self.started:6.1f}s] {line}", flush=True)
