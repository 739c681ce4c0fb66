from datetime import datetime
from typing import Any

from shared.backends.db import (
    AsyncDictConnection,
    Row,
    fetchall_async,
    fetchone_async,
    one_async,
)
from shared.domain.models import MerchantCredentials

MERCHANT_COLUMNS = MerchantCredentials.columns()


async def lock_for_rotation(conn: AsyncDictConnection, merchant_id: str) -> Row:
    """The merchant's current secret and is_test, its row locked until the transaction ends,
    so that two rotations at once retire one secret each rather than the same one twice."""
    return await one_async(
        conn, "SELECT api_secret, is_test FROM merchants WHERE id = %s FOR UPDATE", (merchant_id,)
    )


async def live_retired_expiries(conn: AsyncDictConnection, merchant_id: str) -> list[datetime]:
    """When each of the merchant's replaced API secrets still in their grace stops working."""
    rows = await fetchall_async(
        conn,
        "SELECT expires_at FROM retired_api_secrets WHERE merchant_id = %s AND expires_at > now()",
        (merchant_id,),
    )
    return [row["expires_at"] for row in rows]


async def retire_api_secret(
    conn: AsyncDictConnection, merchant_id: str, api_secret: str, grace_seconds: int
) -> datetime:
    """Keep `api_secret` working for `grace_seconds`; forget the merchant's expired ones."""
    await conn.execute(
        "DELETE FROM retired_api_secrets WHERE merchant_id = %s AND expires_at <= now()",
        (merchant_id,),
    )
    row = await one_async(
        conn,
        """
        INSERT INTO retired_api_secrets (merchant_id, api_secret, expires_at)
        VALUES (%s, %s, now() + make_interval(secs => %s))
        ON CONFLICT (merchant_id, api_secret) DO UPDATE SET expires_at = EXCLUDED.expires_at
        RETURNING expires_at
        """,
        (merchant_id, api_secret, grace_seconds),
    )
    return row["expires_at"]


async def set_api_secret(conn: AsyncDictConnection, merchant_id: str, api_secret: str) -> Row:
    return await one_async(
        conn,
        f"""
        UPDATE merchants SET api_secret = %s, updated_at = now() WHERE id = %s
        RETURNING {MERCHANT_COLUMNS}
        """,
        (api_secret, merchant_id),
    )


async def get_by_email(conn: AsyncDictConnection, email: str) -> Row | None:
    return await fetchone_async(
        conn, f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE lower(email) = lower(%s)", (email,)
    )


async def get_by_id(conn: AsyncDictConnection, merchant_id: str) -> Row | None:
    return await fetchone_async(
        conn, f"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = %s", (merchant_id,)
    )


async def insert_merchant(conn: AsyncDictConnection, **fields: Any) -> Row:
    return await one_async(
        conn,
        f"""
        INSERT INTO merchants (name, email, password_hash, api_key, api_secret, webhook_secret)
        VALUES (%(name)s, %(email)s, %(password_hash)s, %(api_key)s, %(api_secret)s,
                %(webhook_secret)s)
        RETURNING {MERCHANT_COLUMNS}
        """,
        fields,
    )
