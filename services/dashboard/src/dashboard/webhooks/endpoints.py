"""Webhook settings (URL, secret, test event), the endpoint list, and the delivery logs
(filtered by endpoint or by payment or refund) with manual retry."""

import asyncio
import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from dashboard.dependencies import FormText, MerchantPage, PageDep, id_in_path, safe_next_path
from dashboard.endpoint_views import (
    ALL_EVENTS,
    ENDPOINT_ID,
    MAX_ENDPOINTS,
    OBJECT_ID,
    endpoint_label,
    endpoints_with_health,
)
from dashboard.gateway import ApiError, idempotency_key_or_none
from dashboard.pagination import DEFAULT_LIMIT, LimitQuery, OffsetQuery, Page
from dashboard.rendering import FormProblem, redirect, remember_disabled_endpoints, render
from dashboard.webhooks.service import (
    WEBHOOK_ID,
    attempt_rows,
)
from shared.domain.models import EVENT_TYPES

router = APIRouter(prefix="/dashboard/webhooks")

WebhookIdInPath = Annotated[str, id_in_path("webhook_id", WEBHOOK_ID, "Webhook log not found")]
LOGS_PATH = "/dashboard/webhooks"
ROTATION_NOTE = (
    "After you regenerate the secret, every webhook is signed with the new secret and, for 24 "
    "hours, with the old one too: X-Webhook-Signature then lists one signature per secret, "
    "comma-separated, newest first. Your server must accept a webhook when any listed "
    "signature matches its secret (as the code on the Docs page does); then switch it to the "
    "new secret within those 24 hours and you miss no event."
)


async def render_webhooks_page(
    page: MerchantPage,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    url_value: str | None = None,
    url_error: str | None = None,
    status_code: int = 200,
    endpoint_id: str = "",
    object_id: str = "",
    new_endpoint: dict[str, Any] | None = None,
    new_endpoint_error: FormProblem | None = None,
) -> HTMLResponse:
    endpoint_id = endpoint_id.strip()
    object_id = object_id.strip()
    object_error = None
    if object_id and not OBJECT_ID.match(object_id):
        object_error = "Enter a payment id (pay_…) or a refund id (rfnd_…)."
    endpoint_filter = endpoint_id if ENDPOINT_ID.match(endpoint_id) else ""
    object_filter = "" if object_error else object_id
    config, logs, endpoints = await asyncio.gather(
        page.api.webhooks.config(),
        page.api.webhooks.list(
            limit, offset, endpoint_id=endpoint_filter or None, object_id=object_filter or None
        ),
        endpoints_with_health(page.api),
    )
    filters = {"endpoint_id": endpoint_filter, "object_id": object_filter}
    context = {
        "config": config,
        "logs": logs["data"],
        "page": Page(LOGS_PATH, limit, offset, logs["total"], filters),
        "url_value": (config.get("webhook_url") or "") if url_value is None else url_value,
        "url_error": url_error,
        "rotation_note": ROTATION_NOTE,
        "endpoints": endpoints,
        "endpoint_names": {e["id"]: endpoint_label(e) for e in endpoints},
        "disabled_endpoints": await remember_disabled_endpoints(
            page.request, page.merchant.id, endpoints
        ),
        "filters": filters,
        "object_value": object_id,
        "object_error": object_error,
        "new_endpoint": new_endpoint or {"url": "", "description": "", "events": [ALL_EVENTS]},
        "new_endpoint_error": new_endpoint_error,
        "create_key": secrets.token_urlsafe(16),
        # One key per rendered button, so a double click or a resent form acts once
        # (docs/idempotency.md).
        "rotate_key": secrets.token_urlsafe(16),
        "test_key": secrets.token_urlsafe(16),
        "retry_keys": {log["id"]: secrets.token_urlsafe(16) for log in logs["data"]},
        "event_types": EVENT_TYPES,
        "max_endpoints": MAX_ENDPOINTS,
        "page_title": "Webhooks",
    }
    return await render(page.request, "webhooks.html", context, status_code=status_code)


@router.get("")
async def webhooks(
    page: PageDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    offset: OffsetQuery = 0,
    endpoint_id: str = "",
    object_id: str = "",
) -> HTMLResponse:
    return await render_webhooks_page(
        page, limit, offset, endpoint_id=endpoint_id, object_id=object_id
    )


@router.post("/config")
async def save_config(page: PageDep, webhook_url: FormText = "") -> Response:
    webhook_url = webhook_url.strip()
    try:
        await page.api.webhooks.update_config(webhook_url)
    except ApiError as exc:
        if exc.status_code not in (400, 422):
            raise
        # The API names its field; the merchant sees a form with a "Webhook URL" label.
        problem = re.sub(r"^webhook_url\b", "The URL", exc.sentence)
        return await render_webhooks_page(
            page, url_value=webhook_url, url_error=problem, status_code=400
        )
    if webhook_url:
        page.session.flash("success", "Webhook URL saved. New events will be sent there.")
    else:
        page.session.flash("info", "Webhook URL removed. No events will be sent until you add one.")
    return await redirect(page.request, page.session, LOGS_PATH)


@router.post("/rotate-secret")
async def rotate_secret(page: PageDep, idempotency_key: FormText = "") -> Response:
    await page.api.webhooks.rotate_secret(idempotency_key=idempotency_key_or_none(idempotency_key))
    page.session.flash("success", "New webhook secret generated. " + ROTATION_NOTE)
    return await redirect(page.request, page.session, LOGS_PATH)


@router.post("/test")
async def send_test(page: PageDep, idempotency_key: FormText = "") -> Response:
    await page.session.flash_outcome(
        page.api.webhooks.send_test(idempotency_key=idempotency_key_or_none(idempotency_key)),
        success="Test webhook sent. Its delivery appears in the log below.",
        failure="Could not send a test webhook",
    )
    return await redirect(page.request, page.session, LOGS_PATH)


@router.post("/{webhook_id}/retry")
async def retry(
    page: PageDep, webhook_id: WebhookIdInPath, next: FormText = "", idempotency_key: FormText = ""
) -> Response:
    await page.session.flash_outcome(
        page.api.webhooks.retry(
            webhook_id, idempotency_key=idempotency_key_or_none(idempotency_key)
        ),
        success="Retry scheduled: the webhook is being delivered again now.",
        failure="Could not retry the webhook",
    )
    return await redirect(page.request, page.session, safe_next_path(next, LOGS_PATH, LOGS_PATH))


@router.get("/logs/{webhook_id}")
async def log_detail(page: PageDep, webhook_id: WebhookIdInPath) -> HTMLResponse:
    log = await page.api.webhooks.get(webhook_id)
    attempts = attempt_rows(log)
    context = {
        "log": log,
        # Named as the deliveries list names it; None for a deleted endpoint.
        "endpoint_name": await _endpoint_name(page, log.get("endpoint_id")),
        "attempt_total": log["attempts"],
        "attempts": attempts,
        "manually_retried": any(row["manual_retry"] for row in attempts),
        # The exact bytes sent, which the signature covers (docs/webhooks.md#signatures).
        "payload": log["body"],
        "retry_key": secrets.token_urlsafe(16),
        "page_title": "Webhook delivery",
    }
    return await render(page.request, "webhook_log.html", context)


async def _endpoint_name(page: MerchantPage, endpoint_id: str | None) -> str | None:
    """How the pages name endpoint `endpoint_id` (`endpoint_label`); None when there is none
    or it was deleted (the API answers 404)."""
    if not endpoint_id:
        return None
    try:
        return endpoint_label(await page.api.webhook_endpoints.get(endpoint_id))
    except ApiError as error:
        if error.status_code == 404:
            return None
        raise
