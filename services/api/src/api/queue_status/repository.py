from shared.backends.db import AsyncDictConnection, one_async


async def pending_counts(conn: AsyncDictConnection) -> dict[str, int]:
    """Work waiting in PostgreSQL, the record of what is due, by queue."""
    row = await one_async(
        conn,
        """
        SELECT (SELECT count(*) FROM payments WHERE status = 'pending') AS payments,
               (SELECT count(*) FROM refunds WHERE status = 'pending') AS refunds,
               (SELECT count(*) FROM webhook_logs WHERE status = 'pending') AS webhooks
        """,
    )
    return dict(row)
