from api.pagination import Listing
from api.webhooks.repository import LAST_ATTEMPT, LOG_COLUMNS
from shared.backends.db import AsyncDictConnection, Row, fetchall_async, fetchone_async
from shared.domain.models import Event

EVENT_COLUMNS = Event.columns()

# NULL filters match everything; the planner still uses the merchant index.
EVENTS = Listing(
    columns=EVENT_COLUMNS,
    table="events",
    where="""
    merchant_id = %(merchant_id)s
    AND (%(type)s::text IS NULL OR type = %(type)s::text)
    AND (%(created_start)s::timestamptz IS NULL OR created_at >= %(created_start)s::timestamptz)
    AND (%(created_end)s::timestamptz IS NULL OR created_at < %(created_end)s::timestamptz)
    """,
    order_by="created_at DESC, seq DESC",
)


async def get_event(conn: AsyncDictConnection, event_id: str, merchant_id: str) -> Row | None:
    return await fetchone_async(
        conn,
        f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s AND merchant_id = %s",
        (event_id, merchant_id),
    )


async def list_deliveries(conn: AsyncDictConnection, event_id: str) -> list[Row]:
    return await fetchall_async(
        conn,
        f"SELECT {LOG_COLUMNS} FROM webhook_logs l {LAST_ATTEMPT}"
        " WHERE l.event_id = %s ORDER BY l.created_at",
        (event_id,),
    )
