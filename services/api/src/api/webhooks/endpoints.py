from typing import Annotated, Any

from fastapi import Query, Response

from api.dependencies import MerchantDep, PaginationDep, RuntimeDep
from api.errors import error_responses
from api.fields import NO_NUL_PATTERN
from api.idempotency.dependency import RequestTransactionDep
from api.routing import api_router
from api.webhooks import service
from api.webhooks.errors import (
    DefaultEndpointDisabled,
    RetryOfDeletedEndpoint,
    RetryOfDisabledEndpoint,
    RetryOfUntakenEvent,
    TooManyEndpoints,
    WebhookEndpointNotFound,
    WebhookNotFound,
    WebhookUrlNotSet,
)
from api.webhooks.schemas import (
    EndpointIdInPath,
    EndpointRecover,
    EndpointRecovered,
    WebhookConfig,
    WebhookConfigUpdate,
    WebhookEndpointCreate,
    WebhookEndpointDetail,
    WebhookEndpointPage,
    WebhookEndpointUpdate,
    WebhookIdInPath,
    WebhookLogDetail,
    WebhookLogPage,
    WebhookRetried,
    WebhookTestSent,
)
from api.webhooks.url_check import ConfigUrlCheckDep, EndpointUrlCheckDep
from shared.domain.models import DeliveryStatus, EventType, WebhookEndpoint

router = api_router(tags=["webhooks"])


@router.get(
    "/api/v1/webhooks/config",
    response_model=WebhookConfig,
    summary="The webhook URL and signing secret",
)
async def get_config(merchant: MerchantDep, runtime: RuntimeDep) -> dict[str, Any]:
    return await service.get_config(runtime.db, merchant.id)


@router.put(
    "/api/v1/webhooks/config",
    response_model=WebhookConfig,
    responses=error_responses(TooManyEndpoints),
    summary="Set the webhook URL (http/https); an empty string clears it",
)
async def update_config(
    body: WebhookConfigUpdate,
    merchant: MerchantDep,
    check: ConfigUrlCheckDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    return await service.update_config(runtime, merchant.id, body.webhook_url, check)


@router.post(
    "/api/v1/webhooks/config/rotate-secret",
    response_model=WebhookConfig,
    summary="New signing secret; every replaced one keeps signing alongside for 24 hours",
)
async def rotate_secret(merchant: MerchantDep, tx: RequestTransactionDep) -> dict[str, Any]:
    return await service.rotate_secret(tx, merchant.id)


@router.post(
    "/api/v1/webhooks/test",
    status_code=201,
    response_model=WebhookTestSent,
    responses=error_responses(WebhookUrlNotSet, DefaultEndpointDisabled),
    summary="Send a webhook.test event to the configured URL",
)
async def send_test(merchant: MerchantDep, tx: RequestTransactionDep) -> dict[str, Any]:
    return await service.send_test(tx, merchant.id)


# Endpoints come before /api/v1/webhooks/{webhook_id}: routes match in order.


@router.get(
    "/api/v1/webhooks/endpoints",
    response_model=WebhookEndpointPage,
    summary="The merchant's webhook endpoints, newest first",
)
async def list_endpoints(
    merchant: MerchantDep, runtime: RuntimeDep, pagination: PaginationDep
) -> dict[str, Any]:
    return await service.list_endpoints(runtime.db, merchant.id, pagination)


@router.post(
    "/api/v1/webhooks/endpoints",
    status_code=201,
    response_model=WebhookEndpoint,
    responses=error_responses(TooManyEndpoints),
    summary="Add an endpoint: a URL, the event types it receives and its own secret",
)
async def create_endpoint(
    body: WebhookEndpointCreate,
    merchant: MerchantDep,
    check: EndpointUrlCheckDep,
    runtime: RuntimeDep,
    tx: RequestTransactionDep,
) -> WebhookEndpoint:
    return await service.create_endpoint(runtime, tx, merchant.id, body, check)


@router.get(
    "/api/v1/webhooks/endpoints/{endpoint_id}",
    response_model=WebhookEndpointDetail,
    responses=error_responses(WebhookEndpointNotFound),
    summary="One endpoint with its delivery health over the last 24 hours",
)
async def get_endpoint(
    merchant: MerchantDep, endpoint_id: EndpointIdInPath, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.get_endpoint(runtime.db, merchant.id, endpoint_id)


@router.patch(
    "/api/v1/webhooks/endpoints/{endpoint_id}",
    response_model=WebhookEndpoint,
    responses=error_responses(WebhookEndpointNotFound),
    summary="Change an endpoint's URL, events, description or status",
)
async def update_endpoint(
    body: WebhookEndpointUpdate,
    merchant: MerchantDep,
    check: EndpointUrlCheckDep,
    endpoint_id: EndpointIdInPath,
    runtime: RuntimeDep,
) -> WebhookEndpoint:
    return await service.update_endpoint(runtime, merchant.id, endpoint_id, body, check)


@router.delete(
    "/api/v1/webhooks/endpoints/{endpoint_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(WebhookEndpointNotFound),
    summary="Delete an endpoint; its pending deliveries end failed, its logs stay",
)
async def delete_endpoint(
    merchant: MerchantDep, endpoint_id: EndpointIdInPath, runtime: RuntimeDep
) -> Response:
    await service.delete_endpoint(runtime, merchant.id, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/api/v1/webhooks/endpoints/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpoint,
    responses=error_responses(WebhookEndpointNotFound),
    summary="New signing secret for the endpoint; the replaced one keeps signing for 24 hours",
)
async def rotate_endpoint_secret(
    merchant: MerchantDep, endpoint_id: EndpointIdInPath, tx: RequestTransactionDep
) -> WebhookEndpoint:
    return await service.rotate_endpoint_secret(tx, merchant.id, endpoint_id)


@router.post(
    "/api/v1/webhooks/endpoints/{endpoint_id}/recover",
    status_code=202,
    response_model=EndpointRecovered,
    responses=error_responses(WebhookEndpointNotFound),
    summary="Deliver again every event since a time that the endpoint missed",
    description="Each event of [since, until] (at most 30 days back; `until` defaults to "
    "now) that the endpoint's filter takes and that has no delivery to it that succeeded or "
    "is still pending is delivered again, as a new log with a fresh schedule and the event id "
    "as `webhook-id`. A second recovery of the same window queues nothing new while the "
    "first one's deliveries are pending or delivered. Recovered deliveries go out about 100 a "
    "second.",
)
async def recover_endpoint(
    body: EndpointRecover,
    merchant: MerchantDep,
    endpoint_id: EndpointIdInPath,
    tx: RequestTransactionDep,
) -> dict[str, Any]:
    return await service.recover(tx, merchant.id, endpoint_id, body)


@router.get(
    "/api/v1/webhooks",
    response_model=WebhookLogPage,
    summary="Webhook deliveries, newest first",
)
async def list_logs(
    merchant: MerchantDep,
    runtime: RuntimeDep,
    pagination: PaginationDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only this status")] = None,
    event: Annotated[EventType | None, Query(description="Only this event type")] = None,
    # Compared in PostgreSQL, whose text holds no NUL: one is a 400 (NO_NUL_PATTERN).
    endpoint_id: Annotated[
        str | None,
        Query(
            max_length=64, pattern=NO_NUL_PATTERN, description="Only deliveries to this endpoint"
        ),
    ] = None,
    object_id: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=NO_NUL_PATTERN,
            description="Only deliveries about this payment or refund",
        ),
    ] = None,
) -> dict[str, Any]:
    filters = {
        "merchant_id": merchant.id,
        "status": status,
        "event": event,
        "endpoint_id": endpoint_id,
        "object_id": object_id,
    }
    return await service.list_logs(runtime.db, filters, pagination)


@router.get(
    "/api/v1/webhooks/{webhook_id}",
    response_model=WebhookLogDetail,
    responses=error_responses(WebhookNotFound),
    summary="One delivery with its payload and every attempt",
)
async def get_log(
    webhook_id: WebhookIdInPath, merchant: MerchantDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.get_log(runtime.db, merchant.id, webhook_id)


@router.post(
    "/api/v1/webhooks/{webhook_id}/retry",
    response_model=WebhookRetried,
    responses=error_responses(
        WebhookNotFound, RetryOfDeletedEndpoint, RetryOfDisabledEndpoint, RetryOfUntakenEvent
    ),
    summary="Deliver again now, with attempts reset to 0",
)
async def retry(
    webhook_id: WebhookIdInPath, merchant: MerchantDep, tx: RequestTransactionDep
) -> dict[str, Any]:
    return await service.retry(tx, merchant.id, webhook_id)
