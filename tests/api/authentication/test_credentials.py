"""The API process's cache of what it read of each key's secrets (api.authentication.credentials)."""

import asyncio
import time

from api.authentication.credentials import AuthenticatedMerchant, CredentialCache, authenticate
from api.errors import AuthenticationFailed
from shared.backends.db import AsyncDatabase
from shared.domain.seed import TEST_MERCHANT_ID

MERCHANT = AuthenticatedMerchant(id="550e8400-e29b-41d4-a716-446655440000", api_key="key_a")


def test_a_cached_key_answers_only_for_its_own_secrets():
    cache = CredentialCache(ttl_s=60)
    cache.put(MERCHANT, [("secret_current", None), ("secret_retired", time.time() + 60)])
    assert cache.get("key_a", "secret_current") == MERCHANT
    assert cache.get("key_a", "secret_retired") == MERCHANT
    assert cache.get("key_a", "secret_wrong") is None  # looked up again, never refused here
    assert cache.get("key_b", "secret_current") is None


def test_a_retired_secret_stops_at_its_expiry_even_while_cached():
    cache = CredentialCache(ttl_s=60)
    cache.put(MERCHANT, [("secret_current", None), ("secret_retired", time.time() - 0.001)])
    assert cache.get("key_a", "secret_retired") is None
    assert cache.get("key_a", "secret_current") == MERCHANT


def test_an_entry_is_trusted_for_the_ttl_only():
    cache = CredentialCache(ttl_s=0.05)
    cache.put(MERCHANT, [("secret_current", None)])
    assert cache.get("key_a", "secret_current") == MERCHANT
    time.sleep(0.06)
    assert cache.get("key_a", "secret_current") is None


def test_forget_and_the_bound_on_keys():
    cache = CredentialCache(ttl_s=60, max_keys=2)
    cache.put(MERCHANT, [("s", None)])
    cache.forget("key_a")
    assert cache.get("key_a", "s") is None
    for n in range(3):
        cache.put(AuthenticatedMerchant(id=str(n), api_key=f"key_{n}"), [("s", None)])
    assert cache.get("key_0", "s") is None  # the least recently read went first
    assert cache.get("key_1", "s") is not None and cache.get("key_2", "s") is not None


KEY, SECRET = "key_test_abc123", "secret_test_xyz789"  # the seeded test merchant's


def test_requests_that_miss_together_share_one_read(db, database_url):
    """32 requests in flight when a key's entry expires made 32 reads, each waiting for a
    pooled connection: one read now answers them all, and a wrong secret among them is still
    refused."""

    async def scenario() -> tuple[list, int]:
        database = AsyncDatabase(database_url, max_size=5)
        await database.open()
        try:
            cache = CredentialCache(ttl_s=60)
            attempts = [authenticate(database, cache, KEY, SECRET) for _ in range(32)]
            attempts.append(authenticate(database, cache, KEY, "secret_wrong"))
            results = await asyncio.gather(*attempts, return_exceptions=True)
            return results, database.pool.get_stats().get("requests_num", 0)
        finally:
            await database.close()

    results, connections_asked = asyncio.run(scenario())
    assert all(r == AuthenticatedMerchant(id=TEST_MERCHANT_ID, api_key=KEY) for r in results[:-1])
    assert isinstance(results[-1], AuthenticationFailed)
    # The shared read, and the wrong secret's own second look.
    assert connections_asked == 2


def test_a_shared_read_that_fails_fails_every_request_waiting_for_it():
    reads = 0

    async def broken() -> None:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        raise ConnectionError("database away")

    async def scenario() -> list:
        cache = CredentialCache()
        return await asyncio.gather(
            *(cache.read("key_a", broken) for _ in range(3)), return_exceptions=True
        )

    results = asyncio.run(scenario())
    assert reads == 1
    assert all(isinstance(r, ConnectionError) for r in results)
