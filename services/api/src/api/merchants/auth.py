"""Merchant authentication by API key and secret, compared in constant time."""

import hmac
from dataclasses import dataclass

from api.merchants import repository
from shared.db import AsyncDatabase
from shared.errors import AuthenticationFailed

# Compared against when the key is unknown, so a miss costs what a hit costs.
UNKNOWN_KEY_SECRET = "secret_unknown_" + "0" * 32
# Starts with the description clients match on (CONTRACT §4), then says what to send.
MISSING_CREDENTIALS = "Invalid API credentials: send X-Api-Key and X-Api-Secret headers"


@dataclass(frozen=True)
class AuthenticatedMerchant:
    """The merchant a request authenticated as (`MerchantDep`): what the routes use of it."""

    id: str  # the merchant's UUID, as text
    api_key: str
    webhook_url: str | None
    webhook_secret: str


async def authenticate(
    db: AsyncDatabase, api_key: str | None, api_secret: str | None
) -> AuthenticatedMerchant:
    """The merchant whose key and (current or still-retiring) secret these are;
    AuthenticationFailed (401) otherwise."""
    if not api_key or not api_secret:
        raise AuthenticationFailed(MISSING_CREDENTIALS)
    async with db.connection() as conn:
        merchant = await repository.get_for_authentication(conn, api_key)
    if merchant is None:
        accepted = [UNKNOWN_KEY_SECRET]
    else:  # the current secret, and those a rotation replaced that are still in their grace
        accepted = [merchant["api_secret"], *merchant["retired_api_secrets"]]
    # Every one compared, each in constant time: no early exit says which one matched.
    matches = [hmac.compare_digest(s.encode(), api_secret.encode()) for s in accepted]
    if not any(matches) or merchant is None:
        raise AuthenticationFailed
    return AuthenticatedMerchant(
        id=str(merchant["id"]),
        api_key=merchant["api_key"],
        webhook_url=merchant["webhook_url"],
        webhook_secret=merchant["webhook_secret"],
    )
