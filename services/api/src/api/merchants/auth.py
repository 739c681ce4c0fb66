"""Merchant authentication by API key and secret, compared in constant time."""

import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass

from api.errors import AuthenticationFailed
from api.merchants import repository
from shared.db import AsyncDatabase

# Compared against when the key is unknown, so a miss costs what a hit costs.
UNKNOWN_KEY_SECRET = "secret_unknown_" + "0" * 32


@dataclass(frozen=True)
class AuthenticatedMerchant:
    """The merchant a request authenticated as (`MerchantDep`): what the routes use of it.
    Its webhook settings are not here: they change, and routes read them in their own query."""

    id: str  # the merchant's UUID, as text
    api_key: str


# How long an API process trusts what it read of a key's secrets (seconds). Within it, a request
# with a key and a secret already seen costs no query. The price: a secret that stops working
# (its grace after a rotation ends) may still work for this long in another API process. The
# process that rotates forgets at once, and a secret read as valid stops at its exact expiry.
CREDENTIALS_TTL_S = 1.0
# Keys remembered at once, least recently read first out: bounded memory whatever the traffic.
MAX_CACHED_KEYS = 10_000


@dataclass(frozen=True)
class _KeyCredentials:
    merchant: AuthenticatedMerchant
    secrets: tuple[tuple[str, float | None], ...]  # (secret, expires at in Unix seconds or None)
    read_at: float  # time.monotonic()

    def accepts(self, api_secret: str, now: float) -> bool:
        # Every one compared, each in constant time: no early exit says which one matched.
        matches = [
            hmac.compare_digest(secret.encode(), api_secret.encode())
            and (expires is None or now < expires)
            for secret, expires in self.secrets
        ]
        return any(matches)


class CredentialCache:
    """What this API process last read of each API key's secrets, for CREDENTIALS_TTL_S.

    The secret is always compared (constant time); only the query is saved. An unknown key or
    a secret that does not match is always looked up again, so a new secret works at once.
    """

    def __init__(self, ttl_s: float = CREDENTIALS_TTL_S, max_keys: int = MAX_CACHED_KEYS):
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._entries: OrderedDict[str, _KeyCredentials] = OrderedDict()

    def get(self, api_key: str, api_secret: str) -> AuthenticatedMerchant | None:
        entry = self._entries.get(api_key)
        if entry is None or time.monotonic() - entry.read_at > self.ttl_s:
            return None
        if not entry.accepts(api_secret, time.time()):
            return None
        self._entries.move_to_end(api_key)
        return entry.merchant

    def put(self, merchant: AuthenticatedMerchant, secrets: list[tuple[str, float | None]]) -> None:
        self._entries[merchant.api_key] = _KeyCredentials(
            merchant, tuple(secrets), time.monotonic()
        )
        self._entries.move_to_end(merchant.api_key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)

    def forget(self, api_key: str) -> None:
        """After a rotation: this process reads the key's secrets again at its next request."""
        self._entries.pop(api_key, None)


async def authenticate(
    db: AsyncDatabase, cache: CredentialCache, api_key: str | None, api_secret: str | None
) -> AuthenticatedMerchant:
    """The merchant whose key and (current or still-retiring) secret these are;
    AuthenticationFailed (401) otherwise. Keys and secrets as in docs/api.md#authentication.

    The description is always exactly `Invalid API credentials` (docs/api.md#exact-descriptions:
    clients match on it); a missing header is named in the error's `field` (`X-Api-Key` or
    `X-Api-Secret`)."""
    if not api_key:
        raise AuthenticationFailed(field="X-Api-Key")
    if not api_secret:
        raise AuthenticationFailed(field="X-Api-Secret")
    cached = cache.get(api_key, api_secret)
    if cached is not None:
        return cached
    async with db.connection() as conn:
        row = await repository.get_for_authentication(conn, api_key)
    if row is None:
        # Compared all the same, so a miss costs what a hit costs.
        hmac.compare_digest(UNKNOWN_KEY_SECRET.encode(), api_secret.encode())
        raise AuthenticationFailed
    merchant = AuthenticatedMerchant(id=str(row["id"]), api_key=row["api_key"])
    # The current secret, and those a rotation replaced that are still in their grace.
    secrets: list[tuple[str, float | None]] = [(row["api_secret"], None)]
    retired = zip(row["retired_api_secrets"], row["retired_expires_at"], strict=True)
    secrets += [(secret, expires.timestamp()) for secret, expires in retired]
    entry = _KeyCredentials(merchant, tuple(secrets), time.monotonic())
    if not entry.accepts(api_secret, time.time()):
        raise AuthenticationFailed
    cache.put(merchant, secrets)
    return merchant
