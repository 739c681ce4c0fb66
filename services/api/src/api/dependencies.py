"""Request dependencies: the process's ApiRuntime, the authenticated merchant, pagination,
time bounds of a list."""

from typing import Annotated

from fastapi import Depends, Query, Request, Security
from fastapi.openapi.models import APIKeyIn
from fastapi.security import APIKeyHeader
from fastapi.security.api_key import APIKeyBase

from api.authentication import credentials as auth
from api.fields import ISO_8601, end_of_millisecond, shown_millisecond
from api.pagination import CreatedRange, Pagination
from api.ratelimit.limiter import API_REQUESTS_PER_KEY
from api.runtime import ApiRuntime


async def get_runtime(request: Request) -> ApiRuntime:  # async: no threadpool hop for a lookup
    return request.app.state.runtime


RuntimeDep = Annotated[ApiRuntime, Depends(get_runtime)]

# Declared as security schemes, so the document says both headers are required; a missing one
# is refused by authenticate() with the documented 401 body (docs/api.md#authentication), not by
# FastAPI.
api_secret_header = APIKeyHeader(
    name="X-Api-Secret", scheme_name="ApiSecret", description="Your API secret", auto_error=False
)


class MerchantApiKey(APIKeyBase):
    """The X-Api-Key header as the security scheme "ApiKey", and the authentication of the
    merchant it names: called, it gives the merchant whose key and secret the request carries
    (AuthenticationFailed, or RateLimited past its requests per minute), also kept on
    `request.state.merchant` for `api.idempotency.dependency.request_transaction`, which the
    route declares after it.

    The scheme authenticates, rather than a function taking both headers as schemes: FastAPI
    solves every dependency of a route's tree on every request, so each level saved is work
    saved on every request; for the same reason the runtime is read off the app."""

    def __init__(self) -> None:
        super().__init__(
            location=APIKeyIn.header,
            name="X-Api-Key",
            description="Your API key",
            scheme_name="ApiKey",
            auto_error=False,
        )

    async def __call__(
        self,
        request: Request,
        x_api_secret: Annotated[str | None, Security(api_secret_header)],
    ) -> auth.AuthenticatedMerchant:
        runtime: ApiRuntime = request.app.state.runtime
        x_api_key = request.headers.get(self.model.name)
        merchant = await auth.authenticate(runtime.db, runtime.credentials, x_api_key, x_api_secret)
        # Counted once authenticated: a stranger who knows the (public) key cannot use it up.
        await request.app.state.rate_limiter.hit(API_REQUESTS_PER_KEY, merchant.api_key)
        request.state.merchant = merchant
        return merchant


current_merchant = MerchantApiKey()
MerchantDep = Annotated[auth.AuthenticatedMerchant, Security(current_merchant)]


async def pagination(
    limit: Annotated[int, Query(ge=1, le=100, description="Page size")] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0,
) -> Pagination:
    return Pagination(limit, offset)


PaginationDep = Annotated[Pagination, Depends(pagination)]


TimeInQuery = Annotated[str | None, Query(pattern=ISO_8601, max_length=40)]


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
    last = shown_millisecond(created_to, "created_to")
    return CreatedRange(shown_millisecond(created_from, "created_from"), end_of_millisecond(last))


CreatedRangeDep = Annotated[CreatedRange, Depends(created_range)]
