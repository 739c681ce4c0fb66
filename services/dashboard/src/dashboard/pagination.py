"""Where a list page is (limit/offset over the API's list endpoints) and where its links go."""

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
OffsetQuery = Annotated[int, Query(ge=0, le=10_000_000)]


@dataclass(frozen=True)
class Page:
    path: str
    limit: int
    offset: int
    total: int
    filters: dict[str, str] = field(default_factory=dict)

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else min(self.offset + 1, self.total)

    @property
    def last_row(self) -> int:
        return min(self.offset + self.limit, self.total)

    @property
    def past_the_end(self) -> bool:
        """Whether the page starts after the last row, or past the start of an empty list (an
        old link, a typed offset): it shows nothing, says so rather than "Showing 7 to 7 of 7"
        or "Page 101 of 1", and leads back to the last page that has rows (the first, when
        none has)."""
        return self.offset > 0 and self.total <= self.offset

    @property
    def previous_url(self) -> str | None:
        if self.past_the_end:  # the last page that has rows, not another empty one
            return self.url((self.count - 1) * self.limit)
        return self.url(max(self.offset - self.limit, 0)) if self.offset > 0 else None

    @property
    def next_url(self) -> str | None:
        return self.url(self.offset + self.limit) if self.offset + self.limit < self.total else None

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    @property
    def count(self) -> int:
        return max((self.total + self.limit - 1) // self.limit, 1)

    def url(self, offset: int) -> str:
        params = {key: value for key, value in self.filters.items() if value}
        if self.limit != DEFAULT_LIMIT:
            params["limit"] = str(self.limit)
        if offset:
            params["offset"] = str(offset)
        return f"{self.path}?{urlencode(params)}" if params else self.path

    @property
    def here(self) -> str:
        return self.url(self.offset)
