"""What the limits' dependencies share: the limiter and the client's address. Each domain
declares the limits of its routes beside them (`dependencies=[...]`), taking the route's
validated body, so a request that fails validation is answered 400 and counts against nothing.
A yield-dependency ends before the response is sent (scope="function"): a failure is counted
before the client can send its next attempt.
"""

from typing import Annotated

from fastapi import Depends, Request

from api.ratelimit.limiter import RateLimiter
from shared.core.client_address import address_block, client_address, every_line


async def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def address_of(request: Request, limiter: RateLimiter) -> str:
    """The person's address (shared.core.client_address): a visitor a service of ours names, the
    address behind our proxies, or the peer; an IPv6 one as its /64 (`address_block`)."""
    peer = request.client.host if request.client else None
    return address_block(client_address(
        peer, every_line(request.headers.getlist), limiter.trusted_proxies,
        limiter.service_secret,
    ))  # fmt: skip
