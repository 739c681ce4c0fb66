"""Request dependencies: the process's Gateway, the authenticated merchant, pagination."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request

from api.gateway import Gateway
from api.merchants import auth
from api.pagination import Total


async def get_gateway(request: Request) -> Gateway:  # async: no threadpool hop for a lookup
    return request.app.state.gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def current_merchant(
    request: Request,
    gateway: GatewayDep,
    x_api_key: Annotated[str | None, Header(description="Your API key")] = None,
    x_api_secret: Annotated[str | None, Header(description="Your API secret")] = None,
) -> dict[str, Any]:
    # An idempotent request has authenticated already, before looking up its key.
    merchant = getattr(request.state, "merchant", None)
    return merchant or auth.authenticate(gateway.db, x_api_key, x_api_secret)


MerchantDep = Annotated[dict[str, Any], Depends(current_merchant)]


@dataclass(frozen=True)
class Pagination:
    limit: int
    offset: int

    def page(self, rows: list[Any], total: Total) -> dict[str, Any]:
        return {
            "data": rows,
            "total": total.count,
            "limit": self.limit,
            "offset": self.offset,
            "total_is_estimate": total.estimated,
        }


async def pagination(
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0,
) -> Pagination:
    return Pagination(limit, offset)


PaginationDep = Annotated[Pagination, Depends(pagination)]
