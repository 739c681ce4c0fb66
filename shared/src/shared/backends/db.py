"""PostgreSQL access: one pool per process, one transaction per request or job.

Two faces of the same rules: `Database` for the workers, which are threads doing one job at a
time, and `AsyncDatabase` for the API, whose requests run on one event loop without a thread
hop per database call (the hops cost the API more CPU than its queries).
"""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from psycopg import AsyncConnection, Connection, Cursor, sql
from psycopg.abc import Params
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

log = structlog.get_logger(__name__)

# A row as the pool hands it out: column name -> value (`row_factory=dict_row`). The one row
# type of every repository and of the code reading its rows; what a service returns to a client
# is a resource model built from rows (`shared.domain.models`, `Model.from_row`).
Row = DictRow
# What the pool hands out: a connection whose rows are `Row`s.
DictConnection = Connection[Row]
# The API's: the same rows, awaited.
AsyncDictConnection = AsyncConnection[Row]
# A statement as a connection executes it.
Statement = str | bytes | sql.SQL | sql.Composed
RowT = TypeVar("RowT")
ConnT = TypeVar("ConnT", DictConnection, AsyncDictConnection)

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


async def one_async(
    conn: AsyncDictConnection, query: Statement, params: Params | None = None
) -> Row:
    """`one` for the API's async connections: the row of `query` (with `params`) on `conn`."""
    row = await fetchone_async(conn, query, params)
    if row is None:
        raise LookupError("the statement returned no row")
    return row


async def fetchone_async(
    conn: AsyncDictConnection, query: Statement, params: Params | None = None
) -> Row | None:
    """The first row `query` (with `params`) returns on `conn`, None if it returns none."""
    return await (await conn.execute(query, params)).fetchone()


async def fetchall_async(
    conn: AsyncDictConnection, query: Statement, params: Params | None = None
) -> list[Row]:
    """Every row `query` (with `params`) returns on `conn`."""
    return await (await conn.execute(query, params)).fetchall()


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
class Transaction(Generic[ConnT]):
    """An open transaction and what to do once it has committed (log the state change it made,
    forget a cached credential)."""

    conn: ConnT
    _after_commit: list[Callable[[], object]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run `callback` only if the transaction commits; dropped on rollback."""
        self._after_commit.append(callback)

    def run_after_commit(self) -> None:
        """The follow-ups, once committed, in the order they were registered. The data is
        committed whatever they do: a failing one is logged, and the others still run."""
        for callback in self._after_commit:
            try:
                callback()
            except Exception:
                log.exception("after_commit_failed")


AsyncTransaction = Transaction[AsyncDictConnection]


def _pool_options(url: str, min_size: int, max_size: int, name: str) -> dict[str, Any]:
    """What both pools are made with: dict rows, autocommit between transactions, the
    connection options above, opened by `open()`, a 5 s wait for a free connection."""
    return {
        "min_size": min_size,
        "max_size": max_size,
        "kwargs": {"row_factory": dict_row, "autocommit": True, **connection_options(url)},
        "name": name,
        "open": False,
        "timeout": 5.0,
    }


class Database:
    """The workers' pool (psycopg's ConnectionPool), in autocommit mode between transactions."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10, name: str = "gateway"):
        self.pool = ConnectionPool(
            url, connection_class=DictConnection, **_pool_options(url, min_size, max_size, name)
        )

    def open(self, wait: bool = True) -> None:
        self.pool.open(wait=wait, timeout=10.0)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction[DictConnection]]:
        """One transaction; its follow-ups run once it has committed."""
        with self.pool.connection() as conn:
            tx = Transaction(conn)
            with conn.transaction():
                yield tx
        tx.run_after_commit()

    @contextmanager
    def autocommit(self) -> Iterator[Transaction[DictConnection]]:
        """An autocommit connection, no transaction: for work that is a single statement,
        atomic on its own, without the BEGIN and COMMIT round trips. The `Transaction` it yields
        only carries `after_commit` follow-ups, which run once the statement is done."""
        with self.pool.connection() as conn:
            tx = Transaction(conn)
            yield tx
        tx.run_after_commit()

    @contextmanager
    def connection(self) -> Iterator[DictConnection]:
        """A connection in autocommit mode, for reads that need no transaction."""
        with self.pool.connection() as conn:
            yield conn


class AsyncDatabase:
    """The API's pool (psycopg's AsyncConnectionPool): `Database`'s rules, awaited."""

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10, name: str = "api"):
        self.pool = AsyncConnectionPool(
            url,
            connection_class=AsyncDictConnection,
            **_pool_options(url, min_size, max_size, name),
        )

    async def open(self, wait: bool = True) -> None:
        await self.pool.open(wait=wait, timeout=10.0)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncTransaction]:
        """One transaction; its follow-ups run once it has committed. A service handed a
        request's transaction (`api.idempotency.dependency`) uses that one instead."""
        async with self.pool.connection() as conn:
            tx = Transaction(conn)
            async with conn.transaction():
                yield tx
        tx.run_after_commit()

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncTransaction]:
        """`Database.autocommit`, awaited."""
        async with self.pool.connection() as conn:
            tx = Transaction(conn)
            yield tx
        tx.run_after_commit()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncDictConnection]:
        """A connection in autocommit mode, for reads that need no transaction."""
        async with self.pool.connection() as conn:
            yield conn

    async def ping(self, timeout_s: float = 2.0) -> bool:
        """Whether PostgreSQL answers `SELECT 1` within `timeout_s`, a hung server included."""
        try:
            async with asyncio.timeout(timeout_s), self.pool.connection() as conn:
                await conn.execute("SELECT 1")
            return True
        except Exception:
            return False
