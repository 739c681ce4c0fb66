"""The merchant row that authentication reads, by API key."""

from shared.backends.db import AsyncDictConnection, Row, fetchone_async
from shared.domain.models import MerchantCredentials


async def merchant_for_authentication(conn: AsyncDictConnection, api_key: str) -> Row | None:
    """The merchant of `api_key` with `retired_api_secrets` and `retired_expires_at`: its
    replaced secrets still in their grace period, and when each stops (same order)."""
    return await fetchone_async(
        conn,
        f"""
        SELECT {MerchantCredentials.columns()},
               ARRAY(SELECT r.api_secret FROM retired_api_secrets r
                     WHERE r.merchant_id = merchants.id AND r.expires_at > now()
                     ORDER BY r.api_secret) AS retired_api_secrets,
               ARRAY(SELECT r.expires_at FROM retired_api_secrets r
                     WHERE r.merchant_id = merchants.id AND r.expires_at > now()
                     ORDER BY r.api_secret) AS retired_expires_at
        FROM merchants WHERE api_key = %s
        """,
        (api_key,),
    )
