"""`make bench`: order and payment creation, worker throughput, webhook delivery, memory.

Starts its own system in test mode (the same commands as `make run`) against the test
servers (TEST_DATABASE_URL/TEST_REDIS_URL, else embedded ones), prints a table and writes
bench-results/latest.json. `--quick` shortens every section for a smoke run (and lists grow to 100k rows, not 1M).
"""

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench import sections
from bench.system import System, reset_database
from devstack.servers import test_servers

RESULTS = Path("bench-results")


def bench_database(database_url: str) -> str:
    name = psycopg.conninfo.conninfo_to_dict(database_url).get("dbname", "postgres")
    return psycopg.conninfo.make_conninfo(database_url, dbname=f"{name}_bench")


def run(quick: bool) -> dict:
    seconds = 3 if quick else 10
    report: dict = {"started_at": datetime.now(UTC).isoformat(), "quick": quick}
    with test_servers() as (database_url, redis_url):
        database_url = bench_database(database_url)
        reset_database(database_url)
        redis_db = redis_url.rsplit("/", 1)
        redis_url = (
            f"{redis_db[0]}/{(int(redis_db[1] or 0) + 15) % 16}"
            if len(redis_db) == 2
            else redis_url
        )
        __import__("redis").Redis.from_url(redis_url).flushdb()

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
            report["rss_idle_mb"] = system.resident_mb()
            print("creation (closed loop) ...", flush=True)
            report["creation"] = sections.creation(system, seconds)
            report["rss_under_load_mb"] = report["creation"]["c32"]["rss_mb"]
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
            print("list endpoints at 10k and 1M rows ...", flush=True)
            report["lists"] = sections.list_latency(
                system, database_url, 10_000, 100_000 if quick else 1_000_000, 50 if quick else 200
            )
        finally:
            system.stop_all()
    return report


def table(report: dict) -> str:
    lines = ["", "Order + payment creation (closed loop, one API process)"]
    lines.append(
        f"  {'clients':>7} {'orders/s':>9} {'payments/s':>10} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}"
    )
    for key in ("c1", "c8", "c32"):
        r = report["creation"][key]
        lines.append(f"  {r['concurrency']:>7} {r['orders_per_s']:>9} {r['payments_per_s']:>10} "
                     f"{r['all_ms']['p50']:>7} {r['all_ms']['p95']:>7} {r['all_ms']['p99']:>7} {r['errors']:>6}")  # fmt: skip
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
    args = parser.parse_args()
    started = time.monotonic()
    report = run(args.quick)
    report["duration_s"] = round(time.monotonic() - started, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"\n{report['duration_s']} s; figures in {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
