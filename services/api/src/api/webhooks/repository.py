from api.pagination import Total, count_matching
from shared.db import AsyncDictConnection, Row, one_async

LOG_COLUMNS = """
    l.id, l.event, l.status, l.attempts, l.created_at, l.last_attempt_at, l.next_retry_at,
    l.response_code, last_attempt.error AS last_error
"""
# The error of a log's latest attempt, off the (webhook_log_id, attempt_number) unique index.
LAST_ATTEMPT = """
LEFT JOIN LATERAL (
    SELECT a.error FROM webhook_attempts a WHERE a.webhook_log_id = l.id
    ORDER BY a.attempt_number DESC LIMIT 1
) last_attempt ON true
"""


async def list_logs(
    conn: AsyncDictConnection, merchant_id: str, limit: int, offset: int
) -> list[Row]:
    return await (
        await conn.execute(
            f"""
        SELECT {LOG_COLUMNS} FROM webhook_logs l {LAST_ATTEMPT}
        WHERE l.merchant_id = %s
        ORDER BY l.created_at DESC, l.id DESC LIMIT %s OFFSET %s
        """,
            (merchant_id, limit, offset),
        )
    ).fetchall()


async def count_logs(conn: AsyncDictConnection, merchant_id: str) -> Total:
    return await count_matching(
        conn,
        "SELECT 1 FROM webhook_logs WHERE merchant_id = %(merchant_id)s",
        {"merchant_id": merchant_id},
    )


async def get_log(conn: AsyncDictConnection, log_id: str, merchant_id: str) -> Row | None:
    return await (
        await conn.execute(
            f"""
        SELECT {LOG_COLUMNS}, l.payload FROM webhook_logs l {LAST_ATTEMPT}
        WHERE l.id = %s AND l.merchant_id = %s
        """,
            (log_id, merchant_id),
        )
    ).fetchone()


async def list_attempts(conn: AsyncDictConnection, log_id: str) -> list[Row]:
    return await (
        await conn.execute(
            """
        SELECT attempt_number, scheduled_attempt, attempted_at, duration_ms, response_code,
               response_body, error
        FROM webhook_attempts WHERE webhook_log_id = %s ORDER BY attempt_number
        """,
            (log_id,),
        )
    ).fetchall()


async def schedule_again(conn: AsyncDictConnection, log_id: str, merchant_id: str) -> Row | None:
    """Deliver again at once with a fresh set of attempts."""
    return await (
        await conn.execute(
            """
        UPDATE webhook_logs
        SET status = 'pending', attempts = 0, next_retry_at = now(), updated_at = now()
        WHERE id = %s AND merchant_id = %s
        RETURNING id, status
        """,
            (log_id, merchant_id),
        )
    ).fetchone()


async def set_webhook_url(conn: AsyncDictConnection, merchant_id: str, url: str | None) -> Row:
    return await one_async(
        await conn.execute(
            """
        UPDATE merchants SET webhook_url = %s, updated_at = now() WHERE id = %s
        RETURNING webhook_url, webhook_secret
        """,
            (url, merchant_id),
        )
    )


async def get_config(conn: AsyncDictConnection, merchant_id: str) -> Row:
    """The merchant's current webhook URL and signing secret."""
    return await one_async(
        await conn.execute(
            "SELECT webhook_url, webhook_secret FROM merchants WHERE id = %s", (merchant_id,)
        )
    )


async def lock_config(conn: AsyncDictConnection, merchant_id: str) -> Row:
    """The merchant's webhook config, row-locked: rotations of one merchant run one at a time."""
    return await one_async(
        await conn.execute(
            "SELECT webhook_url, webhook_secret FROM merchants WHERE id = %s FOR UPDATE",
            (merchant_id,),
        )
    )


async def live_replaced_secrets(conn: AsyncDictConnection, merchant_id: str) -> list[Row]:
    """Replaced secrets still signing, newest first: (replaced_at, expires_at), no secret."""
    return await (
        await conn.execute(
            """
        SELECT replaced_at, expires_at FROM webhook_secrets
        WHERE merchant_id = %s AND expires_at > now()
        ORDER BY replaced_at DESC, id DESC
        """,
            (merchant_id,),
        )
    ).fetchall()


async def secrets_in_force(conn: AsyncDictConnection, merchant_id: str) -> list[str]:
    """The secrets a delivery is signed with now, as the dispatcher reads them: the current
    one first, then the replaced ones still in their overlap, newest first."""
    row = await one_async(
        await conn.execute(
            """
        SELECT ARRAY[m.webhook_secret] || ARRAY(
                   SELECT s.secret FROM webhook_secrets s
                   WHERE s.merchant_id = m.id AND s.expires_at > now()
                   ORDER BY s.replaced_at DESC, s.id DESC) AS secrets
        FROM merchants m WHERE m.id = %s
        """,
            (merchant_id,),
        )
    )
    return list(row["secrets"])


async def replace_secret(
    conn: AsyncDictConnection, merchant_id: str, new_secret: str, overlap: str
) -> Row:
    """Keep the current secret signing for `overlap` (an interval) and make `new_secret`
    current; replaced secrets that have run out are deleted on the way."""
    await conn.execute(
        "DELETE FROM webhook_secrets WHERE merchant_id = %s AND expires_at <= now()",
        (merchant_id,),
    )
    await conn.execute(
        """
        INSERT INTO webhook_secrets (merchant_id, secret, replaced_at, expires_at)
        SELECT id, webhook_secret, now(), now() + %s::interval FROM merchants WHERE id = %s
        """,
        (overlap, merchant_id),
    )
    return await one_async(
        await conn.execute(
            """
        UPDATE merchants SET webhook_secret = %s, updated_at = now() WHERE id = %s
        RETURNING webhook_url, webhook_secret
        """,
            (new_secret, merchant_id),
        )
    )
