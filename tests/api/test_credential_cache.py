"""The API process's cache of what it read of each key's secrets (api.merchants.auth)."""

import time

from api.merchants.auth import AuthenticatedMerchant, CredentialCache

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
