"""The home page: API credentials, totals from the API and the latest payments."""

import asyncio
import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from dashboard.dependencies import FormText, PageDep, SettingsDep
from dashboard.gateway import idempotency_key_or_none
from dashboard.rendering import redirect, render

router = APIRouter()

RECENT_PAYMENTS = 5


@router.get("/dashboard")
async def overview(page: PageDep, settings: SettingsDep) -> HTMLResponse:
    stats, recent = await asyncio.gather(
        page.api.payments.stats(), page.api.payments.list(RECENT_PAYMENTS, 0)
    )
    context = {
        "stats": stats,
        "recent_payments": recent["data"],
        "page_title": "Overview",
        # Set for the one page view after a rotation (the new secret is shown then).
        "rotated_until": page.request.query_params.get("rotated") is not None
        and page.merchant.previous_secret_expires_at,
        "grace_seconds": settings.api_secret_grace_seconds,
    }
    return await render(page.request, "overview.html", context)


@router.get("/dashboard/rotate-api-secret")
async def confirm_rotation(page: PageDep, settings: SettingsDep) -> HTMLResponse:
    """The question before a rotation: what keeps working, and until when (a page, so it
    works without JavaScript)."""
    grace = settings.api_secret_grace_seconds
    context = {
        "page_title": "Rotate API secret",
        "grace_seconds": grace,
        "old_secret_until": (datetime.now(UTC) + timedelta(seconds=grace)).isoformat(),
        # A resent form (a double click) replays the first rotation (docs/idempotency.md).
        "rotate_key": secrets.token_urlsafe(16),
    }
    return await render(page.request, "rotate_api_secret.html", context)


@router.post("/dashboard/rotate-api-secret")
async def rotate_api_secret(page: PageDep, idempotency_key: FormText = "") -> Response:
    """A new API secret (the API keeps the old one working for its grace period); the
    session signs its next calls with the new one. The form's `idempotency_key` makes a
    resent confirmation replay the first new secret instead of rotating twice."""
    rotated = await page.api.merchants.rotate_api_secret(
        idempotency_key=idempotency_key_or_none(idempotency_key)
    )
    page.session.merchant = dataclasses.replace(
        page.merchant,
        api_secret=rotated["api_secret"],
        previous_secret_expires_at=rotated.get("previous_api_secret_expires_at"),
    )
    page.session.flash(
        "success",
        "New API secret generated. Copy it now and update your servers: the previous secret"
        " keeps working until the time shown below, then stops.",
    )
    return await redirect(page.request, page.session, "/dashboard?rotated=1#api-credentials")
