"""`make chaos`: payments and refunds under load while workers, Redis and PostgreSQL fail.

Workers of each type are SIGKILLed and restarted, the API once, Redis is flushed once and
restarted once, PostgreSQL is restarted once; then every payment, refund and webhook is checked.

Starts its own embedded PostgreSQL and Redis in a temporary folder (never the machine's), the
services as `make run` starts them in test mode with two of each worker (one payment worker
declines, so both outcomes occur), and the test merchant's five webhook endpoints
(chaos.endpoints.ENDPOINTS): the default one answering 500 to a random 30 % of deliveries, two
more with event filters and receivers of their own, one nothing ever answers (disabled during
the run, WEBHOOK_ENDPOINT_DISABLE_AFTER=30s), and one whose receiver is down until the faults
are over (disabled too), then enabled again and recovered since the start. Every random
choice comes from the printed seed (`--seed` repeats a run's plan; process scheduling still
varies). Prints a table with PASS/FAIL per check, writes bench-results/chaos.json, exits 1 on
any FAIL (3 when the hard --timeout is hit). Logs and each receiver's record of what it got
(deliveries*.jsonl) are in bench-results/chaos/.
"""

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from chaos.checks import as_json, run_checks
from chaos.client import ApiClient, Tally
from chaos.faults import FaultRunner, Log, plan_faults
from chaos.stack import Stack
from chaos.workload import (
    Traffic,
    list_payments,
    plan_payments,
    plan_refunds,
    send_payments,
    send_refunds,
)

RESULTS = Path("bench-results")
OUT_DIR = RESULTS / "chaos"
# Webhook retries after 5+10+15+20 s, plus the 60 s lease of a delivery whose dispatcher died,
# so a quiet system comes about 110 s after the last fault at worst.
DRAIN_TIMEOUT_S = 180.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="repeat a run's plan (default: a new seed)")
    parser.add_argument("--payments", type=int, default=1400, help="payments to create")
    parser.add_argument("--refunds", type=int, default=600, help="refunds to create")
    parser.add_argument("--clients", type=int, default=6, help="concurrent clients")
    parser.add_argument("--rate", type=float, default=40.0,
                        help="payments (order + payment) started per second")  # fmt: skip
    parser.add_argument("--refund-rate", type=float, default=20.0,
                        help="refund requests started per second")  # fmt: skip
    parser.add_argument("--replicas", type=int, default=2, help="processes of each worker type")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILLs of each worker type")
    parser.add_argument("--api-kills", type=int, default=1, help="SIGKILLs of the API")
    parser.add_argument("--bursts", type=int, default=15,
                        help="payments refunded by 4 concurrent requests")  # fmt: skip
    parser.add_argument("--fail-rate", type=float, default=0.3,
                        help="share of deliveries the receiver answers with 500")  # fmt: skip
    parser.add_argument("--delay-ms", type=int, default=200, help="TEST_PROCESSING_DELAY")
    parser.add_argument("--no-declines", action="store_true",
                        help="every payment succeeds (no payment-worker replica that declines)")  # fmt: skip
    parser.add_argument("--timeout", type=int, default=900, help="hard limit for the whole run, s")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    log = Log()
    log(f"chaos run, seed {seed} (repeat with: uv run --no-sync python -m chaos --seed {seed})")
    data_dir = Path(tempfile.mkdtemp(prefix="chaos-"))
    stack = Stack(data_dir / "servers", OUT_DIR, replicas=args.replicas, delay_ms=args.delay_ms,
                  fail_rate=args.fail_rate, seed=seed, declining_replica=not args.no_declines)  # fmt: skip
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "seed": seed,
        "options": {k: v for k, v in vars(args).items() if k != "seed"},
    }

    def out_of_time(signum: int, frame: FrameType | None) -> None:
        log(f"FAIL: the run exceeded --timeout {args.timeout} s; stopping everything")
        report["timed_out"] = True
        report["passed"] = False
        _write(report)
        stack.kill_everything()
        shutil.rmtree(data_dir, ignore_errors=True)
        os._exit(3)

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.timeout)
    try:
        report |= run(args, seed, stack, log)
    except Exception as exc:
        log(f"FAIL: the run broke off: {type(exc).__name__}: {exc}")
        report |= {"error": f"{type(exc).__name__}: {exc}", "passed": False}
        _write(report)
        raise
    finally:
        signal.alarm(0)
        log("stopping the system")
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    report["duration_s"] = round(time.monotonic() - log.started, 1)
    _write(report)
    print(table(report))
    print(f"\nseed {seed}; {report['duration_s']} s; figures in {RESULTS / 'chaos.json'}, "
          f"logs and deliveries in {OUT_DIR}/")  # fmt: skip
    return 0 if report["passed"] else 1


def run(args: argparse.Namespace, seed: int, stack: Stack, log: Log) -> dict[str, Any]:
    timings: dict[str, float | None] = {}
    started_at = datetime.now(UTC)
    log("starting embedded PostgreSQL and Redis, migrating, starting the services")
    stack.start()
    assert stack.system is not None
    api_url = stack.system.api_url
    timings["startup_s"] = log.elapsed()
    log(f"up: api {api_url}, {args.replicas} of each worker, endpoints "
        + ", ".join(f"{n} {e.url} ({'nothing listens' if e.plan.fail_rate is None else 'down until recovered' if e.plan.down_until_recovery else f'failing {e.plan.fail_rate:.0%}'})"
                    for n, e in stack.endpoints.items()))  # fmt: skip

    tally, traffic = Tally(), Traffic()
    payment_plans = plan_payments(random.Random(f"{seed}-payments"), args.payments, seed)
    payments_s = args.payments / args.rate
    # The planned refunds plus over-amount ones (about 12 %) and those of failed payments.
    refunds_s = (args.refunds * 1.12 + 10) / args.refund_rate
    faults = plan_faults(
        random.Random(f"{seed}-faults"), payments_s, refunds_s, args.kills, args.api_kills
    )
    runner = FaultRunner(stack, faults, log)

    log(f"payments: {args.payments} at {args.rate:g}/s from {args.clients} clients; "
        f"{len(faults)} faults planned")  # fmt: skip
    runner.begin_phase("payments")
    send_payments(api_url, payment_plans, args.clients, args.rate, tally, traffic, seed)
    timings["payments_phase_s"] = round(time.monotonic() - runner.load_started, 1)

    with ApiClient(api_url, tally, seed) as client:
        _wait_for_payments_final(client, log)
        successful = list_payments(client, "success")
        failed = list_payments(client, "failed")
    traffic.successful_listed, traffic.failed_listed = len(successful), len(failed)
    scripts = plan_refunds(random.Random(f"{seed}-refunds"), seed, successful, list(failed),
                           args.refunds, args.bursts)  # fmt: skip
    requests = sum(len(s.refunds) for s in scripts)
    log(f"refunds: {requests} requests over {len(scripts)} payments "
        f"({len(successful)} successful, {len(failed)} failed payments listed)")  # fmt: skip
    refunds_started = time.monotonic()
    runner.begin_phase("refunds")
    send_refunds(api_url, scripts, args.clients, args.refund_rate, tally, traffic, seed)
    timings["refunds_phase_s"] = round(time.monotonic() - refunds_started, 1)

    log("load sent; waiting for the remaining faults")
    runner.join(timeout=120)
    timings["load_s"] = round(time.monotonic() - runner.load_started, 1)
    last_fault = runner.last_fault_ended or time.monotonic()
    log("waiting until nothing is pending (payments, refunds, webhook deliveries)")
    quiet_at, pending = _wait_until_quiet(stack, DRAIN_TIMEOUT_S, log)
    quiet_after = round(quiet_at - last_fault, 1) if quiet_at is not None else None
    # The merchant's server is back: the endpoint disabled meanwhile is enabled again and
    # recovered since before the first event.
    log("recovering the endpoint whose receiver was down: receiver up, enabled, recover")
    recovery_started = time.monotonic()
    enabled_again_at = datetime.now(UTC)
    recovery = stack.recover_endpoint("recovered", since=started_at)
    log(f"  recover queued {recovery['queued']} events; waiting until they are delivered")
    recovered_at, pending_after_recovery = _wait_until_quiet(stack, DRAIN_TIMEOUT_S, log)
    timings["recovery_s"] = (
        round(recovered_at - recovery_started, 1) if recovered_at is not None else None
    )
    endpoints: dict[str, dict[str, Any]] = {
        name: {"id": e.id, "plan": e.plan, "state": state}
        for (name, e), state in zip(
            stack.endpoints.items(), stack.endpoint_states().values(), strict=True
        )
    }
    endpoints["recovered"] |= {
        "before_recovery": recovery["before"],
        "enabled_again_at": enabled_again_at,
        "recovery": recovery,
    }
    unregistered = _wait_for_registrations(stack)
    workers_at_end = {q: n["workers"] for q, n in stack.job_status()["queues"].items()}
    log("checking PostgreSQL, each receiver's record and the clients' answers")
    context = {
        "fault_errors": runner.errors + ([] if runner.done else ["faults still running"]),
        "faults_applied": len(runner.applied),
        "unexpected_exits": stack.unexpected_exits,
        "supervisor_errors": stack.supervisor_errors,
        "quiet_after_last_fault_s": quiet_after if recovered_at is not None else None,
        "drain_timeout_s": DRAIN_TIMEOUT_S,
        "pending": pending if quiet_at is None else pending_after_recovery,
        "workers_at_end": workers_at_end,
        "unregistered_workers": unregistered,
    }
    with stack.database() as conn:
        checks, figures = run_checks(
            conn, traffic, tally.figures(), stack.deliveries(), endpoints, context
        )
    figures["refunds"]["payments_listed_successful"] = traffic.successful_listed
    figures["refunds"]["payments_listed_failed"] = traffic.failed_listed
    return {
        "timings": timings,
        "faults": [
            {
                "phase": a.fault.phase,
                "at_s": round(a.started_s, 1),
                "kind": a.fault.kind,
                "target": a.fault.target,
                "took_s": round(a.ended_s - a.started_s, 1),
                "detail": a.detail,
            }
            for a in runner.applied
        ],
        "figures": figures,
        "unexpected_exits": stack.unexpected_exits,
        "checks": as_json(checks),
        "passed": all(c.passed for c in checks),
    }


def _wait_for_payments_final(client: ApiClient, log: Log, timeout: float = 30.0) -> None:
    """Refund only what a merchant would see as settled: wait for pending payments to finish."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = client.get("/api/v1/payments", {"status": "pending", "limit": 1})
        if page is not None and page.status_code == 200 and page.json()["total"] == 0:
            return
        time.sleep(0.5)
    log("  some payments are still pending; refunding the successful ones")


def _wait_until_quiet(
    stack: Stack, timeout: float, log: Log
) -> tuple[float | None, dict[str, int]]:
    deadline = time.monotonic() + timeout
    pending: dict[str, int] = {}
    shown = 0.0
    while time.monotonic() < deadline:
        try:
            pending = stack.pending_work()
        except Exception as exc:  # e.g. PostgreSQL still recovering: look again
            pending = {"error": str(exc)}  # type: ignore[dict-item]
        else:
            if not any(pending.values()):
                return time.monotonic(), pending
        if time.monotonic() - shown > 10:
            log(f"  pending: {pending}")
            shown = time.monotonic()
        time.sleep(0.25)
    return None, pending


def _wait_for_registrations(stack: Stack, timeout: float = 20.0) -> list[str]:
    """Running workers that RQ's registry misses, once each has had time to register again."""
    deadline = time.monotonic() + timeout
    while (missing := stack.unregistered_workers()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return missing


def _write(report: dict[str, Any]) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chaos.json").write_text(json.dumps(report, indent=2, default=str))


def table(report: dict[str, Any]) -> str:
    f = report["figures"]
    p, r, w, c = f["payments"], f["refunds"], f["webhooks"], f["clients"]
    t = report["timings"]
    lines = [
        "",
        f"Chaos run, seed {report['seed']}",
        f"  load {t['load_s']} s (payments {t['payments_phase_s']} s, refunds "
        f"{t['refunds_phase_s']} s) after {t['startup_s']} s of startup",
        "",
        "Faults",
    ]
    for fault in report["faults"]:
        lines.append(f"  {fault['at_s']:6.1f} s  {fault['kind']:<17} {fault['detail']}")
    lines += [
        "",
        "Figures",
        f"  payments            {p['in_database']} in PostgreSQL ({p['success']} success, "
        f"{p['failed']} failed, {p['pending']} pending); {p['acknowledged_to_clients']} "
        f"acknowledged to clients, {p['unacknowledged']} not; {p['orders_paid_twice']} orders "
        "paid twice",
        f"  refunds             {r['in_database']} in PostgreSQL ({r['processed']} processed, "
        f"{r['pending']} pending) over {r['payments_refunded']} payments, "
        f"{r['payments_fully_refunded']} fully refunded",
        f"  refund requests     {_pairs(f['refund_requests'])}",
        f"  webhook events      {w['events_stored']} stored ({_pairs(w['events_by_type'])})",
        f"  deliveries          {w['deliveries_logged']} logged: {w['logs_success']} success, "
        f"{w['logs_failed']} failed ({_pairs(w['logs_ended'])}), {w['logs_pending']} pending",
    ]
    for name, e in w["endpoints"].items():
        if e.get("expected"):
            lines.append(
                f"  endpoint {name:<10} {e['expected']} events taken, {e.get('delivered', 0)} "
                f"answered 2xx, {e.get('failed_after_5', 0)} failed after 5 attempts; "
                f"{e['requests']} requests; {e.get('events_2xx_more_than_once', 0)} events 2xx "
                f"more than once ({e.get('2xx_beyond_recorded', 0)} beyond those recorded)"
            )
    rec = w["recovered"]
    lines += [
        f"  disabled            {_pairs(w['disabled_events'])} webhook_endpoint.disabled events",
        f"  recovered endpoint  recover queued {rec.get('queued', 0)}; "
        f"{rec.get('answered_once', 0)}/{rec.get('events', 0)} events answered 2xx exactly once, "
        f"in {t.get('recovery_s')} s",
        f"  attempts            {_pairs(w['attempts_by_outcome'])}",
        f"  clients             {c['requests']} requests; retried {c['retried_after_503']} "
        f"503s, {c['retried_after_connection_error']} connection errors, "
        f"{c['retried_after_409_in_progress']} 409s; {c['replayed_responses']} replays; "
        f"{c['ambiguous_retries_without_key']} unsafe retries without a key",
        f"  quiet               {f['quiet_after_last_fault_s']} s after the last fault",
        "",
        "Checks",
    ]
    for check in report["checks"]:
        verdict = "PASS" if check["passed"] else "FAIL"
        lines.append(f"  {verdict}  {check['name']:<60} {check['figure']}")
        lines += [f"          {problem}" for problem in check["problems"]]
    for failed in w["failed_logs"]:
        lines.append(f"  note: webhook {failed['id']} {failed['event']} to {failed['endpoint']} "
                     f"failed after {failed['attempts']} attempts")  # fmt: skip
    lines += ["", "PASS" if report["passed"] else "FAIL"]
    return "\n".join(lines)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items())


if __name__ == "__main__":
    sys.exit(main())
