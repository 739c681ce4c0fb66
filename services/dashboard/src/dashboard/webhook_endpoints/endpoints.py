"""Webhook endpoints: add one, and on its own page edit it (URL, filter, description), enable
or disable it, rotate its secret, recover what it missed, or delete it after a confirmation."""

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response

from dashboard.dependencies import FormText, MerchantPage, PageDep, id_in_path, safe_next_path
from dashboard.endpoint_views import (
    ALL_EVENTS,
    ENDPOINT_ID,
    NO_EVENTS_CHOSEN,
    RECOVERY_MAX_DAYS,
    RecoveryWindowInvalid,
    chosen_events,
    filter_text,
    local_input_value,
    recovery_window,
)
from dashboard.gateway import ApiError, idempotency_key_or_none
from dashboard.rendering import (
    IST,
    FormProblem,
    forget_disabled_endpoints,
    form_problem,
    redirect,
    render,
)
from dashboard.webhooks.endpoints import LOGS_PATH, render_webhooks_page
from shared.domain.models import EVENT_TYPES

router = APIRouter(prefix="/dashboard/webhooks/endpoints")

FormList = Annotated[list[str], Form()]
EndpointIdInPath = Annotated[
    str, id_in_path("endpoint_id", ENDPOINT_ID, "Webhook endpoint not found")
]


def _endpoint_path(endpoint_id: str) -> str:
    return f"/dashboard/webhooks/endpoints/{endpoint_id}"


# How a refusal names the form's fields (dashboard.rendering.form_problem): the API says "url",
# the merchant sees a field labelled "Endpoint URL".
ENDPOINT_LABELS = {"url": "The URL", "description": "The description"}


# A filter form sent with no box ticked (endpoint_views.NO_EVENTS_CHOSEN).
NO_EVENTS_PROBLEM = FormProblem(NO_EVENTS_CHOSEN, "events")


@router.post("")
async def create_endpoint(
    page: PageDep,
    url: FormText = "",
    description: FormText = "",
    events: FormList = [],  # noqa: B006 - FastAPI copies form defaults
    idempotency_key: FormText = "",
) -> Response:
    url, description = url.strip(), description.strip()
    values = {"url": url, "description": description, "events": events}
    if not events:
        return await render_webhooks_page(
            page, new_endpoint=values, new_endpoint_error=NO_EVENTS_PROBLEM, status_code=400
        )
    try:
        endpoint = await page.api.webhook_endpoints.create(
            url,
            chosen_events(events),
            description or None,
            idempotency_key=idempotency_key_or_none(idempotency_key),
        )
    except ApiError as exc:
        if not exc.refused:
            raise
        return await render_webhooks_page(
            page,
            new_endpoint=values,
            new_endpoint_error=form_problem(exc, ENDPOINT_LABELS),
            status_code=400,
        )
    page.session.flash(
        "success",
        "Endpoint added. Copy its signing secret below: your server checks every webhook "
        "sent to this URL with it.",
    )
    return await redirect(page.request, page.session, _endpoint_path(endpoint["id"]))


async def _endpoint_page(
    page: MerchantPage,
    endpoint_id: str,
    form: dict[str, Any] | None = None,
    form_error: FormProblem | None = None,
    recover_form: dict[str, str] | None = None,
    recover_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    endpoint = await page.api.webhook_endpoints.get(endpoint_id)
    now = datetime.now(UTC)
    context = {
        "endpoint": endpoint,
        "form": form or endpoint,
        "form_error": form_error,
        "filter_text": filter_text(endpoint.get("events")),
        "event_types": EVENT_TYPES,
        "all_events": ALL_EVENTS,
        "recover_form": recover_form
        or {"since": local_input_value(now - timedelta(hours=24), IST), "until": ""},
        "recover_error": recover_error,
        "recover_min": local_input_value(now - timedelta(days=RECOVERY_MAX_DAYS), IST),
        "recover_max_days": RECOVERY_MAX_DAYS,
        "rotate_key": secrets.token_urlsafe(16),
        "recover_key": secrets.token_urlsafe(16),
        "page_title": "Webhook endpoint",
    }
    return await render(page.request, "webhook_endpoint.html", context, status_code=status_code)


@router.get("/{endpoint_id}")
async def endpoint_page(page: PageDep, endpoint_id: EndpointIdInPath) -> HTMLResponse:
    return await _endpoint_page(page, endpoint_id)


@router.post("/{endpoint_id}")
async def update_endpoint(
    page: PageDep,
    endpoint_id: EndpointIdInPath,
    url: FormText = "",
    description: FormText = "",
    events: FormList = [],  # noqa: B006 - FastAPI copies form defaults
    has_events: FormText = "",
) -> Response:
    url, description = url.strip(), description.strip()
    values = {"url": url, "description": description, "events": events}
    # The default endpoint's form has no filter (it takes every event): send none.
    changes: dict[str, Any] = {"url": url, "description": description}
    if has_events and not events:
        return await _endpoint_page(
            page, endpoint_id, form=values, form_error=NO_EVENTS_PROBLEM, status_code=400
        )
    if has_events:
        changes["events"] = chosen_events(events)
    try:
        await page.api.webhook_endpoints.update(endpoint_id, **changes)
    except ApiError as exc:
        if not exc.refused:
            raise
        return await _endpoint_page(
            page,
            endpoint_id,
            form=values,
            form_error=form_problem(exc, ENDPOINT_LABELS),
            status_code=400,
        )
    page.session.flash("success", "Endpoint saved.")
    return await redirect(page.request, page.session, _endpoint_path(endpoint_id))


# What each status the form may send means for the merchant, said once it is set.
STATUS_CHANGED = {
    "enabled": "Endpoint enabled: new events are sent to it again. To send the events it "
    "missed while disabled, recover them from its page.",
    "disabled": "Endpoint disabled: its pending deliveries end failed and no event is sent to "
    "it until you enable it. Events are kept, to recover then.",
}


@router.post("/{endpoint_id}/status")
async def set_status(
    page: PageDep, endpoint_id: EndpointIdInPath, status: FormText = "", next: FormText = ""
) -> Response:
    """Enable or disable the endpoint: `status` is "enabled" or "disabled"; anything else
    (a stale or altered form) is an error flash, and nothing is sent to the API."""
    back = safe_next_path(next, LOGS_PATH, LOGS_PATH)
    if status not in STATUS_CHANGED:
        page.session.flash(
            "error", "Could not change the endpoint: choose to enable or to disable it"
        )
        return await redirect(page.request, page.session, back)
    await page.session.flash_outcome(
        page.api.webhook_endpoints.update(endpoint_id, status=status),
        success=STATUS_CHANGED[status],
        failure="Could not change the endpoint",
    )
    await forget_disabled_endpoints(page.request, page.merchant.id)
    return await redirect(page.request, page.session, back)


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_secret(
    page: PageDep, endpoint_id: EndpointIdInPath, idempotency_key: FormText = ""
) -> Response:
    await page.session.flash_outcome(
        page.api.webhook_endpoints.rotate_secret(
            endpoint_id, idempotency_key=idempotency_key_or_none(idempotency_key)
        ),
        success="New signing secret generated. The old one keeps signing alongside it for 24 "
        "hours: switch your server to the new one within that time.",
        failure="Could not rotate the secret",
    )
    return await redirect(page.request, page.session, _endpoint_path(endpoint_id))


@router.post("/{endpoint_id}/recover")
async def recover(
    page: PageDep,
    endpoint_id: EndpointIdInPath,
    since: FormText = "",
    until: FormText = "",
    idempotency_key: FormText = "",
) -> Response:
    typed = {"since": since, "until": until}
    try:
        start, end = recovery_window(since, until, IST)
        queued = await page.api.webhook_endpoints.recover(
            endpoint_id, start, end, idempotency_key=idempotency_key_or_none(idempotency_key)
        )
    except (RecoveryWindowInvalid, ApiError) as exc:
        if isinstance(exc, ApiError) and not exc.refused:
            raise
        reason = exc.sentence if isinstance(exc, ApiError) else str(exc)
        return await _endpoint_page(
            page, endpoint_id, recover_form=typed, recover_error=reason, status_code=400
        )
    count = queued["queued"]
    page.session.flash(
        "success",
        f"{count} missed event{'s' if count != 1 else ''} queued for delivery; "
        "each keeps its webhook-id, so your server can skip any it already has.",
    )
    return await redirect(page.request, page.session, f"{LOGS_PATH}?endpoint_id={endpoint_id}")


@router.get("/{endpoint_id}/delete")
async def confirm_delete(page: PageDep, endpoint_id: EndpointIdInPath) -> HTMLResponse:
    endpoint = await page.api.webhook_endpoints.get(endpoint_id)
    context = {"endpoint": endpoint, "page_title": "Delete webhook endpoint"}
    return await render(page.request, "webhook_endpoint_delete.html", context)


@router.post("/{endpoint_id}/delete")
async def delete_endpoint(page: PageDep, endpoint_id: EndpointIdInPath) -> Response:
    await page.session.flash_outcome(
        page.api.webhook_endpoints.delete(endpoint_id),
        success="Endpoint deleted. Its pending deliveries end failed; its logs stay below.",
        failure="Could not delete the endpoint",
    )
    return await redirect(page.request, page.session, LOGS_PATH)
