"""What must hold once the system is quiet, read from PostgreSQL, from the receiver's record of
every request it got, and from what the clients were answered."""

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import DictRow

from chaos.workload import ALREADY_PAID, BURST_SHARE, EXCEEDS, NOT_REFUNDABLE, Traffic

SHOWN = 5  # offending items shown per failed check
OUTCOME_EVENTS = ("payment.success", "payment.failed")


@dataclass
class Check:
    name: str
    passed: bool
    figure: str
    problems: list[str] = field(default_factory=list)


def _snapshot(conn: psycopg.Connection[DictRow]) -> dict[str, list[dict[str, Any]]]:
    return {
        "payments": conn.execute(
            "SELECT p.id, p.order_id, p.amount, p.status, p.error_code, p.amount_refunded,"
            " o.status AS order_status, o.amount AS order_amount"
            " FROM payments p JOIN orders o ON o.id = p.order_id"
        ).fetchall(),
        "refunds": conn.execute("SELECT id, payment_id, amount, status FROM refunds").fetchall(),
        "logs": conn.execute(
            "SELECT id::text AS id, event, status, attempts, payload FROM webhook_logs"
        ).fetchall(),
        "attempts": conn.execute(
            "SELECT webhook_log_id::text AS id, count(*) AS attempts,"
            " count(*) FILTER (WHERE response_code BETWEEN 200 AND 299) AS successes"
            " FROM webhook_attempts GROUP BY 1"
        ).fetchall(),
        "attempt_outcomes": conn.execute(
            "SELECT coalesce(response_code::text, split_part(error, ':', 1)) AS outcome,"
            " count(*) AS n FROM webhook_attempts GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall(),
    }


def _subject(log: dict[str, Any]) -> tuple[str, str]:
    """('payment' | 'refund', id) of the resource an event is about."""
    data = json.loads(log["payload"])["data"]
    kind = "refund" if "refund" in data else "payment"
    return kind, data[kind]["id"]


def run_checks(
    conn: psycopg.Connection[DictRow],
    traffic: Traffic,
    tally: dict[str, Any],
    deliveries: list[dict[str, Any]],
    context: dict[str, Any],
) -> tuple[list[Check], dict[str, Any]]:
    snap = _snapshot(conn)
    payments = {p["id"]: p for p in snap["payments"]}
    refunds = {r["id"]: r for r in snap["refunds"]}
    logs = {log["id"]: log for log in snap["logs"]}
    attempts = {a["id"]: a for a in snap["attempts"]}
    events: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for log in logs.values():
        if log["event"] != "webhook.test":
            events[_subject(log)][log["event"]] += 1
    checks: list[Check] = []
    figures: dict[str, Any] = {}

    checks += _payment_checks(traffic, payments, refunds, events, figures)
    checks += _refund_checks(traffic, payments, refunds, events, figures)
    checks += _client_checks(traffic, tally, figures)

    checks.extend(_webhook_checks(logs, attempts, deliveries, figures))
    figures["webhooks"]["attempts_by_outcome"] = {
        row["outcome"]: row["n"] for row in snap["attempt_outcomes"]
    }
    checks.extend(_run_checks(context, figures))
    return checks, figures


def _payment_checks(
    traffic: Traffic,
    payments: dict[str, Any],
    refunds: dict[str, Any],
    events: dict[tuple[str, str], Counter[str]],
    figures: dict[str, Any],
) -> list[Check]:
    """Every acknowledged payment exists, in one final state, with one outcome event; orders
    are paid exactly once."""
    checks: list[Check] = []
    acknowledged = {o.payment_id for o in traffic.payments if o.payment_id}
    statuses = Counter(p["status"] for p in payments.values())
    lost = sorted(acknowledged - payments.keys())
    unanswered = [o for o in traffic.payments if o.payment_id is None]
    # An "Order already paid" answer to a retried payment without a key means the first
    # attempt committed: its payment exists, unacknowledged, and no second one was made. To
    # one of several concurrent payments of an order, it means another one succeeded first.
    paid_orders = Counter(p["order_id"] for p in payments.values())
    successes = Counter(p["order_id"] for p in payments.values() if p["status"] == "success")
    unexplained = [
        o for o in unanswered
        if not (o.error and ALREADY_PAID in o.error and (
            successes[o.order_id] == 1 if o.plan.rivals else paid_orders[o.order_id] == 1))
    ]  # fmt: skip
    figures["payments"] = {
        "in_database": len(payments),
        "acknowledged_to_clients": len(acknowledged),
        "success": statuses["success"],
        "failed": statuses["failed"],
        "pending": statuses["pending"],
        "unacknowledged": len(payments.keys() - acknowledged),
        "requests_without_201": len(unanswered),
        "orders_paid_twice": sum(1 for n in Counter(
            p["order_id"] for p in payments.values() if p["status"] == "success"
        ).values() if n > 1),
    }  # fmt: skip
    checks.append(Check(
        "payments: none lost, every request answered",
        not lost and not unexplained,
        f"{len(acknowledged)} acknowledged, {len(lost)} missing, {len(unexplained)} unanswered",
        [f"lost {p}" for p in lost[:SHOWN]]
        + [f"payment #{o.plan.number}: {o.error}" for o in unexplained[:SHOWN]],
    ))  # fmt: skip
    not_final = [p for p in payments.values() if p["status"] not in ("success", "failed")]
    checks.append(Check(
        "payments: each in one final state",
        not not_final,
        f"{statuses['success']} success, {statuses['failed']} failed, {len(not_final)} other",
        [f"{p['id']} {p['status']}" for p in not_final[:SHOWN]],
    ))  # fmt: skip
    bad_outcome = []
    for p in payments.values():
        seen = events[("payment", p["id"])]
        outcome = {e: seen[e] for e in OUTCOME_EVENTS if seen[e]}
        if outcome != {f"payment.{p['status']}": 1}:
            bad_outcome.append(f"{p['id']} {p['status']}: outcome events {outcome}")
    checks.append(Check(
        "payments: exactly one payment.success|failed event",
        not bad_outcome,
        f"{len(payments) - len(bad_outcome)}/{len(payments)} with exactly one, matching",
        bad_outcome[:SHOWN],
    ))  # fmt: skip
    bad_created = [
        f"payment {pid}: {dict(events[('payment', pid)])}"
        for pid in payments
        if (events[("payment", pid)]["payment.created"], events[("payment", pid)]["payment.pending"]) != (1, 1)
    ] + [
        f"refund {rid}: {dict(events[('refund', rid)])}"
        for rid in refunds
        if events[("refund", rid)]["refund.created"] != 1
    ]  # fmt: skip
    checks.append(Check(
        "creation events once (payment.created/pending, refund.created)",
        not bad_created,
        f"{len(bad_created)} payments/refunds without exactly one",
        bad_created[:SHOWN],
    ))  # fmt: skip
    # An order may hold two payments when a client retried a payment without a key.
    succeeded_orders = {p["order_id"] for p in payments.values() if p["status"] == "success"}
    bad_orders = [
        f"{p['order_id']} is {p['order_status']}, its payment {p['id']} {p['status']}"
        for p in payments.values()
        if (p["order_id"] in succeeded_orders) != (p["order_status"] == "paid")
    ]
    checks.append(Check(
        "orders: paid exactly when a payment of theirs succeeded",
        not bad_orders, f"{len(bad_orders)} wrong", bad_orders[:SHOWN],
    ))  # fmt: skip

    checks.append(_paid_once(traffic, payments, successes, figures))
    return checks


def _refund_checks(
    traffic: Traffic,
    payments: dict[str, Any],
    refunds: dict[str, Any],
    events: dict[tuple[str, str], Counter[str]],
    figures: dict[str, Any],
) -> list[Check]:
    """Every refund processed once with one event, never above its payment; answers as expected."""
    checks: list[Check] = []
    refund_statuses = Counter(r["status"] for r in refunds.values())
    bad_processed = []
    for r in refunds.values():
        processed_events = events[("refund", r["id"])]["refund.processed"]
        if r["status"] != "processed" or processed_events != 1:
            bad_processed.append(f"{r['id']} {r['status']}: {processed_events} refund.processed")
    figures["refunds"] = {
        "in_database": len(refunds),
        "processed": refund_statuses["processed"],
        "pending": refund_statuses["pending"],
        "acknowledged_to_clients": sum(1 for o in traffic.refunds if o.refund_id),
        "unacknowledged": len(refunds.keys() - {o.refund_id for o in traffic.refunds}),
    }
    checks.append(Check(
        "refunds: each processed once, one refund.processed",
        not bad_processed,
        f"{len(refunds) - len(bad_processed)}/{len(refunds)} processed with one event",
        bad_processed[:SHOWN],
    ))  # fmt: skip
    committed: Counter[str] = Counter()
    processed: Counter[str] = Counter()
    for r in refunds.values():
        if r["status"] in ("pending", "processed"):
            committed[r["payment_id"]] += r["amount"]
        if r["status"] == "processed":
            processed[r["payment_id"]] += r["amount"]
    bad_amounts = [
        f"{p['id']}: amount {p['amount']}, refunds {committed[p['id']]}, "
        f"amount_refunded {p['amount_refunded']} vs processed {processed[p['id']]}"
        for p in payments.values()
        if committed[p["id"]] > p["amount"] or p["amount_refunded"] != processed[p["id"]]
    ]
    figures["refunds"]["payments_refunded"] = len(committed)
    figures["refunds"]["payments_fully_refunded"] = sum(
        1 for pid, total in committed.items() if total == payments[pid]["amount"]
    )
    checks.append(Check(
        "refunds: never above the payment; amount_refunded = processed",
        not bad_amounts,
        f"{len(committed)} payments refunded, {len(bad_amounts)} wrong",
        bad_amounts[:SHOWN],
    ))  # fmt: skip
    checks.append(_refund_answers(traffic, refunds, figures))
    return checks


def _client_checks(
    traffic: Traffic,
    tally: dict[str, Any],
    figures: dict[str, Any],
) -> list[Check]:
    """Idempotent replays byte for byte; no 5xx but 503; no request given up."""
    checks: list[Check] = []
    replays_ok = sum(1 for r in traffic.replays if r.ok)
    checks.append(Check(
        "idempotent resubmits replayed byte for byte",
        replays_ok == len(traffic.replays),
        f"{replays_ok}/{len(traffic.replays)}",
        [f"{r.path}: {r.detail}" for r in traffic.replays if not r.ok][:SHOWN],
    ))  # fmt: skip
    figures["clients"] = {k: v for k, v in tally.items() if k not in ("server_errors", "gave_up")}
    figures["clients"]["server_errors"] = len(tally["server_errors"])
    figures["clients"]["gave_up"] = len(tally["gave_up"])
    checks.append(Check(
        "clients: no 5xx but 503, no request given up",
        not tally["server_errors"] and not tally["gave_up"],
        f"{len(tally['server_errors'])} 5xx, {len(tally['gave_up'])} given up, "
        f"{tally['retried_after_503']} 503s and {tally['retried_after_connection_error']} "
        f"connection errors retried",
        [f"{e['method']} {e['path']} -> {e['status']} {e['body']}" for e in tally["server_errors"][:SHOWN]]
        + [f"gave up {e['method']} {e['path']}: {e['last']}" for e in tally["gave_up"][:SHOWN]],
    ))  # fmt: skip
    return checks


def _paid_once(
    traffic: Traffic,
    payments: dict[str, dict[str, Any]],
    successes: Counter[str],
    figures: dict[str, Any],
) -> Check:
    """docs/api.md#one-successful-payment-per-order: an order has at most one successful payment,
    whatever the concurrency; a payment that lost the race ends failed ORDER_ALREADY_PAID, beside
    its order's success."""
    paid_twice = [order_id for order_id, n in successes.items() if n > 1]
    overpaid = {
        p["order_id"] for p in payments.values()
        if p["status"] == "success" and p["amount"] > p["order_amount"]
    }  # fmt: skip
    already_paid = [p for p in payments.values() if p["error_code"] == "ORDER_ALREADY_PAID"]
    orphaned = [p for p in already_paid if successes[p["order_id"]] != 1]
    raced = {o.order_id for o in traffic.payments if o.plan.rivals and o.order_id}
    figures["payments"]["orders_paid_concurrently"] = len(raced)
    figures["payments"]["failed_order_already_paid"] = len(already_paid)
    figures["payments"]["concurrent_refused_already_paid"] = sum(
        1 for o in traffic.payments
        if o.plan.rivals and o.payment_id is None and ALREADY_PAID in (o.error or "")
    )  # fmt: skip
    return Check(
        "orders: none with two successful payments",
        not paid_twice and not overpaid and not orphaned,
        f"{len(paid_twice)} paid twice; {len(raced)} orders paid by concurrent requests, "
        f"{len(already_paid)} payments failed ORDER_ALREADY_PAID",
        [f"{order_id}: {successes[order_id]} successful payments" for order_id in paid_twice[:SHOWN]]
        + [f"{order_id}: collected more than its amount" for order_id in sorted(overpaid)[:SHOWN]]
        + [f"{p['id']} failed ORDER_ALREADY_PAID but its order {p['order_id']} has "
           f"{successes[p['order_id']]} successful payments" for p in orphaned[:SHOWN]],
    )  # fmt: skip


def _refund_answers(
    traffic: Traffic, refunds: dict[str, dict[str, Any]], figures: dict[str, Any]
) -> Check:
    problems = []
    unacknowledged_by_payment = Counter(
        r["payment_id"] for rid, r in refunds.items()
        if rid not in {o.refund_id for o in traffic.refunds}
    )  # fmt: skip
    counts: Counter[str] = Counter()
    bursts: dict[str, list[Any]] = defaultdict(list)
    for o in traffic.refunds:
        plan = o.plan
        if o.refund_id and o.refund_id not in refunds:
            problems.append(f"acknowledged refund {o.refund_id} is not in the database")
        if o.burst:
            bursts[plan.payment_id].append(o)
            continue
        if plan.expect == "exceed":
            counts["over-amount requests"] += 1
            if o.status == 400 and o.description and EXCEEDS in o.description:
                counts["over-amount refused"] += 1
            else:
                problems.append(f"over-amount refund of {plan.payment_id} ({plan.amount}) got {o.status} {o.description or o.refund_id}")  # fmt: skip
        elif plan.expect == "not_refundable":
            counts["refunds of failed payments"] += 1
            if not (o.status == 400 and o.description and NOT_REFUNDABLE in o.description):
                problems.append(f"refund of failed payment {plan.payment_id} got {o.status} {o.description}")  # fmt: skip
        else:
            counts["valid requests"] += 1
            if o.status == 201:
                counts["valid accepted"] += 1
            elif o.status == 400 and unacknowledged_by_payment[plan.payment_id]:
                # An earlier retried request without a key was created twice.
                counts["valid refused after a client-side duplicate"] += 1
            else:
                problems.append(f"valid refund of {plan.payment_id} ({plan.amount}) got {o.status} {o.description}")  # fmt: skip
    most = int(1 / BURST_SHARE)
    for payment_id, outcomes in bursts.items():
        accepted = sum(1 for o in outcomes if o.status == 201)
        refused = sum(1 for o in outcomes if o.status == 400 and EXCEEDS in (o.description or ""))
        counts["concurrent bursts"] += 1
        counts["burst refunds accepted"] += accepted
        if accepted > most or accepted + refused != len(outcomes):
            problems.append(f"burst on {payment_id}: {accepted} accepted, {refused} refused of {len(outcomes)}")  # fmt: skip
    figures["refund_requests"] = dict(counts)
    return Check(
        "refund answers: valid accepted, over-amount refused (400)",
        not problems,
        f"{counts['valid accepted']}/{counts['valid requests']} valid accepted, "
        f"{counts['over-amount refused']}/{counts['over-amount requests']} over-amount refused, "
        f"{counts['concurrent bursts']} bursts ≤{most} accepted",
        problems[:SHOWN],
    )


def _webhook_checks(
    logs: dict[str, dict[str, Any]],
    attempts: dict[str, dict[str, Any]],
    deliveries: list[dict[str, Any]],
    figures: dict[str, Any],
) -> list[Check]:
    checks = []
    by_log: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in deliveries:
        by_log[d["webhook_id"]].append(d)
    bad_signature = [d for d in deliveries if not (d["hex_signature_valid"] and d["standard_signature_valid"])]  # fmt: skip
    wrong_body = [
        d for d in deliveries
        if d["webhook_id"] in logs and d["body"] != logs[d["webhook_id"]]["payload"]
    ]  # fmt: skip
    unknown = [d for d in deliveries if d["webhook_id"] not in logs]
    checks.append(Check(
        "deliveries: both signatures valid, body as logged",
        not bad_signature and not wrong_body and not unknown,
        f"{len(deliveries)} requests, {len(bad_signature)} bad signatures, "
        f"{len(wrong_body)} altered bodies",
        [f"bad signature on {d['webhook_id']}" for d in bad_signature[:SHOWN]]
        + [f"body of {d['webhook_id']} differs from its log" for d in wrong_body[:SHOWN]]
        + [f"delivery for unknown log {d['webhook_id']}" for d in unknown[:SHOWN]],
    ))  # fmt: skip
    delivered = {
        log_id for log_id, ds in by_log.items()
        if any(200 <= d["answered"] < 300 and d["hex_signature_valid"]
               and d["standard_signature_valid"] for d in ds)
    }  # fmt: skip
    statuses = Counter(log["status"] for log in logs.values())
    failed = [log for log in logs.values() if log["status"] == "failed"]
    undelivered = [
        log for log in logs.values() if log["id"] not in delivered and log["status"] != "failed"
    ]
    duplicates = sum(
        1 for ds in by_log.values() if sum(1 for d in ds if 200 <= d["answered"] < 300) > 1
    )
    figures["webhooks"] = {
        "events_logged": len(logs),
        "events_by_type": dict(Counter(log["event"] for log in logs.values())),
        "delivered_with_2xx": len(delivered & logs.keys()),
        "logs_success": statuses["success"],
        "logs_failed": statuses["failed"],
        "logs_pending": statuses["pending"],
        "requests_received": len(deliveries),
        "requests_answered_2xx": sum(1 for d in deliveries if 200 <= d["answered"] < 300),
        "events_2xx_more_than_once": duplicates,
        "failed_logs": [
            {"id": log["id"], "event": log["event"], "attempts": log["attempts"],
             "attempt_rows": attempts.get(log["id"], {}).get("attempts", 0),
             "requests_received": len(by_log[log["id"]])}
            for log in failed
        ],
    }  # fmt: skip
    checks.append(Check(
        "webhooks: every logged event delivered (2xx) at least once",
        not undelivered,
        f"{len(delivered & logs.keys())}/{len(logs)} delivered, {len(failed)} failed after 5 "
        f"attempts, {duplicates} delivered more than once",
        [f"{log['id']} {log['event']} {log['status']}, {log['attempts']} attempts, "
         f"{len(by_log[log['id']])} requests received" for log in undelivered[:SHOWN]],
    ))  # fmt: skip
    bad_final = [
        f"{log['id']} {log['event']} {log['status']} attempts={log['attempts']} "
        f"rows={attempts.get(log['id'], {}).get('attempts', 0)}"
        for log in logs.values()
        if log["status"] == "pending"
        or (log["status"] == "failed" and not (
            log["attempts"] == 5 and attempts.get(log["id"], {}).get("attempts") == 5
            and attempts[log["id"]]["successes"] == 0))
        or (log["status"] == "success" and not attempts.get(log["id"], {}).get("successes"))
    ]  # fmt: skip
    checks.append(Check(
        "webhook logs: all final; failed only after 5 failed attempts",
        not bad_final,
        f"{statuses['success']} success, {statuses['failed']} failed, {statuses['pending']} pending",
        bad_final[:SHOWN],
    ))  # fmt: skip
    return checks


def _run_checks(context: dict[str, Any], figures: dict[str, Any]) -> list[Check]:
    checks = [
        Check(
            "faults: all applied",
            not context["fault_errors"],
            f"{context['faults_applied']} applied",
            context["fault_errors"][:SHOWN],
        ),
        Check(
            "services: none exited on its own",
            not context["unexpected_exits"],
            f"{len(context['unexpected_exits'])} unexpected exits",
            [f"{e['service']} exited {e['exit_code']}" for e in context["unexpected_exits"]][:SHOWN]
            + context["supervisor_errors"][:SHOWN],
        ),
        Check(
            "quiet after the faults (nothing pending)",
            context["quiet_after_last_fault_s"] is not None,
            f"{context['quiet_after_last_fault_s']} s after the last fault"
            if context["quiet_after_last_fault_s"] is not None
            else f"still pending after {context['drain_timeout_s']} s: {context['pending']}",
        ),
        Check(
            "workers: every running replica registered (job status sees it)",
            not context["unregistered_workers"],
            f"job status counts {context['workers_at_end']} (SIGKILLed workers stay listed "
            "until their key expires)",
            context["unregistered_workers"][:SHOWN],
        ),
    ]
    figures["quiet_after_last_fault_s"] = context["quiet_after_last_fault_s"]
    figures["job_status_workers_at_end"] = context["workers_at_end"]
    return checks


def as_json(checks: list[Check]) -> list[dict[str, Any]]:
    return [asdict(c) for c in checks]
