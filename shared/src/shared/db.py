"""PostgreSQL access: one pool per process, one transaction per request or job."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import structlog
from psycopg import Connection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

log = structlog.get_logger(__name__)


@dataclass
class Transaction:
    """An open transaction and the work to do once it has committed (e.g. enqueue jobs)."""

    conn: Connection[DictRow]
    _after_commit: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` only if the transaction commits; dropped on rollback."""
        self._after_commit.append(callback)


class Database:
    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10, name: str = "gateway"):
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": True},
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
        with self.pool.connection() as conn:
            tx = Transaction(conn)
            with conn.transaction():
                yield tx
        for callback in tx._after_commit:
            # The data is committed; a failed follow-up (an enqueue) is recovered by a sweep.
            try:
                callback()
            except Exception:
                log.exception("after_commit_failed", callback=getattr(callback, "__name__", ""))

    @contextmanager
    def connection(self) -> Iterator[Connection[DictRow]]:
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
