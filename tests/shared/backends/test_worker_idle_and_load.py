"""Real worker processes, idle and under steady load: an idle worker writes nothing at INFO
beyond its start line, keeps no tick results in Redis, and however many workers sweep a busy
queue, at most one tick waits in Redis for it (docs/operations/scaling.md#due-work)."""

import json
import threading
import time

import httpx
import pytest

from factories import TEST_MERCHANT_HEADERS

pytestmark = pytest.mark.slow


def log_lines(process) -> list[dict]:
    lines = []
    for raw in process.log_path.read_text().splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            lines.append({"event": raw, "level": "unparsed"})
    return lines


def wait_until(predicate, timeout: float, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(every)
    raise TimeoutError(predicate.__doc__ or "condition not met")


def test_idle_workers_write_nothing_at_info_and_keep_no_results(start_service, private_redis):
    redis = private_redis
    api = start_service("api", REDIS_URL=redis.url)
    workers = [
        start_service(name, API_URL=api.url, REDIS_URL=redis.url)
        for name in ("payment_worker", "refund_worker", "webhook_dispatcher")
    ]

    def registered():
        """every worker registered with RQ"""
        status = httpx.get(f"{api.url}/api/v1/test/jobs/status").json()
        return status["worker_status"] == "running"

    wait_until(registered, timeout=30)
    time.sleep(1)
    started = {worker.name: len(log_lines(worker)) for worker in workers}
    time.sleep(6)  # six sweeps of each queue

    for worker in workers:
        chatter = [
            line for line in log_lines(worker)[started[worker.name]:]
            if line.get("level") not in ("warning", "error", "critical")
        ]  # fmt: skip
        assert chatter == [], f"{worker.name} logged while idle"
    kept = [k for k in redis.keys("rq:*") if k.startswith((b"rq:job:", b"rq:results:"))]
    assert kept == [], "sweep ticks kept their results"


def test_queued_ticks_stay_bounded_under_steady_load_with_several_workers(start_service, redis, db):
    # Every payment falls due 300 ms after it is made: a busy tick always has one due soon
    # and keeps running, while three workers sweep the queue every second.
    env = {"TEST_PROCESSING_DELAY": "300"}
    api = start_service("api", **env)
    for _ in range(3):
        start_service("payment_worker", API_URL=api.url, **env)
    lengths: list[int] = []
    stop = threading.Event()

    def sample():
        while not stop.wait(0.25):
            lengths.append(redis.llen("rq:queue:payments"))

    sampler = threading.Thread(target=sample)
    sampler.start()
    payment_ids = []
    try:
        with httpx.Client(base_url=api.url, headers=TEST_MERCHANT_HEADERS, timeout=10) as http:
            started = time.monotonic()
            while time.monotonic() - started < 15:  # about 20 payments a second
                order = http.post("/api/v1/orders", json={"amount": 10000}).json()
                body = {"order_id": order["id"], "method": "upi", "vpa": "a@upi"}
                payment_ids.append(http.post("/api/v1/payments", json=body).json()["id"])
                time.sleep(0.05)
    finally:
        stop.set()
        sampler.join()

    assert max(lengths) <= 1, f"ticks piled up in Redis: {lengths}"

    def all_final():
        """every payment finalised"""
        row = db.execute(
            "SELECT count(*) AS n FROM payments WHERE id = ANY(%s) AND status = 'pending'",
            (payment_ids,),
        ).fetchone()
        return row["n"] == 0

    wait_until(all_final, timeout=15)


def test_a_worker_waiting_for_a_dependency_says_which_url(start_service):
    worker = start_service(
        "payment_worker",
        API_URL="http://127.0.0.1:1",
        DATABASE_URL="postgresql://gateway:s3cret@127.0.0.1:1/gateway",
    )

    def waiting(level: str) -> list[dict]:
        return [
            line for line in log_lines(worker)
            if line.get("level") == level and line["event"] == "waiting_for_dependency"
        ]  # fmt: skip

    # As info at first: make run starts workers beside an API that takes seconds to answer, and
    # a healthy start once printed a wall of yellow warnings.
    informed = wait_until(lambda: len(waiting("info")) >= 4 and waiting("info"), timeout=20)
    assert waiting("warning") == []
    urls = {line["dependency"]: line["url"] for line in informed}
    assert urls == {
        "api": "http://127.0.0.1:1",
        "postgresql": "postgresql://gateway:***@127.0.0.1:1/gateway",
    }
    assert "s3cret" not in worker.log_path.read_text()

    # A warning once it is really late: still naming what it waits for.
    warned = wait_until(lambda: len(waiting("warning")) >= 2 and waiting("warning"), timeout=30)
    assert {line["dependency"] for line in warned} == {"api", "postgresql"}
    # Not every second either: every few seconds.
    assert len(waiting("info")) <= 10

    worker.process.terminate()
    assert worker.process.wait(10) == 0


def test_expired_idempotency_keys_are_purged_on_schedule(start_service, db, private_redis):
    db.execute(
        """
        INSERT INTO idempotency_keys (merchant_id, key, request_method, request_path,
                                      request_hash, expires_at)
        SELECT id, 'old-' || n, 'POST', '/api/v1/orders', 'h', now() - interval '1 minute'
        FROM merchants, generate_series(1, 2500) AS n WHERE is_test
        UNION ALL
        SELECT id, 'fresh-' || n, 'POST', '/api/v1/orders', 'h', now() + interval '23 hours'
        FROM merchants, generate_series(1, 10) AS n WHERE is_test
        """
    )
    api = start_service("api", REDIS_URL=private_redis.url)
    start_service("refund_worker", API_URL=api.url, REDIS_URL=private_redis.url)

    def purged():
        """the expired keys are gone"""
        return db.execute("SELECT count(*) AS n FROM idempotency_keys").fetchone()["n"] == 10

    wait_until(purged, timeout=30)
    keys = {row["key"] for row in db.execute("SELECT key FROM idempotency_keys")}
    assert keys == {f"fresh-{n}" for n in range(1, 11)}
