"""The API application: `uvicorn --factory api.main:create_app`."""

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.config import ApiSettings
from api.error_handlers import install_error_handlers, record_path_methods
from api.errors import BodyTooLarge, gateway_error_response
from api.events.endpoints import router as events_router
from api.health.endpoints import router as health_router
from api.merchants.endpoints import router as merchants_router
from api.metrics import ApiMetrics
from api.metrics import router as metrics_router
from api.middleware import (
    AdmissionMiddleware,
    DrainMiddleware,
    PublicCorsMiddleware,
)
from api.openapi import install_openapi, install_swagger_ui, operation_id
from api.orders.endpoints import router as orders_router
from api.payments.endpoints import router as payments_router
from api.queue_status.endpoints import router as queue_status_router
from api.queue_status.service import job_status
from api.ratelimit.limiter import RateLimiter
from api.refunds.endpoints import router as refunds_router
from api.routing import assert_api_routes
from api.runtime import ApiRuntime
from api.webhooks.endpoints import router as webhooks_router
from shared.core.asgi import PROBE_PATHS, BodyLimitMiddleware, CorrelationIdMiddleware
from shared.core.logging import configure_logging
from shared.core.settings import load_settings

DESCRIPTION = """
Create orders, take UPI and card payments, capture and refund them. Merchant endpoints
authenticate with the `X-Api-Key` and `X-Api-Secret` headers. Every error is
`{"error": {"code", "description"}}`.
"""


# Created by an orchestrator when it starts stopping this replica (the Kubernetes manifests'
# preStop hook): from then on every response closes its connection (DrainMiddleware).
DRAINING_MARK = Path(tempfile.gettempdir()) / "gateway-api-draining"


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or load_settings(ApiSettings)
    configure_logging("api", settings.log_level)

    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = runtime = await ApiRuntime.connect(settings)
        app.state.rate_limiter = limiter = RateLimiter(settings, metrics.registry)
        metrics.watch_queues(lambda: job_status(runtime))
        try:
            yield
        finally:
            await limiter.close()
            await runtime.close()

    # /docs and /redoc load Swagger UI and ReDoc from the API itself, not a CDN: they work
    # offline and behind a firewall. /docs is our own page over the same assets (openapi.py).
    app = FastAPIOffline(
        docs_url=None,
        title="Payment Gateway API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # A trailing slash is an unknown path (404), never a redirect that a client would
        # follow to the request's Host with its body and credentials (docs/api.md#conventions).
        redirect_slashes=False,
        generate_unique_id_function=operation_id,
    )
    app.state.metrics = metrics
    install_error_handlers(app)
    # Routes are matched in this order, one by one: the payment path's first
    # (README.md#the-cost-of-a-paid-order).
    routers = (
        orders_router,
        payments_router,
        refunds_router,
        health_router,
        merchants_router,
        webhooks_router,
        events_router,
        queue_status_router,
        metrics_router,
    )
    assert_api_routes(routers)
    for router in routers:
        app.include_router(router)
    install_openapi(app, settings.api_url)
    install_swagger_ui(app)
    record_path_methods(app, routers)
    # Outermost last: the correlation id is bound before anything else runs, and CORS wraps
    # the body limit so the checkout page can read a 413 too; once its body is read, a request
    # waits for a place among as many as the pool has connections (AdmissionMiddleware).
    app.add_middleware(AdmissionMiddleware, limit=settings.db_pool_size, exempt=PROBE_PATHS)
    too_large = BodyTooLarge(f"Request body exceeds {settings.max_body_bytes} bytes")
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        refusal=gateway_error_response(too_large),
    )
    app.add_middleware(PublicCorsMiddleware)
    app.add_middleware(DrainMiddleware, mark=DRAINING_MARK)
    # Probes and scrapes (PROBE_PATHS) are not logged per request.
    app.add_middleware(CorrelationIdMiddleware, logger="api.access", observe=metrics.observe)
    return app
