"""The benchmark sections. Each returns a dict of figures for the JSON report."""

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.load import HEADERS, open_loop_payments
from bench.stats import percentiles
from bench.system import System, free_port
from shared.backends.db import one

TEST_MERCHANT = "550e8400-e29b-41d4-a716-446655440000"


def wait_until(predicate, timeout: float, every: float = 0.1) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(every)
    raise TimeoutError(f"not done after {timeout} s")


# An order has at most one successful payment (a unique index): bench payments that succeed
# get an order each, 'order_BENCH' + a letter + the payment's number.
def _insert_orders(
    conn: psycopg.Connection, letter: str, first: int, last: int, status: str
) -> None:
    conn.execute(
        """
        INSERT INTO orders (id, merchant_id, amount, status)
        SELECT 'order_BENCH' || %(letter)s || lpad(n::text, 10, '0'), %(m)s, 50000, %(status)s
        FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
        ON CONFLICT DO NOTHING
        """,
        {"letter": letter, "m": TEST_MERCHANT, "status": status, "first": first, "last": last},
    )


def _insert_due_payments(database_url: str, count: int, spread_s: float, delay_s: float) -> None:
    """Pending payments whose bank answer falls due uniformly over `spread_s` from now + delay."""
    with psycopg.connect(database_url) as conn:
        _insert_orders(conn, "P", 1, count, "attempted")
        conn.execute(
            """
            INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, vpa, process_after)
            SELECT 'pay_' || lpad(n::text, 16, '0'), 'order_BENCHP' || lpad(n::text, 10, '0'),
                   %(merchant)s, 50000, 'INR', 'upi', 'bench@upi',
                   now() + make_interval(secs => %(delay)s + %(spread)s * n / %(count)s)
            FROM generate_series(1, %(count)s) AS n
            """,
            {"merchant": TEST_MERCHANT, "count": count, "spread": spread_s, "delay": delay_s},
        )


def payment_worker_throughput(
    system: System, database_url: str, count: int, spread_s: float
) -> dict:
    """One payment worker, payments falling due faster than 200/s: completions/s and lateness."""
    _insert_due_payments(database_url, count, spread_s, delay_s=1.0)
    with psycopg.connect(database_url) as conn:

        def done() -> bool:
            row = one(conn.execute("SELECT count(*) FROM payments WHERE status = 'pending'"))
            return row[0] == 0

        wait_until(done, timeout=spread_s + 120)
        bench_payments = "FROM payments WHERE order_id LIKE 'order_BENCHP%'"
        first, last = one(
            conn.execute(f"SELECT min(process_after), max(updated_at) {bench_payments}")
        )
        lateness = [
            row[0]
            for row in conn.execute(
                f"SELECT extract(epoch FROM updated_at - process_after) * 1000 {bench_payments}"
            )
        ]
        conn.execute("DELETE FROM webhook_logs")
        conn.execute("DELETE FROM payments")
        conn.commit()
    elapsed = (last - first).total_seconds()
    return {
        "payments": count,
        "arrival_per_s": round(count / spread_s, 1),
        "completed_per_s": round(count / elapsed, 1),
        "lateness_ms": percentiles([float(x) for x in lateness]),
    }


def refund_worker_throughput(
    system: System, database_url: str, count: int, spread_s: float
) -> dict:
    with psycopg.connect(database_url) as conn:
        _insert_orders(conn, "R", 1, count, "paid")
        conn.execute(
            """
            INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, vpa, status)
            SELECT 'pay_R' || lpad(n::text, 15, '0'), 'order_BENCHR' || lpad(n::text, 10, '0'), %(m)s, 50000,
                   'INR', 'upi', 'bench@upi', 'success'
            FROM generate_series(1, %(count)s) AS n
            """,
            {"m": TEST_MERCHANT, "count": count},
        )
        conn.execute(
            """
            INSERT INTO refunds (id, payment_id, merchant_id, amount, process_after)
            SELECT 'rfnd_' || lpad(n::text, 16, '0'), 'pay_R' || lpad(n::text, 15, '0'), %(m)s,
                   1000, now() + make_interval(secs => 1 + %(spread)s * n / %(count)s)
            FROM generate_series(1, %(count)s) AS n
            """,
            {"m": TEST_MERCHANT, "count": count, "spread": spread_s},
        )
        conn.commit()

        def done() -> bool:
            return (
                one(conn.execute("SELECT count(*) FROM refunds WHERE status = 'pending'"))[0] == 0
            )

        wait_until(done, timeout=spread_s + 120)
        first, last = one(conn.execute("SELECT min(process_after), max(processed_at) FROM refunds"))
        lateness = [row[0] for row in conn.execute(
            "SELECT extract(epoch FROM processed_at - process_after) * 1000 FROM refunds")]  # fmt: skip
        conn.execute("DELETE FROM webhook_logs")
        conn.execute("DELETE FROM refunds")
        conn.execute("DELETE FROM payments")
        conn.commit()
    return {
        "refunds": count,
        "arrival_per_s": round(count / spread_s, 1),
        "completed_per_s": round(count / (last - first).total_seconds(), 1),
        "lateness_ms": percentiles([float(x) for x in lateness]),
    }


def creation_to_final(system: System, database_url: str, per_second: float, seconds: float) -> dict:
    """Payments created through the API at a fixed rate: creation -> final state latency."""
    ids = asyncio.run(open_loop_payments(system.api_url, per_second, seconds))
    with psycopg.connect(database_url) as conn:

        def done() -> bool:
            row = one(
                conn.execute(
                    "SELECT count(*) FROM payments WHERE id = ANY(%s) AND status = 'pending'",
                    (ids,),
                )
            )
            return row[0] == 0

        wait_until(done, timeout=60)
        latency = [row[0] for row in conn.execute(
            "SELECT extract(epoch FROM updated_at - created_at) * 1000 FROM payments WHERE id = ANY(%s)",
            (ids,))]  # fmt: skip
    return {
        "payments": len(ids),
        "rate_per_s": per_second,
        "latency_ms": percentiles([float(x) for x in latency]),
    }


class ReceiverProcess:
    def __init__(self, record: Path):
        self.port = free_port()
        self.record = record
        record.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack.receiver", "--port", str(self.port), "--quiet",
             "--record", str(record)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        wait_until(self._answers, timeout=15)

    def _answers(self) -> bool:
        try:
            return httpx.get(self.url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def events(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines() if line]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def delivery_throughput(
    system: System, database_url: str, receiver: ReceiverProcess, count: int, dispatchers: int
) -> dict:
    """`count` due deliveries, `dispatchers` dispatcher processes: deliveries per second."""
    system.stop("webhook-dispatcher")
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE id = %s",
            (receiver.url, TEST_MERCHANT),
        )
        conn.execute("DELETE FROM webhook_attempts")
        conn.execute("DELETE FROM webhook_logs")
        conn.execute(
            """
            INSERT INTO webhook_logs (merchant_id, event, payload, next_retry_at)
            SELECT %s, 'webhook.test',
                   '{"event":"webhook.test","timestamp":1700000000,"data":{"n":' || n || '}}', now()
            FROM generate_series(1, %s) AS n
            """,
            (TEST_MERCHANT, count),
        )
        conn.commit()
        started = time.monotonic()
        system.start("webhook-dispatcher", copies=dispatchers)

        def done() -> bool:
            return (
                one(conn.execute("SELECT count(*) FROM webhook_logs WHERE status = 'pending'"))[0]
                == 0
            )

        wait_until(done, timeout=300, every=0.05)
        first, last = one(
            conn.execute("SELECT min(attempted_at), max(attempted_at) FROM webhook_attempts")
        )
        failed = one(conn.execute("SELECT count(*) FROM webhook_logs WHERE status <> 'success'"))[0]
    wall = time.monotonic() - started
    return {
        "dispatchers": dispatchers,
        "deliveries": count,
        "deliveries_per_s": round(count / max((last - first).total_seconds(), 1e-3), 1),
        "wall_s_including_start": round(wall, 1),
        "not_successful": failed,
    }


def webhook_latency(
    system: System, database_url: str, receiver: ReceiverProcess, per_second: float, seconds: float
) -> dict:
    """TEST_PROCESSING_DELAY=0: payment created -> payment.success received, at a fixed rate."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE id = %s",
            (receiver.url, TEST_MERCHANT),
        )
        conn.commit()
    receiver.record.unlink(missing_ok=True)
    ids = asyncio.run(open_loop_payments(system.api_url, per_second, seconds))
    time.sleep(3)
    received = {
        e["data"]["payment"]["id"]: e["received_at"]
        for e in receiver.events()
        if e["event"] == "payment.success"
    }
    with psycopg.connect(database_url) as conn:
        created: dict[str, Any] = dict(conn.execute(
            "SELECT id, extract(epoch FROM created_at) FROM payments WHERE id = ANY(%s)", (ids,)
        ).fetchall())  # fmt: skip
    latency = [(received[pid] - float(created[pid])) * 1000 for pid in ids if pid in received]
    return {
        "payments": len(ids),
        "rate_per_s": per_second,
        "latency_ms": percentiles(latency),
        "never_arrived": len(ids) - len(latency),
    }


def _grow_tables(database_url: str, rows: int) -> None:
    """Payments and webhook logs of the test merchant, `rows` of each (adding what is missing)."""
    with psycopg.connect(database_url) as conn:
        have = one(
            conn.execute("SELECT count(*) FROM payments WHERE order_id LIKE 'order_BENCHL%'")
        )[0]
        _insert_orders(conn, "L", have + 1, rows, "paid")
        conn.execute(
            """
            INSERT INTO payments (id, order_id, merchant_id, amount, currency, method, vpa, status,
                                  created_at, updated_at)
            SELECT 'pay_L' || lpad(n::text, 15, '0'), 'order_BENCHL' || lpad(n::text, 10, '0'),
                   %(m)s, 50000, 'INR',
                   'upi', 'bench@upi', (ARRAY['success', 'failed', 'success'])[n %% 3 + 1],
                   now() - make_interval(secs => n), now()
            FROM generate_series(%(start)s::bigint, %(end)s::bigint) AS n
            """,
            {"m": TEST_MERCHANT, "start": have + 1, "end": rows},
        )
        conn.execute(
            """
            INSERT INTO webhook_logs (merchant_id, event, payload, status, attempts, created_at)
            SELECT %(m)s, 'payment.success', '{"event":"payment.success","n":' || n || '}',
                   'success', 1, now() - make_interval(secs => n)
            FROM generate_series(%(start)s::bigint, %(end)s::bigint) AS n
            """,
            {"m": TEST_MERCHANT, "start": have + 1, "end": rows},
        )
        conn.commit()
    # As autovacuum leaves a table some time after a bulk load (its insert threshold): the
    # planner's statistics and the visibility map, without which the capped counts behind a
    # list's total read every row's heap page. VACUUM runs outside a transaction.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) payments")
        conn.execute("VACUUM (ANALYZE) webhook_logs")


def _list_p95(api_url: str, requests: int) -> dict:
    paths = {
        "payments": "/api/v1/payments?limit=20",
        "payments_failed": "/api/v1/payments?limit=20&status=failed",
        "payments_page_50": "/api/v1/payments?limit=20&offset=1000",
        "webhooks": "/api/v1/webhooks?limit=20",
    }
    figures = {}
    with httpx.Client(base_url=api_url, headers=HEADERS, timeout=30) as http:
        for name, path in paths.items():
            http.get(path)
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                assert http.get(path).status_code == 200
                samples.append((time.perf_counter() - started) * 1000)
            figures[name] = percentiles(samples)
    return figures


def list_latency(system: System, database_url: str, small: int, large: int, requests: int) -> dict:
    """List endpoints with `small` and then `large` payments and webhook logs."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "SELECT set_default_webhook_url(id, NULL) FROM merchants WHERE id = %s",
            (TEST_MERCHANT,),
        )
        conn.commit()
    _grow_tables(database_url, small)
    at_small = _list_p95(system.api_url, requests)
    _grow_tables(database_url, large)
    at_large = _list_p95(system.api_url, requests)
    return {
        "rows_small": small,
        "rows_large": large,
        "small_ms": at_small,
        "large_ms": at_large,
        "p95_ratio": {k: round(at_large[k]["p95"] / at_small[k]["p95"], 2) for k in at_small},
    }


def webhook_isolation(system: System, database_url: str, seconds: float) -> dict:
    """Isolation between merchants (docs/webhooks.md#delivery): merchant A's URL never answers and A
    creates 120 events at once; the test merchant B's URL on the same host:port answers at once, one
    event per 0.1 s for `seconds`. B's delivery latency (event created -> received) and attempt
    durations."""
    import threading

    import uvicorn

    arrived: dict[str, float] = {}

    async def shared_host(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/hang":
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        arrived[dict(scope["headers"])[b"webhook-id"].decode()] = time.monotonic()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(shared_host, port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10, every=0.01)
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=system.api_url, timeout=10)
    a = api.post("/api/v1/merchants", json={"name": "Hanging", "email": "hang@bench.test",
                                            "password": "bench-hanging"}).json()  # fmt: skip
    a_headers = {"X-Api-Key": a["api_key"], "X-Api-Secret": a["api_secret"]}
    sent: dict[str, float] = {}
    try:
        api.put("/api/v1/webhooks/config", json={"webhook_url": f"{base}/hang"}, headers=a_headers)
        api.put("/api/v1/webhooks/config", json={"webhook_url": f"{base}/ok"}, headers=HEADERS)
        for _ in range(120):
            api.post("/api/v1/webhooks/test", headers=a_headers)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            sent_at = time.monotonic()
            sent[api.post("/api/v1/webhooks/test", headers=HEADERS).json()["id"]] = sent_at
            time.sleep(0.1)
        wait_until(lambda: set(sent) <= set(arrived), timeout=15, every=0.05)
    except TimeoutError:
        pass  # reported as never_arrived
    finally:
        api.put("/api/v1/webhooks/config", json={"webhook_url": ""}, headers=a_headers)
        api.put("/api/v1/webhooks/config", json={"webhook_url": ""}, headers=HEADERS)
        api.close()
        server.should_exit = server.force_exit = True
        thread.join(10)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE webhook_logs SET status = 'failed', next_retry_at = NULL"
            " WHERE merchant_id = %s AND status = 'pending'",
            (a["id"],),
        )
        durations = [
            row[0]
            for row in conn.execute(
                "SELECT duration_ms FROM webhook_attempts WHERE webhook_log_id = ANY(%s::uuid[])",
                (list(sent),),
            )
        ]
    latency = [(arrived[i] - sent[i]) * 1000 for i in sent if i in arrived]
    return {
        "hanging_events": 120,
        "healthy_events": len(sent),
        "healthy_latency_ms": percentiles(latency),
        "healthy_attempt_ms": percentiles(durations),
        "never_arrived": len(sent) - len(latency),
    }
