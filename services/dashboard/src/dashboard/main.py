"""The dashboard application: `uvicorn --factory dashboard.main:create_app` or `python -m dashboard`."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import structlog
from fastapi import Depends, FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from dashboard.auth.endpoints import router as auth_router
from dashboard.config import DashboardSettings
from dashboard.dependencies import csrf_guard
from dashboard.docs.endpoints import router as docs_router
from dashboard.errors import install_error_handlers
from dashboard.gateway import GatewayClient
from dashboard.health.endpoints import PROBE_PATHS
from dashboard.health.endpoints import router as health_router
from dashboard.middleware import SecurityHeadersMiddleware, VisitorAddressMiddleware
from dashboard.overview.endpoints import router as overview_router
from dashboard.rendering import STATIC_DIR
from dashboard.sessions import SessionStore
from dashboard.transactions.endpoints import router as transactions_router
from dashboard.webhook_endpoints.endpoints import router as webhook_endpoints_router
from dashboard.webhooks.endpoints import router as webhooks_router
from shared.core.asgi import BodyLimitMiddleware, CorrelationIdMiddleware
from shared.core.logging import configure_logging
from shared.core.settings import load_settings

MAX_BODY_BYTES = 64 * 1024

log = structlog.get_logger(__name__)


def create_app(
    settings: DashboardSettings | None = None,
    api_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`api_transport` lets tests put a stand-in API behind the real client."""
    settings = settings or load_settings(DashboardSettings)
    configure_logging("dashboard", settings.log_level)
    # One line per API call is noise next to our own request line; failures are logged anyway.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.service_secret is None:
        log.warning(
            "service_secret_unset",
            consequence="the API counts every visitor's failed logins and sign-ups as the"
            " dashboard's own address: set the same SERVICE_SECRET for the API and the dashboard",
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = Redis.from_url(
            settings.redis_url,
            socket_timeout=5,
            socket_connect_timeout=3,
            # A restarted Redis has closed every pooled connection: each command gets one more
            # try on a new connection, so the first page after a restart is not a 503.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        app.state.redis = redis
        app.state.sessions = SessionStore(redis, settings.session_idle_seconds)
        app.state.gateway = GatewayClient(
            settings.api_url,
            settings.api_timeout_seconds,
            transport=api_transport,
            service_secret=settings.service_secret,
        )
        try:
            yield
        finally:
            await app.state.gateway.aclose()
            await redis.aclose()

    app = FastAPI(
        title="Merchant dashboard",
        lifespan=lifespan,
        # Every POST must carry the session's CSRF token; no route can forget it.
        dependencies=[Depends(csrf_guard)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=303)

    for router in (
        health_router,
        auth_router,
        overview_router,
        transactions_router,
        webhooks_router,
        webhook_endpoints_router,
        docs_router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Outermost last: the correlation id is bound before anything else runs.
    app.add_middleware(SecurityHeadersMiddleware)
    # A form is a few kilobytes; a body over this, declared or chunked, is refused unread.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=MAX_BODY_BYTES,
        refusal=PlainTextResponse("Request body too large", 413),
    )
    app.add_middleware(VisitorAddressMiddleware, trusted_proxies=settings.trusted_proxy_networks)
    # Correlation id sent on to the API with every call; probes are not logged.
    app.add_middleware(CorrelationIdMiddleware, logger="dashboard.access", quiet_paths=PROBE_PATHS)
    return app
