"""Totals and time bounds for list endpoints. A total is counted exactly up to
EXACT_TOTAL_UP_TO rows and estimated by PostgreSQL's planner beyond, so a list costs the same
with ten thousand rows as with a million (counting a million index entries takes tens of
milliseconds)."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, LiteralString, TypeVar

from pydantic import BaseModel, Field

from shared.backends.db import AsyncDictConnection, Row, fetchall_async, one_async

EXACT_TOTAL_UP_TO = 10_000

Item = TypeVar("Item")


@dataclass(frozen=True)
class Total:
    count: int
    estimated: bool = False


async def count_matching(
    conn: AsyncDictConnection, select: LiteralString, params: dict[str, Any]
) -> Total:
    """The total of rows `select` (a `SELECT 1 FROM ... WHERE ...`) returns."""
    # `select` is always a constant of a repository; values go as parameters.
    counted = await one_async(
        conn,
        f"SELECT count(*) AS n FROM ({select} LIMIT {EXACT_TOTAL_UP_TO + 1}) AS capped",  # noqa: S608
        params,
    )
    capped = counted["n"]
    if capped <= EXACT_TOTAL_UP_TO:
        return Total(capped)
    plan = await one_async(conn, f"EXPLAIN (FORMAT JSON) {select}", params)
    document = plan["QUERY PLAN"]
    if isinstance(document, str):
        document = json.loads(document)
    return Total(max(int(document[0]["Plan"]["Plan Rows"]), capped), estimated=True)


@dataclass(frozen=True)
class Pagination:
    """A list request's page: `limit` rows after the first `offset` (both from its query)."""

    limit: int
    offset: int

    def page(self, rows: list[Any], total: Total) -> dict[str, Any]:
        """The list response `{data, total, limit, offset, total_is_estimate}` (`Page`)."""
        return {
            "data": rows,
            "total": total.count,
            "limit": self.limit,
            "offset": self.offset,
            "total_is_estimate": total.estimated,
        }


@dataclass(frozen=True)
class Listing:
    """What a list endpoint reads: `SELECT {columns} FROM {table} {joins} WHERE {where}
    ORDER BY {order_by}` (newest first), a page of it at a time: a repository's constant, which
    its service pages with the values of `where`'s parameters (`%(merchant_id)s`). The total
    counts `table` and `where` alone (count_matching), so `joins` may only add columns."""

    columns: LiteralString
    table: LiteralString
    where: LiteralString
    order_by: LiteralString = "created_at DESC, id DESC"
    joins: LiteralString = ""

    async def page(
        self, conn: AsyncDictConnection, params: dict[str, Any], pagination: Pagination
    ) -> tuple[list[Row], Total]:
        """(the rows of one page, newest first as `order_by` says, and the total)."""
        rows = await fetchall_async(
            conn,
            f"SELECT {self.columns} FROM {self.table} {self.joins} WHERE {self.where}"  # noqa: S608
            f" ORDER BY {self.order_by} LIMIT %(limit)s OFFSET %(offset)s",
            params | {"limit": pagination.limit, "offset": pagination.offset},
        )
        total = await count_matching(conn, f"SELECT 1 FROM {self.table} WHERE {self.where}", params)  # noqa: S608
        return rows, total


class Page(BaseModel, Generic[Item]):
    """The shape of every list response: `{data, total, limit, offset}`, newest first."""

    data: list[Item]
    total: int
    limit: int
    offset: int
    total_is_estimate: bool = Field(
        default=False, description="total is PostgreSQL's estimate (beyond 10,000 rows)"
    )


@dataclass(frozen=True)
class CreatedRange:
    """`created_from` and `created_to`, both inclusive, at the millisecond precision the API
    shows: rows are stored to the microsecond, so a row matches when `start <= created_at <
    end`, `end` being the end of `created_to`'s millisecond. A row's own `created_at` as both
    bounds finds it. None: unbounded on that side."""

    start: datetime | None
    end: datetime | None
