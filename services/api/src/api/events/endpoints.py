from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.dependencies import MerchantDep, PaginationDep, RuntimeDep
from api.errors import error_responses
from api.events import service
from api.events.errors import EventNotFound
from api.events.schemas import EventDetail, EventPage, EventType
from api.fields import ISO_8601

router = APIRouter(tags=["events"])

TimeInQuery = Annotated[str | None, Query(pattern=ISO_8601, max_length=40)]

EventIdInPath = Annotated[
    str,
    Path(
        description="The event id (the `webhook-id` of its deliveries)",
        json_schema_extra={"format": "uuid"},
    ),
]


@router.get(
    "/api/v1/events",
    response_model=EventPage,
    responses=error_responses(400, 401, 503),
    summary="The merchant's events, newest first",
)
async def list_events(
    merchant: MerchantDep,
    runtime: RuntimeDep,
    pagination: PaginationDep,
    event_type: Annotated[
        EventType | None, Query(alias="type", description="Only events of this type")
    ] = None,
    created_from: Annotated[
        TimeInQuery, Query(description="ISO-8601; events created at or after it (UTC if no offset)")
    ] = None,
    created_to: Annotated[
        TimeInQuery,
        Query(description="ISO-8601; events created at or before it (UTC if no offset)"),
    ] = None,
) -> dict[str, Any]:
    rows, total = await service.list_events(
        runtime.db,
        merchant.id,
        event_type,
        created_from,
        created_to,
        pagination.limit,
        pagination.offset,
    )
    return pagination.page(rows, total)


@router.get(
    "/api/v1/events/{event_id}",
    response_model=EventDetail,
    responses=error_responses(401, EventNotFound, 503),
    summary="One event: its data, the exact body delivered, and its deliveries",
)
async def get_event(
    event_id: EventIdInPath, merchant: MerchantDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.get_event(runtime.db, merchant.id, event_id)
