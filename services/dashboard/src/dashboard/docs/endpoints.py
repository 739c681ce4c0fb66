"""The integration guide, with the logged-in merchant's own keys in every snippet."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from dashboard.dependencies import PageDep, SettingsDep
from dashboard.docs.snippets import SnippetValues, all_snippets
from dashboard.gateway import ApiError
from dashboard.rendering import remember_disabled_endpoints, render

router = APIRouter()


async def _or_none(call: Any) -> Any:
    """Optional facts for the examples; the page is complete without them."""
    try:
        return await call
    except ApiError:
        return None


@router.get("/dashboard/docs")
async def docs(page: PageDep, settings: SettingsDep) -> HTMLResponse:
    api, merchant = page.api, page.merchant
    config, orders, payments, endpoints = await asyncio.gather(
        _or_none(api.webhooks.config()),
        _or_none(api.orders.list(20, 0)),
        _or_none(api.payments.list(1, 0, "success")),
        _or_none(api.webhook_endpoints.list(100, 0)),
    )
    # Real ids where the merchant has them, so the examples run as pasted.
    open_order = next(
        (order for order in (orders or {}).get("data", []) if order["status"] == "created"), None
    )
    paid = (payments or {}).get("data") or []
    second_endpoint = next(
        (e for e in (endpoints or {}).get("data", []) if not e.get("default")), None
    )
    # An hour back, to the second: a window the recovery example can always take.
    recover_since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = SnippetValues(
        api_url=settings.snippet_api_url,
        checkout_url=settings.checkout_url,
        api_key=merchant.api_key,
        api_secret=merchant.api_secret,
        **({"webhook_secret": config["webhook_secret"]} if config else {}),
        **({"order_id": open_order["id"]} if open_order else {}),
        **({"payment_id": paid[0]["id"]} if paid else {}),
        **({"endpoint_id": second_endpoint["id"]} if second_endpoint else {}),
        recover_since=recover_since,
    )
    context = {
        "snippets": all_snippets(values),
        "values": values,
        "has_order": open_order is not None,
        "has_payment": bool(paid),
        "has_webhook_secret": bool(config),
        "has_endpoint": second_endpoint is not None,
        "api_url": settings.snippet_api_url,
        "checkout_url": settings.checkout_url,
        # The docs page lists its own disabled endpoints; no second call for the banner.
        "disabled_endpoints": (
            await remember_disabled_endpoints(page.request, merchant.id, endpoints["data"])
            if endpoints
            else []
        ),
        "page_title": "API documentation",
    }
    return await render(page.request, "docs.html", context)
