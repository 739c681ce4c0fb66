"""Request dependencies: the process's ApiRuntime, the authenticated merchant, pagination,
time bounds of a list."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.security import APIKeyHeader

from api.fields import ISO_8601, utc_time
from api.merchants import auth
from api.pagination import CreatedRange, Pagination
from api.ratelimit.limiter import API_REQUESTS_PER_KEY
from api.runtime import ApiRuntime


async def get_runtime(request: Request) -> ApiRuntime:  # async: no threadpool hop for a lookup
    return request.app.state.runtime


RuntimeDep = Annotated[ApiRuntime, Depends(get_runtime)]

# Declared as security schemes, so the document says both headers are required; a missing one
# is refused by authenticate() with the documented 401 body (docs/api.md#authentication), not by
# FastAPI.
api_key_header = APIKeyHeader(
    name="X-Api-Key", scheme_name="ApiKey", description="Your API key", auto_error=False
)
api_secret_header = APIKeyHeader(
    name="X-Api-Secret", scheme_name="ApiSecret", description="Your API secret", auto_error=False
)


async def current_merchant(
    request: Request,
    x_api_key: Annotated[str | None, Security(api_key_header)],
    x_api_secret: Annotated[str | None, Security(api_secret_header)],
) -> auth.AuthenticatedMerchant:
    """The merchant whose API key and secret the request carries (AuthenticationFailed, or
    RateLimited past its requests per minute), also kept on `request.state.merchant` for
    `api.idempotency.dependency.request_transaction`, which the route declares after it.
    The runtime is read off the app, not declared: FastAPI solves a declared dependency's whole
    tree again wherever it is declared, cached or not, and this one runs on every request."""
    runtime: ApiRuntime = request.app.state.runtime
    merchant = await auth.authenticate(runtime.db, runtime.credentials, x_api_key, x_api_secret)
    # Counted once authenticated: a stranger who knows the (public) key cannot use it up.
    await request.app.state.rate_limiter.hit(API_REQUESTS_PER_KEY, merchant.api_key)
    request.state.merchant = merchant
    return merchant


MerchantDep = Annotated[auth.AuthenticatedMerchant, Depends(current_merchant)]


async def pagination(
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0,
) -> Pagination:
    return Pagination(limit, offset)


PaginationDep = Annotated[Pagination, Depends(pagination)]


TimeInQuery = Annotated[str | None, Query(pattern=ISO_8601, max_length=40)]
# The precision of every timestamp the API shows (`shared.domain.models.iso`).
SHOWN_PRECISION = timedelta(milliseconds=1)


def _shown_millisecond(value: str | None, name: str) -> datetime | None:
    """The millisecond an ISO-8601 time falls in (`api.fields.utc_time`)."""
    moment = utc_time(value, name, example="2026-01-15T10:30:00.000Z")
    return moment and moment.replace(microsecond=moment.microsecond // 1000 * 1000)


async def created_range(
    created_from: Annotated[
        TimeInQuery,
        Query(
            description="ISO-8601; created at or after it, to the millisecond (UTC if no offset)"
        ),
    ] = None,
    created_to: Annotated[
        TimeInQuery,
        Query(
            description="ISO-8601; created at or before it, to the millisecond (UTC if no offset)"
        ),
    ] = None,
) -> CreatedRange:
    end = _shown_millisecond(created_to, "created_to")
    return CreatedRange(
        _shown_millisecond(created_from, "created_from"),
        end + SHOWN_PRECISION if end is not None else None,
    )


CreatedRangeDep = Annotated[CreatedRange, Depends(created_range)]
