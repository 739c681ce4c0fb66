"""Webhook endpoints under load: `python -m bench --only-endpoints` (also part of a full run).

Two sections, each on a system already started by bench.__main__ (TEST_PROCESSING_DELAY is
irrelevant here: no payments are made):

- `fan_out_throughput`: the test merchant with 1 and with 3 endpoints (every one on
  bench.sink), the same number of deliveries queued by the events' own fan-out statement
  (shared.domain.events.INSERT_EVENTS), one dispatcher: deliveries per second and the dispatcher's
  CPU per 1,000 deliveries, round by round, 1 and 3 side by side.
- `recovery_beside_traffic`: one merchant's endpoint recovers 10,000 events it never received
  (POST .../recover, docs/webhooks.md#recovery) while three other merchants each send a
  `webhook.test` event every 0.1 s: the others' delivery latency (event sent -> received) before
  and during the recovery, and how long the recovery took until its last delivery succeeded.
"""

import asyncio
import contextlib
import threading
import time
import uuid
from typing import Any

import httpx
import psycopg
import uvicorn
from psycopg.rows import dict_row

from bench.cost import tree_cpu
from bench.load import HEADERS
from bench.sections import TEST_MERCHANT, wait_until
from bench.stats import percentiles
from bench.system import System, free_port
from shared.backends.db import one
from shared.domain.events import INSERT_EVENTS, PAYMENT_SUCCESS, event_body


def _record(conn: psycopg.Connection[Any], merchant_id: str, count: int) -> None:
    """`count` payment.success events of the merchant, each fanned out to its endpoints as the
    payment worker's are (the same statement), 1,000 per statement."""
    for first in range(0, count, 1000):
        n = min(1000, count - first)
        ids = [str(uuid.uuid4()) for _ in range(n)]
        payment_ids = [f"pay_BENCHE{first + i:010d}" for i in range(n)]
        conn.execute(
            INSERT_EVENTS,
            {
                "ids": ids,
                "merchant_ids": [merchant_id] * n,
                "events": [PAYMENT_SUCCESS] * n,
                "payloads": [
                    event_body(PAYMENT_SUCCESS, {"payment": {"id": p, "amount": 50000}})
                    for p in payment_ids
                ],
                "correlation_ids": [None] * n,
                "object_ids": payment_ids,
            },
        )


def _one_run(
    system: System, database_url: str, api: httpx.Client, sink_url: str, count: int, n: int
) -> dict:
    """`count` deliveries to the test merchant's `n` endpoints with one dispatcher."""
    system.stop("webhook-dispatcher")
    extra = []
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        conn.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE id = %s",
            (f"{sink_url}?endpoint=default", TEST_MERCHANT),
        )
        conn.commit()
        for number in range(n - 1):
            response = api.post(
                "/api/v1/webhooks/endpoints",
                json={"url": f"{sink_url}?endpoint={number + 2}", "events": [PAYMENT_SUCCESS]},
                headers=HEADERS | {"Idempotency-Key": str(uuid.uuid4())},
            )
            response.raise_for_status()
            extra.append(response.json()["id"])
        conn.execute("DELETE FROM webhook_attempts")
        conn.execute("DELETE FROM webhook_logs")
        _record(conn, TEST_MERCHANT, count // n)
        conn.commit()
        queued = one(conn.execute("SELECT count(*) AS n FROM webhook_logs"))["n"]
        system.start("webhook-dispatcher")
        process = system.processes["webhook-dispatcher"]
        cpu_before = tree_cpu(process.pid)

        def done() -> bool:
            pending = "SELECT count(*) AS n FROM webhook_logs WHERE status = 'pending'"
            return one(conn.execute(pending))["n"] == 0

        wait_until(done, timeout=600, every=0.05)
        cpu = tree_cpu(process.pid) - cpu_before
        row = one(conn.execute(
            "SELECT min(attempted_at) AS first, max(attempted_at) AS last,"
            " (SELECT count(*) FROM webhook_logs WHERE status <> 'success') AS failed"
            " FROM webhook_attempts"
        ))  # fmt: skip
    for endpoint_id in extra:
        api.delete(f"/api/v1/webhooks/endpoints/{endpoint_id}", headers=HEADERS)
    seconds = max((row["last"] - row["first"]).total_seconds(), 1e-3)
    return {
        "endpoints": n,
        "events": count // n,
        "deliveries": queued,
        "deliveries_per_s": round(queued / seconds, 1),
        "events_per_s": round(queued / n / seconds, 1),
        # Includes its start-up imports (the same in both): compare, do not read alone.
        "dispatcher_cpu_s_per_1000": round(cpu / queued * 1000, 3),
        "not_successful": row["failed"],
    }


def fan_out_throughput(
    system: System, database_url: str, sink_url: str, deliveries: int, rounds: int
) -> dict:
    """1 and 3 endpoints side by side, `rounds` times (the order swapped every round):
    per-round figures and their medians."""
    by_round: dict[str, list[dict]] = {"1": [], "3": []}
    with httpx.Client(base_url=system.api_url, timeout=30) as api:
        for number in range(rounds):
            order = (1, 3) if number % 2 == 0 else (3, 1)
            for n in order:
                print(f"  round {number + 1} of {rounds}: {n} endpoint(s), "
                      f"{deliveries} deliveries ...", flush=True)  # fmt: skip
                by_round[str(n)].append(
                    _one_run(system, database_url, api, sink_url, deliveries, n)
                )
    report: dict = {"rounds": rounds, "by_round": by_round}
    for count, runs in by_round.items():
        report[count] = {
            key: sorted(r[key] for r in runs)[len(runs) // 2]
            for key in ("deliveries_per_s", "events_per_s", "dispatcher_cpu_s_per_1000")
        } | {"not_successful": sum(r["not_successful"] for r in runs)}
    report["ratio_3_to_1"] = {
        key: round(report["3"][key] / report["1"][key], 2)
        for key in ("deliveries_per_s", "dispatcher_cpu_s_per_1000")
    }
    return report


class Receiver:
    """An in-process receiver: answers 200 at once and notes when each `webhook-id` arrived
    (monotonic seconds) under the path's first segment."""

    def __init__(self) -> None:
        self.arrived: dict[str, dict[str, float]] = {}
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, port=self.port, log_level="error", access_log=False, interface="asgi3"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10, every=0.01)
        self.base = f"http://127.0.0.1:{self.port}"

    async def app(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        webhook_id = dict(scope["headers"]).get(b"webhook-id", b"").decode()
        self.arrived.setdefault(scope["path"].strip("/"), {})[webhook_id] = time.monotonic()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"0")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _sign_up(api: httpx.Client, name: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    body = {"name": name, "email": f"{name.lower()}-{suffix}@bench.test",
            "password": f"bench-{suffix}-{suffix}"}  # fmt: skip
    response = api.post("/api/v1/merchants", json=body)
    response.raise_for_status()
    merchant = response.json()
    return {"X-Api-Key": merchant["api_key"], "X-Api-Secret": merchant["api_secret"],
            "id": merchant["id"]}  # fmt: skip


async def _traffic(
    api_url: str, merchants: list[dict[str, str]], every_s: float, stop: threading.Event
) -> dict[str, float]:
    """Each merchant sends a webhook.test every `every_s` until `stop`: {event id: sent at}."""
    sent: dict[str, float] = {}

    async def one_merchant(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += every_s
            sent_at = time.monotonic()
            response = await http.post("/api/v1/webhooks/test", headers=headers)
            response.raise_for_status()
            sent[response.json()["id"]] = sent_at

    async with httpx.AsyncClient(base_url=api_url, timeout=30) as http:
        await asyncio.gather(*(
            one_merchant(http, {k: v for k, v in m.items() if k != "id"}) for m in merchants
        ))  # fmt: skip
    return sent


def _latency(sent: dict[str, float], arrived: dict[str, float]) -> dict:
    latency = [(arrived[i] - sent[i]) * 1000 for i in sent if i in arrived]
    return {
        "events": len(sent),
        "latency_ms": percentiles(latency),
        "never_arrived": len(sent) - len(latency),
    }


def recovery_beside_traffic(
    system: System, database_url: str, events: int, quiet_s: float, others: int = 3
) -> dict:
    """`others` merchants send a webhook.test each every 0.1 s; for `quiet_s` alone, then while
    a fourth merchant's endpoint recovers `events` missed events (stored in the last hour, no
    delivery made). Their latency in both phases; the recovery's API time and its duration
    until every recovered delivery succeeded."""
    receiver = Receiver()
    api = httpx.Client(base_url=system.api_url, timeout=120)
    try:
        merchants = [_sign_up(api, f"Traffic{n}") for n in range(others)]
        for merchant in merchants:
            headers = {k: v for k, v in merchant.items() if k != "id"}
            api.put("/api/v1/webhooks/config",
                    json={"webhook_url": f"{receiver.base}/traffic"}, headers=headers)  # fmt: skip
        recovering = _sign_up(api, "Recovering")
        r_headers = {k: v for k, v in recovering.items() if k != "id"}
        created = api.post(
            "/api/v1/webhooks/endpoints",
            json={"url": f"{receiver.base}/recovered", "events": [PAYMENT_SUCCESS]},
            headers=r_headers | {"Idempotency-Key": str(uuid.uuid4())},
        )
        created.raise_for_status()
        endpoint_id = created.json()["id"]
        with psycopg.connect(database_url) as conn:
            # Missed while the endpoint was down: stored events, no delivery of them.
            conn.execute(
                """
                INSERT INTO events (merchant_id, type, body, object_id, created_at)
                SELECT %(m)s, 'payment.success',
                       '{"event":"payment.success","timestamp":1700000000,"data":{"payment":'
                       || '{"id":"pay_R' || lpad(n::text, 15, '0') || '"}}}',
                       'pay_R' || lpad(n::text, 15, '0'),
                       now() - interval '1 hour' + make_interval(secs => n * 0.1)
                FROM generate_series(1, %(count)s) AS n
                """,
                {"m": recovering["id"], "count": events},
            )
            conn.commit()

        def run_traffic(stop: threading.Event, box: dict[str, dict[str, float]]) -> None:
            box["sent"] = asyncio.run(_traffic(system.api_url, merchants, 0.1, stop))

        # Phase 1: the traffic alone.
        stop, box = threading.Event(), dict[str, dict[str, float]]()
        thread = threading.Thread(target=run_traffic, args=(stop, box))
        thread.start()
        time.sleep(quiet_s)
        stop.set()
        thread.join()
        time.sleep(3)
        before = _latency(box["sent"], receiver.arrived.get("traffic", {}))

        # Phase 2: the same traffic while the recovery runs.
        stop, box = threading.Event(), dict[str, dict[str, float]]()
        thread = threading.Thread(target=run_traffic, args=(stop, box))
        thread.start()
        time.sleep(2)
        started = time.monotonic()
        response = api.post(
            f"/api/v1/webhooks/endpoints/{endpoint_id}/recover",
            json={"since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 7200))},
            headers=r_headers | {"Idempotency-Key": str(uuid.uuid4())},
        )
        api_s = time.monotonic() - started
        response.raise_for_status()
        queued = response.json()["queued"]
        with contextlib.suppress(TimeoutError):  # reported as delivered < queued
            wait_until(
                lambda: len(receiver.arrived.get("recovered", {})) >= queued,
                timeout=900,
                every=0.2,
            )
        recovery_s = max(receiver.arrived.get("recovered", {started: started}).values()) - started
        stop.set()
        thread.join()
        time.sleep(3)
        during = _latency(box["sent"], receiver.arrived.get("traffic", {}))
        for merchant in merchants:
            headers = {k: v for k, v in merchant.items() if k != "id"}
            api.put("/api/v1/webhooks/config", json={"webhook_url": ""}, headers=headers)
    finally:
        api.close()
        receiver.stop()
    return {
        "other_merchants": others,
        "traffic_per_s": round(others / 0.1, 1),
        "before": before,
        "during": during,
        "recovery": {
            "events": events,
            "queued": queued,
            "delivered": len(receiver.arrived.get("recovered", {})),
            "api_s": round(api_s, 2),
            "until_last_delivered_s": round(recovery_s, 1),
        },
    }


def table(report: dict) -> list[str]:
    """The endpoint sections' lines of the printed table."""
    lines = []
    if "fan_out" in report:
        r = report["fan_out"]
        lines.append(f"\nWebhook endpoints, one dispatcher, bench.sink (medians of {r['rounds']} "
                     "round(s), 1 and 3 side by side)")  # fmt: skip
        for n in ("1", "3"):
            f = r[n]
            lines.append(f"  {n} endpoint(s): {f['deliveries_per_s']} deliveries/s "
                         f"({f['events_per_s']} events/s), dispatcher CPU "
                         f"{f['dispatcher_cpu_s_per_1000']} s / 1,000 deliveries, "
                         f"{f['not_successful']} not successful")  # fmt: skip
        ratio = r["ratio_3_to_1"]
        lines.append(f"  3 / 1: deliveries/s {ratio['deliveries_per_s']}x, CPU per delivery "
                     f"{ratio['dispatcher_cpu_s_per_1000']}x")  # fmt: skip
    if "recovery" in report:
        r = report["recovery"]
        b, d, rec = r["before"]["latency_ms"], r["during"]["latency_ms"], r["recovery"]
        lines.append(f"Recovery of {rec['events']:,} events beside {r['other_merchants']} "
                     f"merchants' traffic ({r['traffic_per_s']} events/s):")  # fmt: skip
        lines.append(f"  others' delivery p50/p95/p99 ms before {b['p50']}/{b['p95']}/{b['p99']}, "
                     f"during {d['p50']}/{d['p95']}/{d['p99']} (never arrived "
                     f"{r['before']['never_arrived']} / {r['during']['never_arrived']})")  # fmt: skip
        lines.append(f"  recovery: {rec['queued']:,} queued in {rec['api_s']} s (the API call), "
                     f"{rec['delivered']:,} delivered, last {rec['until_last_delivered_s']} s "
                     "after the call")  # fmt: skip
    return lines


def run(system: System, database_url: str, sink_url: str, quick: bool, rounds: int) -> dict:
    """Both sections; `quick` shortens them (2,000 deliveries a run, 2,000 events recovered)."""
    print("webhook endpoints: deliveries/s with 1 and 3 endpoints ...", flush=True)
    report = {
        "fan_out": fan_out_throughput(
            system, database_url, sink_url, 2000 if quick else 6000, rounds
        )
    }
    print("webhook endpoints: a recovery beside other merchants' traffic ...", flush=True)
    report["recovery"] = recovery_beside_traffic(
        system, database_url, 2000 if quick else 10_000, quiet_s=5 if quick else 20
    )
    return report
