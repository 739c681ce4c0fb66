from typing import Any

from api.dependencies import MerchantDep, PaginationDep, RuntimeDep
from api.errors import error_responses
from api.fields import WebhookIdInPath
from api.routing import api_router
from api.webhooks import service
from api.webhooks.errors import WebhookNotFound, WebhookUrlNotSet
from api.webhooks.schemas import (
    WebhookConfig,
    WebhookConfigUpdate,
    WebhookLogDetail,
    WebhookLogPage,
    WebhookRetried,
    WebhookTestSent,
)

router = api_router(tags=["webhooks"])


@router.get(
    "/api/v1/webhooks/config",
    response_model=WebhookConfig,
    responses=error_responses(401, 503),
    summary="The webhook URL and signing secret",
)
async def get_config(merchant: MerchantDep, runtime: RuntimeDep) -> dict[str, Any]:
    return await service.get_config(runtime.db, merchant)


@router.put(
    "/api/v1/webhooks/config",
    response_model=WebhookConfig,
    responses=error_responses(400, 401, 503),
    summary="Set the webhook URL (http/https); an empty string clears it",
)
async def update_config(
    body: WebhookConfigUpdate, merchant: MerchantDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.update_config(runtime, merchant.id, body.webhook_url)


@router.post(
    "/api/v1/webhooks/config/rotate-secret",
    response_model=WebhookConfig,
    responses=error_responses(401, 409, 503),
    summary="New signing secret; every replaced one keeps signing alongside for 24 hours",
)
async def rotate_secret(merchant: MerchantDep, runtime: RuntimeDep) -> dict[str, Any]:
    return await service.rotate_secret(runtime.db, merchant.id)


@router.post(
    "/api/v1/webhooks/test",
    status_code=201,
    response_model=WebhookTestSent,
    responses=error_responses(WebhookUrlNotSet, 401, 503),
    summary="Send a webhook.test event to the configured URL",
)
async def send_test(merchant: MerchantDep, runtime: RuntimeDep) -> dict[str, Any]:
    return await service.send_test(runtime, merchant)


@router.get(
    "/api/v1/webhooks",
    response_model=WebhookLogPage,
    responses=error_responses(400, 401, 503),
    summary="Webhook deliveries, newest first",
)
async def list_logs(
    merchant: MerchantDep, runtime: RuntimeDep, pagination: PaginationDep
) -> dict[str, Any]:
    rows, total = await service.list_logs(
        runtime.db, merchant.id, pagination.limit, pagination.offset
    )
    return pagination.page(rows, total)


@router.get(
    "/api/v1/webhooks/{webhook_id}",
    response_model=WebhookLogDetail,
    responses=error_responses(401, WebhookNotFound, 503),
    summary="One delivery with its payload and every attempt",
)
async def get_log(
    webhook_id: WebhookIdInPath, merchant: MerchantDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.get_log(runtime.db, merchant.id, webhook_id)


@router.post(
    "/api/v1/webhooks/{webhook_id}/retry",
    response_model=WebhookRetried,
    responses=error_responses(401, WebhookNotFound, 503),
    summary="Deliver again now, with attempts reset to 0",
)
async def retry(
    webhook_id: WebhookIdInPath, merchant: MerchantDep, runtime: RuntimeDep
) -> dict[str, Any]:
    return await service.retry(runtime, merchant.id, webhook_id)
