from shared.backends.db import AsyncDictConnection, Row, fetchone_async

KEY_LIFETIME = "24 hours"
# How long a request may wait for another request holding the same key before answering 409.
KEY_LOCK_TIMEOUT = "100ms"


async def claim_key(
    conn: AsyncDictConnection, merchant_id: str, key: str, method: str, path: str, fingerprint: str
) -> bool:
    """Take the key for this request, or renew it if it has expired; False if it is taken.

    While the request holding the key is still running, its row is locked and uncommitted:
    this waits up to KEY_LOCK_TIMEOUT for it and raises LockNotAvailable after that.
    """
    await conn.execute(f"SET LOCAL lock_timeout = '{KEY_LOCK_TIMEOUT}'")
    row = await fetchone_async(
        conn,
        f"""
        INSERT INTO idempotency_keys
            (merchant_id, key, request_method, request_path, request_hash, expires_at)
        VALUES (%(merchant_id)s, %(key)s, %(method)s, %(path)s, %(fingerprint)s,
                now() + interval '{KEY_LIFETIME}')
        ON CONFLICT (merchant_id, key) DO UPDATE SET
            request_method = excluded.request_method, request_path = excluded.request_path,
            request_hash = excluded.request_hash, response_status = NULL, response_body = NULL,
            created_at = now(), expires_at = excluded.expires_at
        WHERE idempotency_keys.expires_at <= now()
        RETURNING 1
        """,
        {"merchant_id": merchant_id, "key": key, "method": method, "path": path,
         "fingerprint": fingerprint},
    )  # fmt: skip
    await conn.execute("SET LOCAL lock_timeout = DEFAULT")
    return row is not None


async def get_key(conn: AsyncDictConnection, merchant_id: str, key: str) -> Row | None:
    return await fetchone_async(
        conn,
        """
        SELECT request_method, request_path, request_hash, response_status, response_body
        FROM idempotency_keys WHERE merchant_id = %s AND key = %s
        """,
        (merchant_id, key),
    )


async def store_response(
    conn: AsyncDictConnection, merchant_id: str, key: str, status: int, body: bytes
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET response_status = %s, response_body = %s"
        " WHERE merchant_id = %s AND key = %s",
        (status, body, merchant_id, key),
    )
