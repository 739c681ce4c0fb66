"""What must hold once the system is quiet, read from PostgreSQL, from each endpoint's
receiver's record of every request it got, and from what the clients were answered."""

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import DictRow

from chaos.endpoints import DISABLED_REASON
from chaos.workload import ALREADY_PAID, BURST_SHARE, EXCEEDS, NOT_REFUNDABLE, Traffic
from webhook_dispatcher.retries import MAX_ATTEMPTS

SHOWN = 5  # offending items shown per failed check
OUTCOME_EVENTS = ("payment.success", "payment.failed")
# An attempt may begin this long after its endpoint was disabled: it was claimed before, and
# an attempt takes at most 5 s.
DISABLE_RACE_S = 5.0


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
            "SELECT id::text AS id, event_id::text AS event_id, endpoint_id, event, status,"
            " attempts, failure_reason, created_at FROM webhook_logs"
        ).fetchall(),
        "events": conn.execute(
            "SELECT id::text AS id, type, body, created_at FROM events"
        ).fetchall(),
        "attempts": conn.execute(
            "SELECT webhook_log_id::text AS id, count(*) AS attempts,"
            " count(*) FILTER (WHERE response_code BETWEEN 200 AND 299) AS successes,"
            " max(attempted_at) AS last_attempted_at"
            " FROM webhook_attempts GROUP BY 1"
        ).fetchall(),
        "attempt_outcomes": conn.execute(
            "SELECT coalesce(response_code::text, split_part(error, ':', 1)) AS outcome,"
            " count(*) AS n FROM webhook_attempts GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall(),
    }


def _subject(event: dict[str, Any]) -> tuple[str, str]:
    """('payment' | 'refund', id) of the resource an event is about."""
    data = json.loads(event["body"])["data"]
    kind = "refund" if "refund" in data else "payment"
    return kind, data[kind]["id"]


def run_checks(
    conn: psycopg.Connection[DictRow],
    traffic: Traffic,
    tally: dict[str, Any],
    deliveries: dict[str, list[dict[str, Any]]],
    endpoints: dict[str, dict[str, Any]],
    context: dict[str, Any],
) -> tuple[list[Check], dict[str, Any]]:
    """The checks and the figures. `deliveries`: each receiver's record, by endpoint name;
    `endpoints`: by name, {id, plan (EndpointPlan), state (the API's view at the end)}, and
    for the recovered one before_recovery, enabled_again_at and recovery (its answer)."""
    snap = _snapshot(conn)
    payments = {p["id"]: p for p in snap["payments"]}
    refunds = {r["id"]: r for r in snap["refunds"]}
    # Events as stored (every endpoint's deliveries carry them), by what they are about.
    events: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for event in snap["events"]:
        if event["type"] not in ("webhook.test", "webhook_endpoint.disabled"):
            events[_subject(event)][event["type"]] += 1
    checks: list[Check] = []
    figures: dict[str, Any] = {}

    checks += _payment_checks(traffic, payments, refunds, events, figures)
    checks += _refund_checks(traffic, payments, refunds, events, figures)
    checks += _client_checks(traffic, tally, figures)

    figures["webhooks"] = {
        "events_stored": len(snap["events"]),
        "events_by_type": dict(Counter(e["type"] for e in snap["events"])),
    }
    checks.extend(_webhook_checks(snap, deliveries, endpoints, figures))
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
    snap: dict[str, list[dict[str, Any]]],
    deliveries: dict[str, list[dict[str, Any]]],
    endpoints: dict[str, dict[str, Any]],
    figures: dict[str, Any],
) -> list[Check]:
    """Per endpoint (docs/webhooks.md#endpoints): what each receiver got is signed with that endpoint's
    secret, carries an event's stored body and a type its filter takes; every event reached
    every live endpoint that takes it, through exactly one delivery; the endpoints nobody
    answered were disabled once each, announced once, and logged nothing while disabled; the
    recovered one got every event it takes exactly once."""
    events = {e["id"]: e for e in snap["events"] if e["type"] != "webhook.test"}
    attempts = {a["id"]: a for a in snap["attempts"]}
    names = {info["id"]: name for name, info in endpoints.items()}
    logs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    strays = []
    for log in snap["logs"]:
        if log["event"] == "webhook.test":
            continue
        if log["endpoint_id"] in names:
            logs[(names[log["endpoint_id"]], log["event_id"])].append(log)
        else:
            strays.append(f"log {log['id']} for unknown endpoint {log['endpoint_id']}")
    received: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for name, ds in deliveries.items():
        for d in ds:
            received[(name, d["webhook_id"])].append(d)
    checks = [_delivery_check(events, deliveries, endpoints)]
    checks += _coverage_checks(events, logs, received, attempts, endpoints, strays, figures)
    checks.append(_disabled_check(events, logs, attempts, endpoints, figures))
    checks.append(_recovered_check(events, logs, received, endpoints, figures))
    checks.append(_final_logs_check(snap["logs"], attempts, endpoints, figures))
    return checks


def _answered_2xx(ds: list[dict[str, Any]]) -> int:
    return sum(
        1 for d in ds
        if 200 <= d["answered"] < 300 and d["hex_signature_valid"] and d["standard_signature_valid"]
    )  # fmt: skip


def _delivery_check(
    events: dict[str, dict[str, Any]],
    deliveries: dict[str, list[dict[str, Any]]],
    endpoints: dict[str, dict[str, Any]],
) -> Check:
    problems = []
    total = 0
    for name, ds in deliveries.items():
        plan = endpoints[name]["plan"]
        for d in ds:
            total += 1
            event = events.get(d["webhook_id"] or "")
            if not (d["hex_signature_valid"] and d["standard_signature_valid"]):
                problems.append(f"{name}: bad signature on {d['webhook_id']}")
            elif event is None:
                problems.append(f"{name}: webhook-id {d['webhook_id']} is no stored event")
            elif d["body"] != event["body"]:
                problems.append(f"{name}: body of {d['webhook_id']} differs from the event's")
            elif not plan.takes(event["type"]):
                problems.append(f"{name}: got {event['type']}, which its filter does not take")
    return Check(
        "deliveries: each endpoint's own signature, the event's body, types it takes",
        not problems,
        f"{total} requests at {len(deliveries)} receivers, {len(problems)} wrong",
        problems[:SHOWN],
    )


def _coverage_checks(
    events: dict[str, dict[str, Any]],
    logs: dict[tuple[str, str], list[dict[str, Any]]],
    received: dict[tuple[str, str], list[dict[str, Any]]],
    attempts: dict[str, dict[str, Any]],
    endpoints: dict[str, dict[str, Any]],
    strays: list[str],
    figures: dict[str, Any],
) -> list[Check]:
    """Live endpoints: each event taken has one delivery, answered 2xx (or failed after five
    attempts); a 2xx recorded was answered by the receiver; more 2xx than recorded is the
    at-least-once of a dispatcher killed between the answer and its record."""
    undelivered, doubled, unrecorded_claims = [], list(strays), []
    per_endpoint: dict[str, dict[str, int]] = {}
    for name, info in endpoints.items():
        plan = info["plan"]
        counts: Counter[str] = Counter()
        for event in events.values():
            event_logs = logs.get((name, event["id"]), [])
            if not plan.takes(event["type"]):
                if event_logs:
                    doubled.append(f"{name}: {event['type']} {event['id']} logged, not taken")
                continue
            if plan.dead:
                continue  # _disabled_check and _recovered_check
            counts["expected"] += 1
            if len(event_logs) != 1:
                doubled.append(
                    f"{name}: {len(event_logs)} deliveries of {event['type']} {event['id']}"
                )
                if not event_logs:
                    continue
            log = event_logs[0]
            got = _answered_2xx(received.get((name, event["id"]), []))
            recorded = sum(attempts.get(x["id"], {}).get("successes", 0) for x in event_logs)
            if got:
                counts["delivered"] += 1
            elif log["status"] == "failed":
                counts["failed_after_5"] += 1
            else:
                undelivered.append(f"{name}: {event['type']} {event['id']} {log['status']}, "
                                   f"{log['attempts']} attempts, no 2xx received")  # fmt: skip
            if got < recorded:
                unrecorded_claims.append(f"{name}: {event['id']} {recorded} 2xx recorded, {got} answered")  # fmt: skip
            counts["2xx_beyond_recorded"] += max(0, got - recorded)
            counts["events_2xx_more_than_once"] += got > 1
        counts["requests"] = len([d for (n, _), ds in received.items() if n == name for d in ds])
        per_endpoint[name] = dict(counts)
    figures["webhooks"]["endpoints"] = per_endpoint
    live = [n for n, info in endpoints.items() if not info["plan"].dead]
    expected = sum(per_endpoint[n].get("expected", 0) for n in live)
    delivered = sum(per_endpoint[n].get("delivered", 0) for n in live)
    failed = sum(per_endpoint[n].get("failed_after_5", 0) for n in live)
    beyond = sum(per_endpoint[n].get("2xx_beyond_recorded", 0) for n in live)
    return [
        Check(
            "webhooks: every event reached (2xx) every live endpoint taking it",
            not undelivered,
            f"{delivered}/{expected} (event, endpoint) pairs over {len(live)} live endpoints, "
            f"{failed} failed after 5 attempts",
            undelivered[:SHOWN],
        ),
        Check(
            "webhooks: one delivery per event and endpoint, none for types not taken",
            not doubled,
            f"{len(doubled)} wrong",
            doubled[:SHOWN],
        ),
        Check(
            "webhooks: a 2xx only once per recorded success (bar killed dispatchers)",
            not unrecorded_claims,
            f"{beyond} 2xx beyond those recorded (a dispatcher killed between the answer and "
            "its record: at least once)",
            unrecorded_claims[:SHOWN],
        ),
    ]


def _disabled_check(
    events: dict[str, dict[str, Any]],
    logs: dict[tuple[str, str], list[dict[str, Any]]],
    attempts: dict[str, dict[str, Any]],
    endpoints: dict[str, dict[str, Any]],
    figures: dict[str, Any],
) -> Check:
    """Each endpoint nobody answered: disabled automatically with the reason, exactly one
    webhook_endpoint.disabled event for it, and nothing sent to it while disabled: no attempt
    began later than DISABLE_RACE_S after the disabling (one claimed before it committed may
    still be on its way), and a delivery logged once the disabling had begun that was never
    attempted ended "endpoint disabled". The event's time is its transaction's start, not its
    commit: a delivery logged by an event whose transaction read the endpoint before the
    disabling committed, and claimed before it too, is sent within that bound."""
    announced: Counter[str] = Counter()
    disabled_at: dict[str, Any] = {}
    for event in events.values():
        if event["type"] == "webhook_endpoint.disabled":
            endpoint_id = json.loads(event["body"])["data"]["endpoint"]["id"]
            announced[endpoint_id] += 1
            disabled_at.setdefault(endpoint_id, event["created_at"])
    problems, racing = [], 0
    for name, info in endpoints.items():
        if not info["plan"].dead:
            if announced[info["id"]]:
                problems.append(f"{name} (live) was disabled")
            continue
        state = info.get("before_recovery") or info["state"]
        if (state["status"], state["disabled_reason"]) != ("disabled", DISABLED_REASON):
            problems.append(f"{name}: {state['status']}, reason {state['disabled_reason']!r}")
        if announced[info["id"]] != 1:
            problems.append(f"{name}: {announced[info['id']]} webhook_endpoint.disabled events")
        since = disabled_at.get(info["id"])
        if since is None:
            continue
        until = info.get("enabled_again_at")
        for (endpoint, _), event_logs in logs.items():
            if endpoint != name:
                continue
            for log in event_logs:
                if until is not None and log["created_at"] >= until:
                    continue  # enabled again: recovered or new
                tried = attempts.get(log["id"], {})
                last = tried.get("last_attempted_at")
                if last is not None and (last - since).total_seconds() > DISABLE_RACE_S:
                    problems.append(f"{name}: {log['id']} attempted at {last}, disabled at {since}")
                if log["created_at"] > since:
                    racing += 1
                    if not tried.get("attempts") and log["failure_reason"] != "endpoint disabled":
                        problems.append(f"{name}: {log['id']} logged while disabled, "
                                        f"{log['status']} {log['failure_reason']}")  # fmt: skip
    figures["webhooks"]["disabled_events"] = {
        name: announced[info["id"]] for name, info in endpoints.items()
    }
    figures["webhooks"]["logged_racing_the_disabling"] = racing
    dead = [n for n, info in endpoints.items() if info["plan"].dead]
    return Check(
        "disabled endpoints: disabled once, announced once, sent nothing while disabled",
        not problems,
        f"{', '.join(dead)} disabled with {sum(announced[endpoints[n]['id']] for n in dead)} "
        f"events; {racing} deliveries logged once the disabling had begun",
        problems[:SHOWN],
    )


def _recovered_check(
    events: dict[str, dict[str, Any]],
    logs: dict[tuple[str, str], list[dict[str, Any]]],
    received: dict[tuple[str, str], list[dict[str, Any]]],
    endpoints: dict[str, dict[str, Any]],
    figures: dict[str, Any],
) -> Check:
    """After the faults the recovered endpoint's receiver is up, and it is enabled again and
    recovered since the start: every event it takes is answered 2xx exactly once (no fault
    runs then), with one successful delivery in PostgreSQL; or, its receiver failing a share
    of requests, its delivery failed after all MAX_ATTEMPTS attempts, each one received and
    answered non-2xx (at 20 %, 0.2^5 per event: one run in three has such an event)."""
    problems = []
    counts: Counter[str] = Counter()
    for name, info in endpoints.items():
        if not info.get("recovery"):
            continue
        plan = info["plan"]
        for event in events.values():
            if not plan.takes(event["type"]):
                continue
            counts["events"] += 1
            answers = received.get((name, event["id"]), [])
            got = _answered_2xx(answers)
            event_logs = logs.get((name, event["id"]), [])
            successes = sum(1 for x in event_logs if x["status"] == "success")
            exhausted = (
                got == 0 and successes == 0 and len(answers) >= MAX_ATTEMPTS
                and any(x["status"] == "failed" and x["attempts"] == MAX_ATTEMPTS
                        for x in event_logs)
            )  # fmt: skip
            counts["answered_once"] += got == 1
            counts["failed_after_5"] += exhausted
            if (got != 1 or successes != 1) and not exhausted:
                problems.append(f"{name}: {event['type']} {event['id']} answered 2xx {got} "
                                f"times, {successes} successful deliveries")  # fmt: skip
        counts["queued"] += info["recovery"]["queued"]
        missed = sum(
            1 for e in events.values()
            if plan.takes(e["type"]) and e["created_at"] < info["enabled_again_at"]
        )  # fmt: skip
        if info["recovery"]["queued"] != missed:
            problems.append(f"{name}: recover queued {info['recovery']['queued']}, "
                            f"{missed} events were missed")  # fmt: skip
        if info["state"]["status"] != "enabled":
            problems.append(f"{name}: {info['state']['status']} at the end")
    figures["webhooks"]["recovered"] = dict(counts)
    return Check(
        "recovered endpoint: every event it takes answered once (or failed 5 times)",
        not problems,
        f"{counts['answered_once']}/{counts['events']} events exactly once, "
        f"{counts['failed_after_5']} failed after {MAX_ATTEMPTS} attempts each answered 500; "
        f"recover queued {counts['queued']}",
        problems[:SHOWN],
    )


def _final_logs_check(
    logs: list[dict[str, Any]],
    attempts: dict[str, dict[str, Any]],
    endpoints: dict[str, dict[str, Any]],
    figures: dict[str, Any],
) -> Check:
    """Every delivery final: success with a 2xx attempt, or failed after five failed attempts
    or because its endpoint was disabled (docs/webhooks.md#endpoints)."""
    dead = {info["id"] for info in endpoints.values() if info["plan"].dead}
    statuses = Counter(log["status"] for log in logs)
    ended = Counter(log["failure_reason"] for log in logs if log["failure_reason"])
    bad = []
    for log in logs:
        tried = attempts.get(log["id"], {"attempts": 0, "successes": 0})
        if log["status"] == "pending":
            bad.append(f"{log['id']} {log['event']} pending")
        elif log["status"] == "success" and not tried["successes"]:
            bad.append(f"{log['id']} {log['event']} success without a 2xx attempt")
        elif log["status"] == "failed" and tried["successes"]:
            bad.append(f"{log['id']} {log['event']} failed after a 2xx attempt")
        elif log["status"] == "failed" and log["failure_reason"]:
            if log["failure_reason"] != "endpoint disabled" or log["endpoint_id"] not in dead:
                bad.append(f"{log['id']} ended: {log['failure_reason']}")
        elif log["status"] == "failed" and not (log["attempts"] == 5 and tried["attempts"] == 5):
            bad.append(f"{log['id']} {log['event']} failed, attempts={log['attempts']} "
                       f"rows={tried['attempts']}")  # fmt: skip
    figures["webhooks"] |= {
        "deliveries_logged": len(logs),
        "logs_success": statuses["success"],
        "logs_failed": statuses["failed"],
        "logs_pending": statuses["pending"],
        "logs_ended": dict(ended),
        "failed_logs": [
            {"id": log["id"], "event": log["event"], "attempts": log["attempts"],
             "endpoint": next((n for n, i in endpoints.items() if i["id"] == log["endpoint_id"]),
                              log["endpoint_id"])}
            for log in logs if log["status"] == "failed" and not log["failure_reason"]
            and log["endpoint_id"] not in dead
        ],
    }  # fmt: skip
    return Check(
        "webhook logs: all final; failed after 5 attempts or ended by disabling",
        not bad,
        f"{statuses['success']} success, {statuses['failed']} failed "
        f"({sum(ended.values())} ended by disabling), {statuses['pending']} pending",
        bad[:SHOWN],
    )


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
