"""The home page: API credentials, totals from the API and the latest payments."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dashboard.dependencies import GatewayDep, MerchantDep
from dashboard.rendering import render

router = APIRouter()

RECENT_PAYMENTS = 5


@router.get("/dashboard")
async def overview(request: Request, merchant: MerchantDep, gateway: GatewayDep) -> HTMLResponse:
    stats, recent = await asyncio.gather(
        gateway.payment_stats(merchant.credentials),
        gateway.list_payments(merchant.credentials, limit=RECENT_PAYMENTS, offset=0),
    )
    context = {"stats": stats, "recent_payments": recent["data"], "page_title": "Overview"}
    return await render(request, "overview.html", context)
