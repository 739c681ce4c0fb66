"""PostgreSQL access: one pool per process, one transaction per request or job."""

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from psycopg import Connection, Cursor
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

log = structlog.get_logger(__name__)

# A row as the pool hands it out: column name -> value (`row_factory=dict_row`). The one row
# type of every repository and of the code reading its rows; what a service returns to a client
# is a resource built from rows (shared.serializers), a plain `dict[str, Any]`.
Row = DictRow
# What the pool hands out: a connection whose rows are `Row`s.
DictConnection = Connection[Row]
RowT = TypeVar("RowT")

# A session whose client vanished (a killed container, a lost node) is noticed by TCP keepalive
# in about idle + interval * count = 45 s instead of the kernel's 2 h; both ends probe.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
CONNECT_TIMEOUT_S = 5
# No transaction of ours waits for anything but its own statements (a tick is bounded at 10 s):
# a session idle inside a transaction for this long is a stuck client, and its locks go with it.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


def one(cursor: Cursor[RowT]) -> RowT:
    """The row of a statement that always returns one (`INSERT ... RETURNING`, an aggregate,
    a row the transaction already knows exists); `LookupError` if there is none after all."""
    row = cursor.fetchone()
    if row is None:
        raise LookupError("the statement returned no row")
    return row


def connection_options(url: str) -> dict[str, Any]:
    """psycopg connection keywords for every connection to `url`: TCP keepalives, a connect
    timeout and the server-side `idle_in_transaction_session_timeout` (as a startup option, so
    no round trip). Whatever the URL sets itself wins; its own `options` are kept.

    Behind PgBouncer in transaction mode, add `options` to its `ignore_startup_parameters`
    and set the timeout on the role instead (README, "Connection budget").
    """
    given = conninfo_to_dict(url)
    wanted: dict[str, Any] = {**KEEPALIVES, "connect_timeout": CONNECT_TIMEOUT_S}
    chosen: dict[str, Any] = {key: value for key, value in wanted.items() if key not in given}
    timeout = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}"
    if "idle_in_transaction_session_timeout" not in str(given.get("options", "")):
        chosen["options"] = f"{given['options']} {timeout}" if given.get("options") else timeout
    return chosen


@dataclass
class Transaction:
    """An open transaction and the work to do once it has committed (e.g. enqueue jobs)."""

    conn: DictConnection
    _after_commit: dict[object, Callable[[], object]] = field(default_factory=dict)

    def after_commit(self, callback: Callable[[], object], key: object = None) -> None:
        """Run `callback` only if the transaction commits; dropped on rollback.

        Callbacks registered under the same key run once (e.g. one wake-up per queue).
        """
        self._after_commit.setdefault(key if key is not None else object(), callback)


# A transaction opened around a whole request (idempotent requests) that services join.
_ambient_transaction: ContextVar[Transaction | None] = ContextVar(
    "ambient_transaction", default=None
)


def run_after_commit(tx: Transaction) -> None:
    for callback in tx._after_commit.values():
        # The data is committed; a failed follow-up (an enqueue) is recovered by a sweep.
        try:
            callback()
        except Exception:
            log.exception("after_commit_failed")


class Database:
    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10, name: str = "gateway"):
        self.pool = ConnectionPool(
            url,
            connection_class=DictConnection,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True, **connection_options(url)},
            name=name,
            open=False,
            timeout=5.0,
        )

    def open(self, wait: bool = True) -> None:
        self.pool.open(wait=wait, timeout=10.0)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction; inside an ambient one (see `begin`), that one is joined."""
        ambient = _ambient_transaction.get()
        if ambient is not None:
            yield ambient
            return
        with self.pool.connection() as conn:
            tx = Transaction(conn)
            with conn.transaction():
                yield tx
        run_after_commit(tx)

    @contextmanager
    def autocommit(self) -> Iterator[Transaction]:
        """An autocommit connection, no transaction: for work that is a single statement,
        atomic on its own, without the BEGIN and COMMIT round trips. The `Transaction` it yields
        only carries `after_commit` follow-ups, which run once the statement is done. Inside an
        ambient transaction, that one is joined."""
        ambient = _ambient_transaction.get()
        if ambient is not None:
            yield ambient
            return
        with self.pool.connection() as conn:
            tx = Transaction(conn)
            yield tx
        run_after_commit(tx)

    def begin(self) -> tuple[Transaction, ExitStack]:
        """Open a transaction to be made ambient with `make_ambient` and ended with `end`.

        For a transaction that spans several threads of one request: the caller keeps the
        stack and ends it from whichever thread finishes the request.
        """
        stack = ExitStack()
        conn = stack.enter_context(self.pool.connection())
        stack.enter_context(conn.transaction())
        return Transaction(conn), stack

    @staticmethod
    def make_ambient(tx: Transaction | None) -> None:
        _ambient_transaction.set(tx)

    @staticmethod
    def end(tx: Transaction, stack: ExitStack, error: BaseException | None = None) -> None:
        """Commit (or roll back, given the error), release the connection, run follow-ups."""
        if error is None:
            stack.close()
            run_after_commit(tx)
        else:
            stack.__exit__(type(error), error, error.__traceback__)

    @contextmanager
    def connection(self) -> Iterator[DictConnection]:
        """A connection in autocommit mode, for reads that need no transaction."""
        with self.pool.connection() as conn:
            yield conn

    def ping(self) -> bool:
        try:
            with self.pool.connection(timeout=2.0) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:
            return False
