"""Probes (docs/api.md#health-and-job-status). `/health` is for people; `/livez` and `/readyz` are what an
orchestrator asks: is the process up (restart it if not), and should it get traffic now.
None of them, nor `/metrics`, is logged per request (PROBE_PATHS)."""

from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.dependencies import RuntimeDep
from api.routing import api_router
from api.runtime import ApiRuntime
from shared.backends.migrations import pending_migrations
from shared.domain.models import iso

router = api_router(tags=["health"])


class Health(BaseModel):
    status: str
    database: str
    redis: str
    timestamp: str


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str  # ready | not_ready
    database: str
    redis: str
    schema_version: str  # latest | pending | unknown (PostgreSQL does not answer)
    pending_migrations: list[str]
    timestamp: str


async def _redis_answers(runtime: ApiRuntime) -> bool:
    try:
        return bool(await runtime.async_redis.ping())
    except Exception:
        return False


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is down"}},
    summary="Liveness and dependency checks",
)
async def health(runtime: RuntimeDep) -> JSONResponse:
    database, redis = await runtime.db.ping(), await _redis_answers(runtime)
    healthy = database and redis
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "database": "connected" if database else "disconnected",
        "redis": "connected" if redis else "disconnected",
        "timestamp": iso(datetime.now(UTC)),
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/livez", response_model=Liveness, summary="The process is up (no dependency asked)")
async def livez() -> dict[str, str]:
    return {"status": "alive"}


async def _pending(runtime: ApiRuntime) -> list[str] | None:
    """Migrations this code expects but the database lacks; None if PostgreSQL does not answer."""
    try:
        async with runtime.db.pool.connection(timeout=2.0) as conn:
            return await pending_migrations(conn)
    except Exception:
        return None


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "PostgreSQL does not answer, or migrations are pending",
        }
    },
    summary="Ready: PostgreSQL answers and the schema is at the latest migration",
)
async def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    # A schema never goes back to an older migration: once at the latest, only the database's
    # answer needs asking again, with the cheapest query.
    at_latest = getattr(request.app.state, "schema_at_latest", False)
    pending: list[str] | None = [] if at_latest else await _pending(runtime)
    database = await runtime.db.ping() if at_latest else pending is not None
    if pending == [] and database:
        request.app.state.schema_at_latest = True
    # Redis is reported, not required: without it the API still takes every payment (due work
    # lives in PostgreSQL, workers are woken by NOTIFY, rate limits fail open), so a Redis
    # outage must not take every replica out of service at once.
    redis = await _redis_answers(runtime)
    ready = database and pending == []
    body = {
        "status": "ready" if ready else "not_ready",
        "database": "connected" if database else "disconnected",
        "redis": "connected" if redis else "disconnected",
        "schema_version": "unknown"
        if pending is None
        else ("latest" if not pending else "pending"),
        "pending_migrations": pending or [],
        "timestamp": iso(datetime.now(UTC)),
    }
    return JSONResponse(body, status_code=200 if ready else 503)
