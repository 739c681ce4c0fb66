"""Merchant authentication by API key and secret, compared in constant time. Below the
merchant routes (`api.merchants`: sign-up, login, rotation) and the request dependencies
that use it (`api.dependencies`, `api.runtime`, `api.idempotency`)."""

import asyncio
import hmac
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from api.authentication.repository import merchant_for_authentication
from api.errors import AuthenticationFailed
from shared.backends.db import AsyncDatabase

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
    While a key's secrets are being read, the process's other requests with that key share the
    read (`read`) rather than each making its own.
    """

    def __init__(self, ttl_s: float = CREDENTIALS_TTL_S, max_keys: int = MAX_CACHED_KEYS):
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._entries: OrderedDict[str, _KeyCredentials] = OrderedDict()
        self._reads: dict[str, asyncio.Task[_KeyCredentials | None]] = {}

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

    async def read(
        self, api_key: str, query: Callable[[], Awaitable["_KeyCredentials | None"]]
    ) -> tuple["_KeyCredentials | None", bool]:
        """A key's secrets as `query` reads them (None: no such key), and whether the read was
        shared: begun by another request that was still waiting for it when this one missed.

        Without sharing, every request in flight when a key's entry expires reads it again, so
        the reads per second grow with the clients (32 at once on a pool of DB_POOL_SIZE
        connections queued behind each other's lookups). The read runs as a task of its own,
        so a request that goes away does not cancel it for the others; its error, if any,
        reaches every request that waited for it."""
        pending = self._reads.get(api_key)
        if pending is not None:
            return await asyncio.shield(pending), True
        task = asyncio.ensure_future(query())
        self._reads[api_key] = task
        task.add_done_callback(lambda done: self._read_done(api_key, done))
        return await asyncio.shield(task), False

    def _read_done(self, api_key: str, task: "asyncio.Task[_KeyCredentials | None]") -> None:
        if self._reads.get(api_key) is task:
            del self._reads[api_key]
        if not task.cancelled():
            task.exception()  # retrieved: raised to the waiters, never logged as forgotten

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

    async def query() -> _KeyCredentials | None:
        async with db.connection() as conn:
            row = await merchant_for_authentication(conn, api_key)
        if row is None:
            return None
        merchant = AuthenticatedMerchant(id=str(row["id"]), api_key=row["api_key"])
        # The current secret, and those a rotation replaced that are still in their grace.
        secrets: list[tuple[str, float | None]] = [(row["api_secret"], None)]
        retired = zip(row["retired_api_secrets"], row["retired_expires_at"], strict=True)
        secrets += [(secret, expires.timestamp()) for secret, expires in retired]
        return _KeyCredentials(merchant, tuple(secrets), time.monotonic())

    entry, shared = await cache.read(api_key, query)
    if shared and (entry is None or not entry.accepts(api_secret, time.time())):
        # Another request's read may have begun before this secret was made: read it again.
        entry = await query()
    if entry is None:
        # Compared all the same, so a miss costs what a hit costs.
        hmac.compare_digest(UNKNOWN_KEY_SECRET.encode(), api_secret.encode())
        raise AuthenticationFailed
    if not entry.accepts(api_secret, time.time()):
        raise AuthenticationFailed
    cache.put(entry.merchant, list(entry.secrets))
    return entry.merchant
