"""Work that falls due at a time kept in PostgreSQL: payments when the bank answers, refunds,
webhook deliveries and their retries.

PostgreSQL holds every due time, so nothing is lost with Redis. A *tick* job works off
everything due, then waits for the next due item while one is near and returns when none is.
It waits without polling: it sleeps exactly until the next due time it read, and PostgreSQL
wakes it sooner when work due earlier is committed (a NOTIFY on the queue's channel, sent by
the triggers of migration 007 with the due time as payload). Ticks are enqueued by each
worker's sweep (`JobQueues.wake`, at most one waiting tick per queue), which hears the same
channel while no tick of its process runs, so work that commits wakes a worker without its
creator doing anything more; the sweep also reads the next due time every second, which
picks up work whose tick was lost to a crash or a Redis flush. RQ's own scheduled jobs can't
serve: their due times have whole-second resolution.
"""

import threading
import time
from collections.abc import Callable

import psycopg
import structlog
from psycopg import sql

from shared.backends.db import DictConnection, connection_options, one
from shared.backends.queues import PAYMENTS_QUEUE, REFUNDS_QUEUE, WEBHOOKS_QUEUE

log = structlog.get_logger(__name__)

# Near enough to wait for inside a tick rather than return and be woken again. The NOTIFY
# triggers (migration 007) announce only work due within 2 s: keep this below that.
HORIZON_S = 1.5
# Shortest wait between two looks at PostgreSQL while work keeps falling due or attempts are
# in flight, so a tick never spins.
BATCH_GAP_S = 0.02
# How long a busy tick lets work gather after a look that found some, per queue: under load a
# look finds a window's worth of items and finalises them in one batch (one transaction, one
# events insert, one NOTIFY) instead of a few at a time every BATCH_GAP_S, which left the
# cores to the requests shoppers wait on (README.md#requests-first-background-second). An item
# is made later by at most its queue's window, and only when the previous look, that recent,
# found work: a quiet system finalises each item when it falls due. The dispatcher's window is
# shorter: each endpoint has at most MAX_IN_FLIGHT_PER_ENDPOINT attempts per look, so a window
# of w seconds caps one endpoint at 50 / w deliveries a second per dispatcher.
BATCH_WINDOW_S = {PAYMENTS_QUEUE: 0.2, REFUNDS_QUEUE: 0.2, WEBHOOKS_QUEUE: 0.05}
# Waits up to this long are plain sleeps (see DueListener.wait). A window is slept out plainly
# whatever its length (its `gather_s`), so a tick letting work gather is not woken by each new
# item's NOTIFY; the rest of a longer wait hears them, so a wait for an item due soon never
# holds back one due sooner by more than this.
SHORT_WAIT_S = 0.05
# A tick returns after this long so shutdowns and other ticks are never held up for long.
MAX_RUN_S = 10.0
# How long to wait before opening a lost LISTEN connection again; meanwhile ticks poll.
RECONNECT_S = 5.0


# Where each queue's due times live: its table, and the column that says when a pending row
# falls due.
DUE_AT = {
    PAYMENTS_QUEUE: ("payments", "process_after"),
    REFUNDS_QUEUE: ("refunds", "process_after"),
    WEBHOOKS_QUEUE: ("webhook_logs", "next_retry_at"),
}


# Composed once: ticks and the one-second sweeps read it again and again.
_NEXT_DUE = {
    queue: sql.SQL(
        "SELECT extract(epoch FROM min({column}) - clock_timestamp())::float AS wait"
        " FROM {table} WHERE status = 'pending'"
    ).format(column=sql.Identifier(column), table=sql.Identifier(table))
    for queue, (table, column) in DUE_AT.items()
}


def seconds_until_next_due(conn: DictConnection, queue: str) -> float | None:
    """Seconds until `queue`'s earliest pending row falls due (negative when overdue), by
    PostgreSQL's clock; None when nothing of it is pending. Reads the partial index on
    pending rows."""
    wait: float | None = one(conn.execute(_NEXT_DUE[queue]))["wait"]
    return wait


def due_channel(queue: str) -> str:
    """The NOTIFY channel on which PostgreSQL announces newly due work of `queue`."""
    return f"gateway_due_{queue}"


class DueListener:
    """LISTENs on a queue's channel, so a waiting tick wakes as soon as earlier work commits.

    Owned by the tick's thread. Without a connection (PostgreSQL away) `wait` falls back to
    short sleeps, and the connection is opened again after RECONNECT_S.
    """

    def __init__(self, database_url: str, queue: str):
        self.database_url = database_url
        self.channel = due_channel(queue)
        self._conn: psycopg.Connection | None = None
        self._retry_at = 0.0

    def _connection(self) -> psycopg.Connection | None:
        if self._conn is None and time.monotonic() >= self._retry_at:
            try:
                # The pool's options: TCP keepalives notice a connection that died silently
                # (a quiet night behind a NAT), which notifies() alone would wait on forever.
                conn = psycopg.connect(
                    self.database_url, autocommit=True, **connection_options(self.database_url)
                )
                conn.execute(f'LISTEN "{self.channel}"')
                self._conn = conn
            except psycopg.Error as exc:
                self._retry_at = time.monotonic() + RECONNECT_S
                log.warning("due_listener_unavailable", channel=self.channel, error=str(exc))
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._retry_at = time.monotonic() + RECONNECT_S

    def discard_pending(self) -> None:
        """Forget notifications received while no tick waited: a tick reads the table anyway."""
        conn = self._connection()
        if conn is None:
            return
        try:
            for _ in conn.notifies(timeout=0):
                pass
        except psycopg.Error:
            self._drop()

    def wait(self, seconds: float, gather_s: float = 0.0, unheard_s: float = BATCH_GAP_S) -> None:
        """Sleep `seconds`, or less if work due before then is committed meanwhile.

        The first `gather_s` of it (a busy tick letting work gather for its window) just
        sleeps: being woken by every new item would cost a wake-up per item. Work committed
        meanwhile and due before the end of the wait ends it once the window is out. A short
        wait (at most SHORT_WAIT_S) just sleeps too, and the table is read right after anyway,
        so the notifications that came meanwhile are dropped unread. Without a connection
        (PostgreSQL away), it sleeps `unheard_s` at most: the caller reads the table again.
        """
        if gather_s > 0:
            slept = min(seconds, gather_s)
            time.sleep(slept)
            seconds -= slept
        if seconds <= SHORT_WAIT_S:
            time.sleep(seconds)
            self.discard_pending()
            return
        conn = self._connection()
        if conn is None:
            time.sleep(min(seconds, unheard_s))
            return
        wake_at = time.time() + seconds
        try:
            for notify in conn.notifies(timeout=seconds):
                if _due_epoch(notify.payload) <= wake_at:
                    return
        except psycopg.Error:
            self._drop()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _due_epoch(payload: str) -> float:
    try:
        return float(payload)
    except ValueError:
        return 0.0  # not ours to judge: wake up and read the table


def work_until_idle(
    finalize_due: Callable[[], int],
    seconds_until_next_due: Callable[[], float | None],
    wait: Callable[[float, float], None],
    stopping: threading.Event,
    window_s: float = BATCH_GAP_S,
    full_batch: int | None = None,
) -> int:
    """Finalise due work until nothing is due within the horizon; return how much was done.

    `finalize_due` does one batch and returns its size; `seconds_until_next_due` reads the
    next due time (None: nothing pending); `wait(s, g)` sleeps up to s seconds, less when
    newer work is due sooner, but not less than g (the window: work gathers, unheard). Between
    looks it waits at least BATCH_GAP_S, and until `window_s` seconds after the last look that
    found work (the queue's BATCH_WINDOW_S). A batch of `full_batch` items (the most one
    batch takes) is a backlog: the next look follows at once, with no window; a smaller one
    waits out the window. Without `full_batch`, every look that found work is followed at once
    by another. Returns early, between batches, once `stopping` is set (SIGTERM).
    """
    done = 0
    started = time.monotonic()
    found_work_at = -window_s
    while not stopping.is_set():
        while not stopping.is_set():
            looked_at = time.monotonic()
            finalized = finalize_due()
            if finalized <= 0:
                break
            done += finalized
            if full_batch is not None and finalized >= full_batch:
                found_work_at = -window_s
                continue
            found_work_at = looked_at
            if full_batch is not None:
                break
        wait_s = seconds_until_next_due()
        if wait_s is None or wait_s > HORIZON_S:
            return done
        if time.monotonic() - started > MAX_RUN_S or stopping.is_set():
            return done
        gather_s = max(found_work_at + window_s - time.monotonic(), 0.0)
        wait(max(wait_s, BATCH_GAP_S, gather_s), gather_s)
    return done
