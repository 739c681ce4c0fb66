"""`make bench`: the CPU cost of a paid order, order+payment pairs/s, idle CPU, worker
throughput, webhook delivery, list latency, memory.

Starts its own system in test mode (the same commands as `make run`) against the test
PostgreSQL (TEST_DATABASE_URL, else an embedded one) and a Redis of its own, prints a table and
writes bench-results/latest.json. `--baseline COMMIT` (make bench BASELINE=...) measures the
cost section against that commit too, built in a temporary worktree, and reports ratios.
`--quick` shortens every section for a smoke run (and lists grow to 100k rows, not 1M).
`--only-endpoints` runs bench.endpoints' sections alone (1 and 3 webhook endpoints, a recovery
beside other merchants' traffic), `--rounds` times.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import redis

from bench import baseline, cost, endpoints, sections
from bench.system import LOG_DIR, ServiceList, System, free_port, reset_database
from devstack.embedded import start_redis
from devstack.servers import test_servers
from devstack.services import local_services

RESULTS = Path("bench-results")
SERVICES = ("api", "payment-worker", "refund-worker", "webhook-dispatcher", "checkout", "dashboard")


def bench_database(database_url: str, suffix: str = "bench") -> str:
    name = psycopg.conninfo.conninfo_to_dict(database_url).get("dbname", "postgres")
    return psycopg.conninfo.make_conninfo(database_url, dbname=f"{name}_{suffix}")


class SinkProcess:
    """bench.sink on a free port: the cheap receiver every webhook of the cost section goes to."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", "--port", str(self.port)]
        )
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        sections.wait_until(self._answers, timeout=15)

    def _answers(self) -> bool:
        try:
            return httpx.post(self.url, content=b"{}", timeout=1).status_code == 200
        except Exception:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@dataclass
class Contender:
    """One checkout of the cost section, started and warmed up: its own database, Redis and
    six services; `rounds` collects its levels, round by round."""

    label: str
    system: System
    meter: cost.Meter
    rss_idle_mb: dict[str, float]
    rounds: list[dict] = field(default_factory=list)


def start_contender(
    stack: ExitStack,
    label: str,
    services: ServiceList,
    database_url: str,
    sink: SinkProcess,
) -> Contender:
    """A checkout's system on a fresh database and a Redis of its own, stopped with `stack`."""
    print(f"cost of a paid order: starting {label} ...", flush=True)
    reset_database(database_url, migrate=services is local_services)
    redis_server = stack.enter_context(
        start_redis(Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-redis-"))))
    )
    system = System(
        database_url,
        redis_server.url,
        services=services,
        log_dir=LOG_DIR / label,
        TEST_PROCESSING_DELAY="100",
        LOG_LEVEL="info",  # as deployed: every request and attempt logged
    )
    stack.callback(system.stop_all)
    for name in SERVICES:
        system.start(name)
    # On a busy machine a worker's imports take a while, the longer at a lower priority.
    system.wait_for_workers("payments", 1, timeout=180)
    system.wait_for_workers("webhooks", 1, timeout=180)
    time.sleep(2)
    rss_idle = system.resident_mb()
    meter = cost.prepare(
        system, database_url, redis_server.process.pid, sink.url, RESULTS / f"pairs-{label}.txt"
    )
    stack.callback(meter.close)
    return Contender(label, system, meter, rss_idle)


def median_of(rounds: list) -> object:
    """Figures of several rounds, leaf by leaf: the median of numbers, else the first value."""
    first = rounds[0]
    if isinstance(first, dict):
        return {key: median_of([r[key] for r in rounds if key in r]) for key in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        return round(statistics.median(rounds), 2)
    return first


def run_cost(args: argparse.Namespace, database_url: str) -> dict:
    """The cost section on this checkout and, given --baseline, on that commit. Both systems
    are up at once (the one waiting is idle, about 1 % of a core) and take turns level by
    level, --rounds times, the order swapped every round: a burst of other load on the
    machine, which lasts seconds to minutes, falls on both alike."""
    report: dict = {"rounds": args.rounds}
    seconds = args.seconds or (5 if args.quick else 15)
    idle_s = args.idle_seconds or (10 if args.quick else 30)
    sink = SinkProcess()
    wrk = cost.require_wrk()
    try:
        with ExitStack() as stack:
            checkouts = []
            if args.baseline:
                sha, services = stack.enter_context(baseline.checkout(args.baseline))
                report["baseline_commit"] = sha
                checkouts.append(("baseline", services, "bench_base"))
            checkouts.append(("this", local_services, "bench"))
            contenders = [
                start_contender(stack, label, services, bench_database(database_url, suffix), sink)
                for label, services, suffix in checkouts
            ]
            for number in range(args.rounds):
                turns = contenders if number % 2 == 0 else contenders[::-1]
                levels: dict[str, dict] = {c.label: {} for c in contenders}
                for n in args.clients:
                    for contender in turns:
                        print(f"round {number + 1} of {args.rounds}: {contender.label}, "
                              f"{n} client(s), {seconds:g} s ...", flush=True)  # fmt: skip
                        folder = (
                            RESULTS / "profiles" / contender.label / f"c{n}"
                            if args.profile
                            else None
                        )
                        levels[contender.label][f"c{n}"] = cost.level(
                            contender.meter, wrk, n, seconds,
                            RESULTS / f"pairs-{contender.label}.txt", sink.process.pid, folder,
                        )  # fmt: skip
                for contender in contenders:
                    contender.rounds.append(levels[contender.label])
            for contender in contenders:
                print(f"idle: {contender.label}, {idle_s:g} s ...", flush=True)
                idle = cost.idle(contender.meter, 5.0, idle_s)
                for round_levels in contender.rounds:
                    cost.net_of_idle(round_levels, idle)
                report[contender.label] = {
                    "levels": median_of(contender.rounds),
                    "idle": idle,
                    "rss_idle_mb": contender.rss_idle_mb,
                }
                report[f"{contender.label}_by_round"] = contender.rounds
    finally:
        sink.stop()
    return report


def run_endpoints(args: argparse.Namespace, system: System, database_url: str) -> dict:
    """bench.endpoints' sections, their webhooks to a bench.sink of their own."""
    sink = SinkProcess()
    try:
        return endpoints.run(system, database_url, sink.url, args.quick, args.rounds)
    finally:
        sink.stop()


def run(args: argparse.Namespace) -> dict:
    quick = args.quick
    seconds = 3 if quick else 10
    report: dict = {"started_at": datetime.now(UTC).isoformat(), "quick": quick}
    with (
        test_servers() as (database_url, _),
        tempfile.TemporaryDirectory(prefix="bench-redis-") as redis_dir,
        start_redis(Path(redis_dir)) as redis_server,
    ):
        # A Redis of our own: its CPU is ours alone, and no one else's database is flushed.
        if not args.only_endpoints:
            report["cost"] = run_cost(args, database_url)
        if args.only_cost:
            return report
        # Its own database for --only-endpoints, so a cost run may go on beside it.
        database_url = bench_database(
            database_url, "bench_endpoints" if args.only_endpoints else "bench"
        )
        reset_database(database_url)
        redis_url = redis_server.url
        redis.Redis.from_url(redis_url).flushall()

        system = System(database_url, redis_url, TEST_PROCESSING_DELAY="1000")
        try:
            for name in (
                "api",
                "payment-worker",
                "refund-worker",
                "webhook-dispatcher",
                "checkout",
                "dashboard",
            ):
                system.start(name)
            system.wait_for_workers("payments", 1)
            time.sleep(2)
            if args.only_endpoints:
                return report | {"endpoints": run_endpoints(args, system, database_url)}
            report["rss_idle_mb"] = system.resident_mb()
            loaded = report["cost"]["this"]["levels"]
            report["rss_under_load_mb"] = loaded[max(loaded, key=lambda k: int(k[1:]))]["rss_mb"]
            print("payment worker throughput ...", flush=True)
            report["payment_worker"] = sections.payment_worker_throughput(
                system, database_url, count=1000 if quick else 5000, spread_s=2 if quick else 10
            )
            print("refund worker throughput ...", flush=True)
            report["refund_worker"] = sections.refund_worker_throughput(
                system, database_url, count=1000 if quick else 5000, spread_s=2 if quick else 10
            )
            print("creation -> final at 50/s ...", flush=True)
            report["creation_to_final"] = sections.creation_to_final(
                system, database_url, 50, seconds
            )
            receiver = sections.ReceiverProcess(RESULTS / "receiver.jsonl")
            try:
                for dispatchers in (1, 2):
                    print(f"webhook deliveries, {dispatchers} dispatcher(s) ...", flush=True)
                    report[f"deliveries_{dispatchers}"] = sections.delivery_throughput(
                        system, database_url, receiver, 2000 if quick else 10000, dispatchers
                    )
                system.stop("webhook-dispatcher")
                system.start("webhook-dispatcher")
                system.stop("payment-worker")
                system.stop("api")
                system.env["TEST_PROCESSING_DELAY"] = "0"
                system.start("api")
                system.start("payment-worker")
                system.wait_for_workers("payments", 1)
                print("payment -> payment.success webhook at 50/s ...", flush=True)
                report["webhook_latency"] = sections.webhook_latency(
                    system, database_url, receiver, 50, seconds
                )
                print("webhook isolation: a hanging merchant on the same host:port ...", flush=True)
                report["webhook_isolation"] = sections.webhook_isolation(
                    system, database_url, seconds
                )
            finally:
                receiver.stop()
            report["endpoints"] = run_endpoints(args, system, database_url)
            print("list endpoints at 10k and 1M rows ...", flush=True)
            report["lists"] = sections.list_latency(
                system, database_url, 10_000, 100_000 if quick else 1_000_000, 50 if quick else 200
            )
        finally:
            system.stop_all()
    return report


def ratio(this: float, base: float | None) -> str:
    if base is None:
        return ""
    return f"{this / base:.2f}x" if base else "-"


def cost_table(cost_report: dict) -> list[str]:
    this, base = cost_report["this"], cost_report.get("baseline")
    columns = f"  {'':<44} {'this':>9}"
    if base:
        columns += f" {cost_report['baseline_commit'][:7]:>9} {'ratio':>7}"
    lines = [
        "",
        "Cost of a paid order: order + payment + finalisation + every webhook delivered",
        "(wrk closed loop, TEST_PROCESSING_DELAY=100, LOG_LEVEL=info, webhooks to bench.sink;"
        f" medians of {cost_report['rounds']} round(s))",
        columns,
    ]

    def row(label: str, pick) -> None:
        value = pick(this)
        line = f"  {label:<44} {value:>9}"
        if base:
            line += f" {pick(base):>9} {ratio(value, pick(base)):>7}"
        lines.append(line)

    levels = list(this["levels"])
    for key in levels:
        n = key[1:]
        row(f"pairs/s, {n} client(s)", lambda r, k=key: r["levels"][k]["pairs_per_s"])
        row("  pair p50 ms", lambda r, k=key: r["levels"][k]["pair_ms"]["p50"])
        row("  pair p99 ms", lambda r, k=key: r["levels"][k]["pair_ms"]["p99"])
        row(
            "  finalisation lag p95 ms, during the load",
            lambda r, k=key: r["levels"][k]["finalisation_lag_ms"]["p95"],
        )
        row(
            "  delivery lag p95 ms, during the load",
            lambda r, k=key: r["levels"][k]["delivery_lag_ms"]["p95"],
        )
        row(
            "  all final and delivered, s after the load",
            lambda r, k=key: r["levels"][k]["drain_s"],
        )
        row(
            "  CPU s / 1,000 paid: API+workers+dispatcher",
            lambda r, k=key: r["levels"][k]["cpu_s_per_1000_paid"]["api_workers_dispatcher"],
        )
        row(
            "    all six services, net of idle",
            lambda r, k=key: r["levels"][k]["cpu_s_per_1000_paid"]["gateway_net_of_idle"],
        )
        for part in (
            "api",
            "payment-worker",
            "webhook-dispatcher",
            "postgresql",
            "redis",
            "load_generator",
            "webhook_receiver",
        ):
            row(
                f"    {part}",
                lambda r, k=key, p=part: r["levels"][k]["cpu_s_per_1000_paid"].get(p, 0.0),
            )
        row(
            "  log lines per minute, all services",
            lambda r, k=key: r["levels"][k]["log_lines_per_min"]["all"],
        )
        row("  errors", lambda r, k=key: r["levels"][k]["errors"])
        lines[-1] += (
            f"   ({this['levels'][key]['paid_orders']} paid, {this['levels'][key]['deliveries']} delivered)"
        )
    row(
        "idle CPU, % of one core, all six services",
        lambda r: r["idle"]["percent_of_core"]["gateway"],
    )
    for part in (
        "api",
        "payment-worker",
        "refund-worker",
        "webhook-dispatcher",
        "postgresql",
        "redis",
    ):
        row(f"    {part}", lambda r, p=part: r["idle"]["percent_of_core"].get(p, 0.0))
    row("idle log lines per minute, all services", lambda r: r["idle"]["log_lines_per_min"]["all"])
    return lines


def table(report: dict) -> str:
    lines = cost_table(report["cost"]) if "cost" in report else []
    if "payment_worker" not in report:
        return "\n".join(lines + endpoints.table(report.get("endpoints", {})))
    for key, label in (("payment_worker", "payments"), ("refund_worker", "refunds")):
        r = report[key]
        lines.append(
            f"\nOne {key.replace('_', ' ')}, TEST_PROCESSING_DELAY=1000, {r[label]} {label} due at {r['arrival_per_s']}/s"
        )
        lines.append(f"  completed/s {r['completed_per_s']}   lateness after due p50/p95/p99 ms "
                     f"{r['lateness_ms']['p50']}/{r['lateness_ms']['p95']}/{r['lateness_ms']['p99']}")  # fmt: skip
    r = report["creation_to_final"]
    lines.append(f"\nCreation -> final state at {r['rate_per_s']}/s, delay 1000 ms: p50/p95/p99 ms "
                 f"{r['latency_ms']['p50']}/{r['latency_ms']['p95']}/{r['latency_ms']['p99']}")  # fmt: skip
    for n in (1, 2):
        r = report[f"deliveries_{n}"]
        lines.append(
            f"Webhook deliveries, {n} dispatcher(s): {r['deliveries_per_s']}/s ({r['deliveries']}, {r['not_successful']} not successful)"
        )
    r = report["webhook_latency"]
    lines.append(f"Payment -> payment.success received at {r['rate_per_s']}/s, delay 0: p50/p95/p99 ms "
                 f"{r['latency_ms']['p50']}/{r['latency_ms']['p95']}/{r['latency_ms']['p99']}, never arrived {r['never_arrived']}")  # fmt: skip
    r = report["webhook_isolation"]
    lines.append(f"Healthy merchant beside a hanging one on the same host:port: delivery p50/p95 ms "
                 f"{r['healthy_latency_ms']['p50']}/{r['healthy_latency_ms']['p95']}, attempt p95 "
                 f"{r['healthy_attempt_ms']['p95']} ms, never arrived {r['never_arrived']}")  # fmt: skip
    lines += endpoints.table(report["endpoints"])
    r = report["lists"]
    lines.append(
        f"\nList endpoints, p95 ms at {r['rows_small']:,} / {r['rows_large']:,} rows (ratio)"
    )
    for name, ratio in r["p95_ratio"].items():
        lines.append(
            f"  {name:<20} {r['small_ms'][name]['p95']:>7} / {r['large_ms'][name]['p95']:<7} ({ratio})"
        )
    lines.append("\nProportional memory (MB), idle / under load")
    for name, idle in report["rss_idle_mb"].items():
        lines.append(f"  {name:<20} {idle:>7} / {report['rss_under_load_mb'].get(name, '-')}")
    lines.append(f"  {'all services':<20} {round(sum(report['rss_idle_mb'].values()), 1):>7}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--baseline", metavar="COMMIT", help="measure the cost section against this commit too"
    )
    parser.add_argument("--only-cost", action="store_true", help="only the cost section")
    parser.add_argument(
        "--only-endpoints", action="store_true",
        help="only the webhook endpoint sections (1 and 3 endpoints, a recovery beside traffic)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help="py-spy every process during each cost level (bench-results/profiles/)",
    )  # fmt: skip
    parser.add_argument(
        "--clients", type=lambda v: tuple(int(n) for n in v.split(",")), default=(1, 8, 32, 64),
        help="closed-loop levels of the cost section (default 1,8,32,64)",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, help="load per level (default 15, quick 5)")
    parser.add_argument("--idle-seconds", type=float, help="idle window (default 30, quick 10)")
    parser.add_argument(
        "--rounds", type=int, default=None,
        help="cost section rounds, figures are their medians (default 3 with --baseline, else 1)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rounds is None:
        args.rounds = 3 if args.baseline else 1
    started = time.monotonic()
    RESULTS.mkdir(exist_ok=True)
    report = run(args)
    report["duration_s"] = round(time.monotonic() - started, 1)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"\n{report['duration_s']} s; figures in {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
