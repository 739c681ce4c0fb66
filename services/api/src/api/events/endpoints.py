from typing import Annotated, Any

from fastapi import Path, Query

from api.dependencies import CreatedRangeDep, MerchantDep, PaginationDep, RuntimeDep
from api.errors import error_responses
from api.events import service
from api.events.errors import EventNotFound
from api.events.schemas import EventDetail, EventPage, SignedDelivery
from api.routing import api_router
from shared.domain.models import EventType

router = api_router(tags=["events"])

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
    summary="The merchant's events, newest first",
)
async def list_events(
    merchant: MerchantDep,
    runtime: RuntimeDep,
    pagination: PaginationDep,
    created: CreatedRangeDep,
    event_type: Annotated[
        EventType | None, Query(alias="type", description="Only events of this type")
    ] = None,
) -> dict[str, Any]:
    return await service.list_events(runtime.db, merchant.id, event_type, created, pagination)


@router.get(
    "/api/v1/events/{event_id}",
    response_model=EventDetail,
    responses=error_responses(EventNotFound),
    summary="One event: its data, the exact body delivered, and its deliveries",
)
async def get_event(
    event_id: EventIdInPath, merchant: MerchantDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.get_event(runtime.db, merchant.id, event_id)


@router.get(
    "/api/v1/events/{event_id}/delivery",
    response_model=SignedDelivery,
    responses=error_responses(EventNotFound),
    summary="The event signed as a delivery sent now is (what `gateway listen` forwards)",
)
async def get_signed_delivery(
    event_id: EventIdInPath, merchant: MerchantDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.signed_delivery(runtime.db, merchant.id, event_id)
