from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, Request

from api.dependencies import MerchantDep, RuntimeDep
from api.errors import AuthenticationFailed, error_responses
from api.idempotency.dependency import RequestTransactionDep
from api.merchants import service
from api.merchants.errors import (
    ReplacedSecretCannotRotate,
    SeededMerchantMissing,
    TooManyRetiredApiSecrets,
)
from api.merchants.schemas import MerchantLogin, MerchantSignup, RotatedApiSecret, TestMerchant
from api.ratelimit import limiter as limits
from api.ratelimit.dependencies import RateLimiterDep, address_of
from api.routing import api_router
from shared.domain.models import MerchantCredentials

router = api_router(tags=["merchants"])


async def limit_failed_logins(
    request: Request, body: MerchantLogin, limiter: RateLimiterDep
) -> AsyncIterator[None]:
    """Failed logins per email from one client address, and per client address. Every attempt
    for an email from an address counts up front (so a burst of parallel guesses cannot pass
    before the first failure is counted) and a successful login clears that count; an address
    counts failures only, so many merchants behind one address can still log in. Guesses from
    one address never refuse the same email from another (docs/api.md#rate-limits)."""
    address, email = address_of(request, limiter), body.email.lower()
    email_from_address = f"{email}\x00{address}"  # no email holds a NUL (NO_NUL_PATTERN)
    await limiter.check(limits.LOGIN_FAILURES_PER_ADDRESS, address)
    await limiter.hit(limits.LOGIN_FAILURES_PER_EMAIL, email_from_address)
    try:
        yield
    except AuthenticationFailed:
        await limiter.record(limits.LOGIN_FAILURES_PER_ADDRESS, address)
        raise
    await limiter.clear(limits.LOGIN_FAILURES_PER_EMAIL, email_from_address)


async def limit_signups(request: Request, body: MerchantSignup, limiter: RateLimiterDep) -> None:
    """Sign-ups per client address."""
    await limiter.hit(limits.SIGNUPS_PER_ADDRESS, address_of(request, limiter))


FailedLoginLimit = Depends(limit_failed_logins, scope="function")
SignupLimit = Depends(limit_signups)


@router.post(
    "/api/v1/merchants",
    status_code=201,
    response_model=MerchantCredentials,
    responses=error_responses(409, 429),
    summary="Sign up a merchant",
    dependencies=[SignupLimit],
)
async def sign_up(body: MerchantSignup, runtime: RuntimeDep) -> MerchantCredentials:
    return await service.sign_up(runtime.db, body)


@router.post(
    "/api/v1/merchants/login",
    response_model=MerchantCredentials,
    responses=error_responses(401, 429),
    summary="Log in with email and password",
    dependencies=[FailedLoginLimit],
)
async def log_in(body: MerchantLogin, runtime: RuntimeDep) -> MerchantCredentials:
    return await service.log_in(runtime.db, body)


@router.post(
    "/api/v1/merchants/rotate-api-secret",
    response_model=RotatedApiSecret,
    responses=error_responses(ReplacedSecretCannotRotate, TooManyRetiredApiSecrets),
    summary="Replace the API secret; the old one keeps working for a grace period (24 h)",
)
async def rotate_api_secret(
    request: Request, merchant: MerchantDep, runtime: RuntimeDep, tx: RequestTransactionDep
) -> dict[str, Any]:
    # Forgotten once committed (with an Idempotency-Key, that is after this handler), so no
    # request of this process caches the old secret as current again; other API processes
    # within CREDENTIALS_TTL_S.
    return await service.rotate_api_secret(
        tx,
        merchant.id,
        # The secret it authenticated with: only the current one may rotate.
        request.headers["X-Api-Secret"],
        runtime.settings.api_secret_grace_seconds,
        after_commit=lambda: runtime.credentials.forget(merchant.api_key),
    )


@router.get(
    "/api/v1/test/merchant",
    response_model=TestMerchant,
    responses=error_responses(SeededMerchantMissing),
    summary="The seeded test merchant",
)
async def test_merchant(runtime: RuntimeDep) -> dict[str, Any]:
    return await service.test_merchant(runtime.db)
