"""A tick waits for due work without polling: it sleeps until the next due time it read, and
PostgreSQL wakes it (LISTEN/NOTIFY) when work due sooner commits
(docs/operations/scaling.md#due-work); an idle worker's sweep hears the same channel and queues a
tick at once. Its log lines carry each item's correlation id, never that of the request that woke it
(docs/operations/observability.md#logs)."""

import json
import threading
import time

import psycopg
import structlog
from rq import Queue

from factories import create_order, create_payment, upi_payment_body
from payment_worker import tasks
from payment_worker.tasks import finalize_due_payments
from shared.backends import due, worker
from shared.backends.queues import PAYMENTS_QUEUE, JobQueues
from shared.backends.worker import (
    STOPPING,
    GatewayWorker,
    _housekeeping,
    _sweep,
    due_reader,
    runtime,
)
from shared.core.logging import bind_correlation_id, configure_logging


def pay(client, headers) -> dict:
    return create_payment(client, headers, upi_payment_body(create_order(client, headers)["id"]))


def tick_waiting_for_a_payment(
    client, headers, db, due_in_s: float, settle_s: float
) -> threading.Thread:
    """A payment due in `due_in_s`, and a tick started in a thread that, after `settle_s`,
    waits for it; join the thread to see the tick end."""
    pay(client, headers)
    db.execute(
        "UPDATE payments SET process_after = clock_timestamp() + make_interval(secs => %s)",
        (due_in_s,),
    )
    tick = threading.Thread(target=finalize_due_payments)
    tick.start()
    time.sleep(settle_s)
    return tick


def count_batches(monkeypatch) -> list[int]:
    """The size of every batch the payment worker's ticks finalise from now on, in order (0 for
    a look that found nothing)."""
    batches: list[int] = []
    finalize = tasks.finalize_due_batch

    def counted(current):
        batches.append(finalize(current))
        return batches[-1]

    monkeypatch.setattr(tasks, "finalize_due_batch", counted)
    return batches


def test_a_waiting_tick_reads_postgresql_a_few_times_not_every_20_ms(
    client, merchant_headers, db, worker_env, monkeypatch
):
    payment = pay(client, merchant_headers)
    db.execute("UPDATE payments SET process_after = clock_timestamp() + interval '1.2 seconds'")
    reads = []
    read = due.seconds_until_next_due
    monkeypatch.setattr(due, "seconds_until_next_due", lambda c, q: reads.append(1) or read(c, q))

    assert finalize_due_payments() == 1

    row = db.execute(
        "SELECT status, extract(epoch FROM updated_at - process_after) AS late FROM payments"
        " WHERE id = %s",
        (payment["id"],),
    ).fetchone()
    assert row["status"] == "success"
    assert 0 <= row["late"] < 0.1
    assert len(reads) <= 5, f"{len(reads)} reads of the next due time in 1.2 s"


def test_a_waiting_tick_wakes_when_work_due_sooner_commits(
    client, merchant_headers, db, worker_env
):
    tick = tick_waiting_for_a_payment(client, merchant_headers, db, due_in_s=1.4, settle_s=0.4)

    due_now = pay(client, merchant_headers)
    created = time.monotonic()

    def final() -> bool:
        status = db.execute("SELECT status FROM payments WHERE id = %s", (due_now["id"],))
        return status.fetchone()["status"] == "success"

    while not final() and time.monotonic() - created < 2:
        time.sleep(0.005)
    took = time.monotonic() - created
    tick.join()
    assert took < 0.2, f"finalised {took:.3f} s after it was due"


def test_a_busy_tick_lets_work_gather_for_its_window(
    client, merchant_headers, db, worker_env, monkeypatch
):
    """Payments falling due every 30 ms are finalised a window's worth at a time (one batch
    per BATCH_WINDOW_S, 0.2 s), not one by one as each falls due: fewer transactions while the
    cores serve requests (README.md#requests-first-background-second), none later than its
    window."""
    payments = [pay(client, merchant_headers) for _ in range(30)]
    db.execute(
        "UPDATE payments p SET process_after = clock_timestamp() + interval '0.3 seconds'"
        " + n.position * interval '30 milliseconds'"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS n(id, position) WHERE p.id = n.id",
        ([p["id"] for p in payments],),
    )
    batches = count_batches(monkeypatch)

    assert finalize_due_payments() == 30

    found = [size for size in batches if size]
    assert len(found) <= 8, f"{len(found)} batches for 30 payments over 0.9 s: {found}"
    late = db.execute(
        "SELECT max(extract(epoch FROM updated_at - process_after)) AS late FROM payments"
    ).fetchone()["late"]
    assert late < due.BATCH_WINDOW_S[PAYMENTS_QUEUE] + 0.1


def test_a_backlog_is_worked_off_batch_after_batch_without_a_window(
    client, merchant_headers, db, worker_env, monkeypatch
):
    """Full batches mean more is waiting: the next look follows at once, not a window later;
    the partial batch that ends the backlog is not followed by a look that finds little."""
    payments = [pay(client, merchant_headers) for _ in range(25)]
    db.execute("UPDATE payments SET process_after = clock_timestamp()")
    monkeypatch.setattr(tasks, "BATCH_SIZE", 10)
    batches = count_batches(monkeypatch)
    started = time.monotonic()

    assert finalize_due_payments() == len(payments)

    assert batches == [10, 10, 5]
    assert time.monotonic() - started < due.BATCH_WINDOW_S[PAYMENTS_QUEUE]


def test_a_quiet_tick_finalises_work_when_it_falls_due(client, merchant_headers, db, worker_env):
    """The window holds back only work that follows a look which found some: the first
    payment, due after a quiet spell, and the second, due after the first's window has
    passed, are each finalised when they fall due, not a window later."""
    first = pay(client, merchant_headers)
    pay(client, merchant_headers)
    db.execute(
        "UPDATE payments SET process_after = clock_timestamp() + CASE id WHEN %s THEN"
        " interval '0.1 seconds' ELSE interval '0.4 seconds' END",
        (first["id"],),
    )

    assert finalize_due_payments() == 2

    late = db.execute(
        "SELECT id, extract(epoch FROM updated_at - process_after) AS late FROM payments"
    ).fetchall()
    assert all(row["late"] < 0.05 for row in late), late


def test_a_short_wait_still_hears_work_due_sooner(client, merchant_headers, db, worker_env):
    """A quiet tick waiting a fraction of a second for the next payment (shorter than
    SHORT_WAIT_S was made for the windows) still wakes when a payment due sooner commits: the
    window holds back only work that follows a look which found some, so this one is
    finalised when it falls due, not when the other does."""
    tick = tick_waiting_for_a_payment(client, merchant_headers, db, due_in_s=0.24, settle_s=0.03)

    due_now = pay(client, merchant_headers)
    db.execute(
        "UPDATE payments SET process_after = clock_timestamp() WHERE id = %s", (due_now["id"],)
    )
    tick.join()

    late = db.execute(
        "SELECT extract(epoch FROM updated_at - process_after) AS late FROM payments WHERE id = %s",
        (due_now["id"],),
    ).fetchone()["late"]
    assert late < 0.08, f"finalised {late:.3f} s after it was due"


def run_threads(*targets) -> list[threading.Thread]:
    """Start threads as run_worker starts the sweep and the housekeeping; stop_threads ends them."""
    threads = [threading.Thread(target=target, args=args, daemon=True) for target, *args in targets]
    for thread in threads:
        thread.start()
    return threads


def stop_threads(threads) -> None:
    STOPPING.set()
    for thread in threads:
        thread.join(timeout=5)
    STOPPING.clear()


def seconds_until_a_tick_is_queued(redis, since: float) -> float:
    queue = Queue(PAYMENTS_QUEUE, connection=redis)
    while queue.count == 0 and time.monotonic() - since < 3:
        time.sleep(0.005)
    assert queue.count == 1
    return time.monotonic() - since


def test_an_idle_workers_sweep_queues_a_tick_as_soon_as_work_commits(
    client, merchant_headers, redis, worker_env
):
    """Nothing but the commit wakes the worker: the payment's NOTIFY ends the sweep's
    one-second wait, and a tick is queued within milliseconds, not at the next second."""
    threads = run_threads((_sweep, runtime(), PAYMENTS_QUEUE, due_reader(PAYMENTS_QUEUE)))
    try:
        time.sleep(0.3)  # listening, 0.7 s before its next look at the table
        pay(client, merchant_headers)
        took = seconds_until_a_tick_is_queued(redis, time.monotonic())
    finally:
        stop_threads(threads)
    assert took < 0.3, f"a tick was queued {took:.3f} s after the payment committed"


def test_a_slow_purge_does_not_hold_up_wake_ups(client, merchant_headers, redis, worker_env):
    """The purges run in a thread of their own: one that takes seconds (a backlog after a
    retention change) must not leave a committed payment unheard meanwhile."""
    purging = threading.Event()

    def slow_purges(*args):
        purging.set()
        STOPPING.wait(4)
        return 0

    worker_env.setattr(worker, "run_purges", slow_purges)
    current = runtime()
    threads = run_threads(
        (_sweep, current, PAYMENTS_QUEUE, due_reader(PAYMENTS_QUEUE)), (_housekeeping, current)
    )
    try:
        assert purging.wait(3)
        time.sleep(0.2)
        pay(client, merchant_headers)
        took = seconds_until_a_tick_is_queued(redis, time.monotonic())
    finally:
        stop_threads(threads)
    assert took < 0.3, f"a tick was queued {took:.3f} s after the payment committed"


def test_work_committed_during_a_window_ends_the_wait_when_the_window_does(
    worker_env, database_url
):
    """A window is slept out unheard (work gathers), but what committed meanwhile is not
    forgotten: a wait longer than the window ends when the window does, not at its end."""
    listener = due.DueListener(database_url, PAYMENTS_QUEUE)
    listener.discard_pending()

    def commit_work_due_now() -> None:
        time.sleep(0.05)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"NOTIFY \"{due.due_channel(PAYMENTS_QUEUE)}\", '{time.time()}'")

    committing = threading.Thread(target=commit_work_due_now)
    committing.start()
    try:
        started = time.monotonic()
        listener.wait(1.0, 0.2)
        took = time.monotonic() - started
    finally:
        committing.join()
        listener.close()
    assert 0.2 <= took < 0.35, f"the wait ended after {took:.3f} s"


def test_the_listeners_connection_notices_a_silent_peer(worker_env, database_url):
    """TCP keepalives, as on every pooled connection: notifies() alone would wait forever on a
    connection a NAT dropped without a word, and wake-ups would fall back to the 1 s poll."""
    listener = due.DueListener(database_url, PAYMENTS_QUEUE)
    try:
        conn = listener._connection()
        assert conn is not None
        assert conn.info.get_parameters().get("keepalives_idle") == "30"
    finally:
        listener.close()


def test_tick_log_lines_carry_each_items_correlation_id(
    client, merchant_headers, db, private_redis, worker_env, capsys, monkeypatch
):
    redis = private_redis
    first, second = pay(client, merchant_headers), pay(client, merchant_headers)
    db.execute(
        "UPDATE payments SET correlation_id = CASE id WHEN %s THEN 'req_first' ELSE"
        " 'req_second' END",
        (first["id"],),
    )
    bind_correlation_id("req_waker")
    JobQueues(redis).wake(PAYMENTS_QUEUE)
    structlog.contextvars.clear_contextvars()
    capsys.readouterr()
    configure_logging("payment-worker", "info")
    # Loggers are cached on first use: this module's may hold the API's earlier configuration.
    monkeypatch.setattr(tasks, "log", structlog.get_logger(tasks.__name__))
    try:
        worker = GatewayWorker([Queue(PAYMENTS_QUEUE, connection=redis)], connection=redis)
        worker.work(burst=True, logging_level="INFO")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        structlog.reset_defaults()

    finalised = {line["payment_id"]: line["correlation_id"]
                 for line in lines if line["event"] == "payment_finalized"}  # fmt: skip
    assert finalised == {first["id"]: "req_first", second["id"]: "req_second"}
    assert [line for line in lines if line.get("correlation_id") == "req_waker"] == []
