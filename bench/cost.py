"""What a paid order costs: CPU seconds per 1,000 paid orders, pairs/s and idle CPU.

Closed-loop load: `wrk` (compiled, LuaJIT script bench/pairs.lua) keeps N clients each creating
an order, then a payment for it; the merchant's webhook URL points at bench.sink, so every
event is delivered during the load, as in production. A level's window runs from the first
request until every payment is final and every webhook delivered; the CPU each process used
in it comes from /proc (utime + stime, robust to other load on the machine): the gateway's own
processes summed, PostgreSQL (the backends of the bench database) and Redis (its own server)
beside them, and the load generator and receiver shown apart, to prove they are not the
bottleneck. Each level also says how far the work nobody waits on fell behind the shoppers:
finalisation and delivery lag (p95) of what the load created, and how long after the load
everything was final and delivered. Idle: the same system's CPU over a quiet window once
everything is done.
"""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psutil
import psycopg

from bench.stats import percentiles
from bench.system import System
from shared.backends.db import one

LUA = Path(__file__).with_name("pairs.lua")
API_KEY, API_SECRET = "key_test_abc123", "secret_test_xyz789"  # the seeded test merchant's
TEST_MERCHANT = "550e8400-e29b-41d4-a716-446655440000"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The services in the order/payment/delivery path: their CPU is the cost of a paid order.
PATH_SERVICES = ("api", "payment-worker", "webhook-dispatcher")


def require_wrk() -> str:
    """wrk's path; on Debian/Ubuntu as root it is installed when missing (like .ci/run)."""
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: installing wrk (apt-get install wrk) ...", flush=True)
        environment = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=environment)
        if wrk := shutil.which("wrk"):
            return wrk
    raise SystemExit(
        "bench: the load generator is wrk: `apt-get install wrk` (or brew install wrk)"
    )


def process_cpu(pid: int) -> float:
    """CPU seconds of one process and its reaped children, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime: fields 14-17 of proc(5), here counted from field 3.
    return sum(int(x) for x in fields[11:15]) / CLOCK_TICKS


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and all its descendants (uvicorn workers, postgres forks)."""
    try:
        pids = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for member in pids:
        try:
            total += process_cpu(member)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


@dataclass
class Meter:
    """Reads the CPU of the system's processes, its database's backends and Redis."""

    system: System
    database_url: str
    redis_pid: int
    database: str = field(init=False)

    def __post_init__(self) -> None:
        self.database = str(psycopg.conninfo.conninfo_to_dict(self.database_url)["dbname"])
        self.conn = psycopg.connect(self.database_url, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def read(self) -> dict[str, dict[str, float]]:
        backends = {}
        for (pid,) in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.database,),
        ):
            try:
                backends[str(pid)] = process_cpu(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
        services = {key: tree_cpu(p.pid) for key, p in self.system.processes.items()}
        return {
            "services": services,
            "postgresql": backends,
            "redis": {"redis": tree_cpu(self.redis_pid)},
        }

    @staticmethod
    def used(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds per service between two readings, and PostgreSQL's and Redis's."""
        figures = {
            key: round(after["services"][key] - before["services"].get(key, 0.0), 3)
            for key in after["services"]
        }
        # A backend that appeared in between used all its CPU inside the window.
        figures["postgresql"] = round(
            sum(
                cpu - before["postgresql"].get(pid, 0.0) for pid, cpu in after["postgresql"].items()
            ),
            3,
        )
        figures["redis"] = round(after["redis"]["redis"] - before["redis"]["redis"], 3)
        return figures

    def counts(self) -> dict[str, int]:
        row = one(
            self.conn.execute(
                """
            SELECT (SELECT count(*) FROM orders WHERE status = 'paid') AS paid,
                   (SELECT count(*) FROM payments WHERE status = 'pending') AS pending_payments,
                   (SELECT count(*) FROM webhook_logs WHERE status = 'pending') AS pending_webhooks,
                   (SELECT count(*) FROM webhook_attempts) AS attempts,
                   (SELECT count(*) FROM webhook_logs WHERE status = 'success') AS delivered
            """
            )
        )
        return dict(
            zip(
                ("paid", "pending_payments", "pending_webhooks", "attempts", "delivered"),
                row,
                strict=True,
            )
        )

    def clock(self) -> datetime:
        """PostgreSQL's clock: the one every due time and timestamp of the gateway is read on."""
        return one(self.conn.execute("SELECT clock_timestamp()"))[0]

    def lags(self, started: datetime, ended: datetime) -> dict[str, dict[str, float]]:
        """How far the background work fell behind the load that ran from `started` to
        `ended` (PostgreSQL's clock), in ms. finalisation: a payment created in the window,
        from its bank answer falling due (process_after) to its final state being committed
        (updated_at); delivery: a webhook event recorded in the window, from its recording
        (created_at) to the end of its successful attempt. Read once everything is drained."""
        finalisation = [row[0] for row in self.conn.execute(
            "SELECT extract(epoch FROM updated_at - process_after) * 1000 FROM payments"
            " WHERE created_at BETWEEN %s AND %s AND status <> 'pending'",
            (started, ended),
        )]  # fmt: skip
        delivery = [row[0] for row in self.conn.execute(
            """
            SELECT extract(epoch FROM max(a.attempted_at + a.duration_ms * interval '1 ms')
                                      - l.created_at) * 1000
            FROM webhook_logs l JOIN webhook_attempts a ON a.webhook_log_id = l.id
            WHERE l.created_at BETWEEN %s AND %s AND l.status = 'success'
            GROUP BY l.id
            """,
            (started, ended),
        )]  # fmt: skip
        return {
            "finalisation_lag_ms": percentiles([float(x) for x in finalisation]),
            "delivery_lag_ms": percentiles([float(x) for x in delivery]),
        }

    def wait_drained(self, timeout: float = 180.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            counts = self.counts()
            if counts["pending_payments"] == 0 and counts["pending_webhooks"] == 0:
                return time.monotonic() - started
            time.sleep(0.25)
        raise TimeoutError(f"payments or webhooks still pending after {timeout} s")


def run_wrk(wrk: str, api_url: str, clients: int, seconds: float, out: Path) -> dict:
    """One closed-loop run; returns pairs, errors, pairs/s, pair latency and wrk's own CPU."""
    out.unlink(missing_ok=True)
    process = subprocess.Popen(
        [wrk, "-t", str(clients), "-c", str(clients), "-d", f"{seconds:g}s", "--timeout", "30s",
         "-s", str(LUA), api_url, "--", API_KEY, API_SECRET],
        env=os.environ | {"BENCH_PAIRS_OUT": str(out)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    head, *lines = out.read_text().splitlines()
    pairs, errors, duration_us = (int(x) for x in head.split())
    seconds_run = duration_us / 1e6
    return {
        "clients": clients,
        "seconds": round(seconds_run, 1),
        "pairs": pairs,
        "errors": errors,
        "pairs_per_s": round(pairs / seconds_run, 1),
        "pair_ms": percentiles([float(x) for x in lines if x]),
        "load_generator_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
    }


def find_py_spy() -> str:
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not py_spy:
        raise SystemExit("bench: --profile needs py-spy: `uv tool install py-spy` (or pip)")
    return py_spy


def start_profiles(system: System, seconds: float, folder: Path) -> list[subprocess.Popen]:
    """py-spy on every Python process of the system (uvicorn's workers too), sampling the
    thread that holds the GIL (Python's CPU time, not threads waiting on a socket), for
    `seconds`: collapsed stacks in `folder`, one file per process (flamegraph.pl reads them)."""
    folder.mkdir(parents=True, exist_ok=True)
    py_spy = find_py_spy()
    spies = []
    for key, process in system.processes.items():
        members = [psutil.Process(process.pid), *psutil.Process(process.pid).children(True)]
        for member in members:
            if "python" not in " ".join(member.cmdline()[:1]) or member.children():
                continue  # not Python, or a supervisor that only waits for its workers
            spies.append(subprocess.Popen(
                [py_spy, "record", "--pid", str(member.pid), "--duration", f"{seconds:g}",
                 "--rate", "200", "--nonblocking", "--gil", "--format", "raw",
                 "--output", str(folder / f"{key}-{member.pid}.txt")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
    return spies


def level(
    meter: Meter,
    wrk: str,
    clients: int,
    seconds: float,
    out: Path,
    receiver_pid: int,
    profile: Path | None = None,
) -> dict:
    """One concurrency level: the load, then the drain, with the CPU used over both, the load
    generator's (wrk) and the webhook receiver's (`receiver_pid`, bench.sink) beside it."""
    spies = start_profiles(meter.system, seconds, profile) if profile else []
    counts_before, cpu_before = meter.counts(), meter.read()
    receiver_before = process_cpu(receiver_pid)
    lines_before = meter.system.log_lines()
    started, load_started = time.monotonic(), meter.clock()
    load = run_wrk(wrk, meter.system.api_url, clients, seconds, out)
    load_ended, ended = meter.clock(), time.monotonic()
    rss = meter.system.resident_mb()
    meter.wait_drained()
    drain_s = time.monotonic() - ended
    for spy in spies:
        spy.wait()
    cpu_after, counts_after = meter.read(), meter.counts()
    lags = meter.lags(load_started, load_ended)
    receiver_cpu_s = process_cpu(receiver_pid) - receiver_before
    window_s = time.monotonic() - started
    lines = lines_per_minute(lines_before, meter.system.log_lines(), window_s)
    used = Meter.used(cpu_before, cpu_after)
    paid = counts_after["paid"] - counts_before["paid"]
    gateway = round(sum(v for k, v in used.items() if k not in ("postgresql", "redis")), 3)
    in_path = round(sum(used.get(k, 0.0) for k in PATH_SERVICES), 3)

    def per_thousand(cpu_s: float) -> float:
        return round(cpu_s / paid * 1000, 2) if paid else float("nan")

    return load | lags | {
        "paid_orders": paid,
        "deliveries": counts_after["delivered"] - counts_before["delivered"],
        "attempts": counts_after["attempts"] - counts_before["attempts"],
        "drain_s": round(drain_s, 1),
        "window_s": round(window_s, 2),
        "cpu_s": used | {"gateway": gateway},
        "cpu_s_per_1000_paid": {
            "gateway": per_thousand(gateway),
            "api_workers_dispatcher": per_thousand(in_path),
            **{k: per_thousand(v) for k, v in used.items()},
            "load_generator": per_thousand(load["load_generator_cpu_s"]),
            "webhook_receiver": per_thousand(receiver_cpu_s),
        },
        "rss_mb": rss,
        "log_lines_per_min": lines,
    }  # fmt: skip


def lines_per_minute(before: dict[str, int], after: dict[str, int], seconds: float) -> dict:
    """Log lines per minute of each process over a window, and of all of them ("all")."""
    per_key = {key: round((n - before.get(key, 0)) * 60 / seconds, 1) for key, n in after.items()}
    return per_key | {"all": round(sum(per_key.values()), 1)}


def idle(meter: Meter, settle_s: float, seconds: float) -> dict:
    """Percent of one core each process uses with nothing to do."""
    time.sleep(settle_s)
    before, lines_before = meter.read(), meter.system.log_lines()
    time.sleep(seconds)
    used = Meter.used(before, meter.read())
    lines = lines_per_minute(lines_before, meter.system.log_lines(), seconds)
    percent = {k: round(100 * v / seconds, 2) for k, v in used.items()}
    gateway = [k for k in used if k not in ("postgresql", "redis")]
    return {
        "seconds": seconds,
        "percent_of_core": percent | {"gateway": round(sum(percent[k] for k in gateway), 2)},
        "log_lines_per_min": lines,
    }


def prepare(system: System, database_url: str, redis_pid: int, sink_url: str, out: Path) -> Meter:
    """A started system made ready for its levels: every webhook goes to the receiver at
    `sink_url`, and a short load has warmed it up (imports, pools, prepared statements) and
    drained. The caller closes the Meter. A checkout from before webhook endpoints
    (migration 010, e.g. the baseline b9029a1) keeps the URL on the merchant's row."""
    with psycopg.connect(database_url) as conn:
        if one(conn.execute("SELECT to_regproc('set_default_webhook_url') IS NOT NULL"))[0]:
            set_url = "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE id = %s"
        else:
            set_url = "UPDATE merchants SET webhook_url = %s WHERE id = %s"
        conn.execute(set_url, (sink_url, TEST_MERCHANT))
    meter = Meter(system, database_url, redis_pid)
    run_wrk(require_wrk(), system.api_url, 8, 3, out)
    meter.wait_drained()
    return meter


def net_of_idle(levels: dict[str, dict], idle_figures: dict) -> None:
    """Add to each level what its orders themselves cost: the idle use over the same window
    taken out, so a slower run (another load on the machine) is not charged more polling per
    order (cpu_s_per_1000_paid.gateway_net_of_idle)."""
    idle_gateway_s = idle_figures["percent_of_core"]["gateway"] / 100
    for figures in levels.values():
        net = figures["cpu_s"]["gateway"] - idle_gateway_s * figures["window_s"]
        paid = figures["paid_orders"]
        figures["cpu_s_per_1000_paid"]["gateway_net_of_idle"] = (
            round(net / paid * 1000, 2) if paid else float("nan")
        )
