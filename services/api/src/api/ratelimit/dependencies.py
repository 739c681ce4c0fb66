"""The limits as dependencies, declared on the routes they guard (`dependencies=[...]`).

Each takes the route's validated body, so a request that fails validation is answered 400 and
counts against nothing. The yield-dependencies end before the response is sent
(scope="function"): a failure is counted before the client can send its next attempt.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from api.errors import AuthenticationFailed
from api.merchants.schemas import MerchantLogin, MerchantSignup
from api.payments.errors import ExpiredCard, InvalidCard
from api.payments.schemas import PaymentCreate
from api.ratelimit.limiter import (
    CARD_FAILURES_PER_ORDER,
    LOGIN_FAILURES_PER_ADDRESS,
    LOGIN_FAILURES_PER_EMAIL,
    PUBLIC_PAYMENTS_PER_ADDRESS,
    PUBLIC_PAYMENTS_PER_ORDER,
    SIGNUPS_PER_ADDRESS,
    RateLimiter,
)
from shared.core.client_address import client_address


async def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def _address(request: Request, limiter: RateLimiter) -> str:
    """The person's address (shared.core.client_address): a visitor a service of ours names, the
    address behind our proxies, or the peer."""
    peer = request.client.host if request.client else None
    return client_address(
        peer, request.headers.get, limiter.trusted_proxies, limiter.service_secret
    )


async def limit_failed_logins(
    request: Request, body: MerchantLogin, limiter: RateLimiterDep
) -> AsyncIterator[None]:
    """Failed logins per email and per client address. Every attempt for an email counts
    up front (so a burst of parallel guesses cannot pass before the first failure is
    counted) and a successful login clears the email's count; an address counts failures
    only, so many merchants behind one address can still log in."""
    address, email = _address(request, limiter), body.email.lower()
    await limiter.check(LOGIN_FAILURES_PER_ADDRESS, address)
    await limiter.hit(LOGIN_FAILURES_PER_EMAIL, email)
    try:
        yield
    except AuthenticationFailed:
        await limiter.record(LOGIN_FAILURES_PER_ADDRESS, address)
        raise
    await limiter.clear(LOGIN_FAILURES_PER_EMAIL, email)


async def limit_signups(request: Request, body: MerchantSignup, limiter: RateLimiterDep) -> None:
    """Sign-ups per client address."""
    await limiter.hit(SIGNUPS_PER_ADDRESS, _address(request, limiter))


async def limit_public_payments(
    request: Request, body: PaymentCreate, limiter: RateLimiterDep
) -> AsyncIterator[None]:
    """Card testing: payment attempts per client address and per order, and card attempts the
    API refuses (INVALID_CARD, EXPIRED_CARD) per order."""
    await limiter.hit(PUBLIC_PAYMENTS_PER_ADDRESS, _address(request, limiter))
    await limiter.hit(PUBLIC_PAYMENTS_PER_ORDER, body.order_id)
    if body.method == "card":
        await limiter.check(CARD_FAILURES_PER_ORDER, body.order_id)
    try:
        yield
    except (InvalidCard, ExpiredCard):
        await limiter.record(CARD_FAILURES_PER_ORDER, body.order_id)
        raise


FailedLoginLimit = Depends(limit_failed_logins, scope="function")
SignupLimit = Depends(limit_signups)
PublicPaymentLimit = Depends(limit_public_payments, scope="function")
