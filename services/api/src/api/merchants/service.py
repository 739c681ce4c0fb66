"""Merchant sign-up and login."""

import asyncio
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from psycopg import errors

from api.merchants import repository
from api.merchants.errors import (
    EmailTaken,
    ReplacedSecretCannotRotate,
    SeededMerchantMissing,
    TooManyRetiredApiSecrets,
    WrongPassword,
)
from api.merchants.passwords import DUMMY_HASH, hash_password, verify_password
from api.merchants.schemas import MerchantLogin, MerchantSignup
from shared.backends.db import AsyncDatabase, AsyncTransaction
from shared.core.signing import new_webhook_secret
from shared.domain.models import MerchantCredentials, iso
from shared.domain.seed import TEST_MERCHANT_ID

# Replaced API secrets that may work at once: every authentication that misses the cache
# reads and compares them all, so their number is bounded, as webhook secrets' is
# (docs/api.md#api-secret-rotation).
MAX_RETIRED_API_SECRETS = 10


async def sign_up(db: AsyncDatabase, body: MerchantSignup) -> MerchantCredentials:
    # Hashing is CPU work by design (tens of ms): in a thread, not on the event loop.
    password_hash = await asyncio.to_thread(hash_password, body.password)
    try:
        async with db.transaction() as tx:
            merchant = await repository.insert_merchant(
                tx.conn,
                name=body.name,
                email=str(body.email),
                password_hash=password_hash,
                api_key="key_live_" + secrets.token_hex(8),
                api_secret=new_api_secret(is_test=False),
                webhook_secret=new_webhook_secret(),
            )
    except errors.UniqueViolation as exc:
        if exc.diag.constraint_name == "merchants_email_key":
            raise EmailTaken from None
        raise
    return MerchantCredentials.from_row(merchant)


async def log_in(db: AsyncDatabase, body: MerchantLogin) -> MerchantCredentials:
    async with db.connection() as conn:
        merchant = await repository.get_by_email(conn, body.email)
    if merchant is not None and merchant["is_test"]:
        # docs/api.md#test-merchant: the seeded test merchant accepts any password.
        return MerchantCredentials.from_row(merchant)
    stored = merchant["password_hash"] if merchant and merchant["password_hash"] else DUMMY_HASH
    if not await asyncio.to_thread(verify_password, body.password, stored) or merchant is None:
        raise WrongPassword
    return MerchantCredentials.from_row(merchant)


def new_api_secret(is_test: bool) -> str:
    return ("secret_test_" if is_test else "secret_live_") + secrets.token_hex(16)


async def rotate_api_secret(
    tx: AsyncTransaction,
    merchant_id: str,
    presented_secret: str,
    grace_seconds: int,
    after_commit: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Give the merchant a new API secret (docs/api.md#api-secret-rotation). The replaced one keeps working for
    `grace_seconds` (API_SECRET_GRACE_SECONDS, 24 h by default), as Stripe's key roll does, so
    a deployment can switch without downtime; the key id stays. `after_commit` runs once the
    new secret is committed (the API process forgets what it cached of the old one).
    `presented_secret` is the secret the request authenticated with: only the current one may
    rotate (ReplacedSecretCannotRotate, 409), compared in constant time under the row's lock,
    so of two rotations at once with one secret the second is refused.
    TooManyRetiredApiSecrets (409) while MAX_RETIRED_API_SECRETS replaced secrets still work."""
    async with tx.conn.transaction():
        if after_commit is not None:
            tx.after_commit(after_commit)
        current = await repository.lock_for_rotation(tx.conn, merchant_id)
        if not hmac.compare_digest(current["api_secret"].encode(), presented_secret.encode()):
            raise ReplacedSecretCannotRotate
        retired = await repository.live_retired_expiries(tx.conn, merchant_id)
        if len(retired) >= MAX_RETIRED_API_SECRETS:
            raise TooManyRetiredApiSecrets(len(retired), min(retired))
        expires_at = await repository.retire_api_secret(
            tx.conn, merchant_id, current["api_secret"], grace_seconds
        )
        merchant = await repository.set_api_secret(
            tx.conn, merchant_id, new_api_secret(current["is_test"])
        )
    return {
        "api_key": merchant["api_key"],
        "api_secret": merchant["api_secret"],
        "previous_api_secret_expires_at": iso(expires_at),
    }


async def test_merchant(db: AsyncDatabase) -> dict[str, Any]:
    async with db.connection() as conn:
        merchant = await repository.get_by_id(conn, TEST_MERCHANT_ID)
    if merchant is None:
        raise SeededMerchantMissing
    return {
        "id": str(merchant["id"]),
        "email": merchant["email"],
        "api_key": merchant["api_key"],
        "seeded": True,
    }
