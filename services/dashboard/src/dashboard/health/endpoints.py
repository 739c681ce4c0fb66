"""Probes. `/health` reports; `/livez` says the process is up; `/readyz` says the dashboard
can serve a merchant: Redis (its sessions) and the API answer. None is logged per request."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()

# Polled by healthchecks every few seconds: a log line each would drown the rest.
PROBE_PATHS = ("/health", "/livez", "/readyz")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _redis_answers(request: Request) -> bool:
    try:
        return bool(await request.app.state.redis.ping())
    except Exception:
        return False


async def _dependencies(request: Request) -> tuple[bool, bool, dict[str, str]]:
    """Whether Redis and the API answer, and the probe body's fields saying so (with the time)."""
    redis_up = await _redis_answers(request)
    api_up = await request.app.state.gateway.api_answers()
    fields = {
        "redis": "connected" if redis_up else "disconnected",
        "api": "reachable" if api_up else "unreachable",
        "timestamp": _now(),
    }
    return redis_up, api_up, fields


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 while Redis (sessions) answers; the API's state is reported, not required."""
    redis_up, _, fields = await _dependencies(request)
    body = {"status": "healthy" if redis_up else "unhealthy", **fields}
    return JSONResponse(body, status_code=200 if redis_up else 503)


@router.get("/livez")
async def livez() -> JSONResponse:
    """200 while the process serves requests; asks no dependency."""
    return JSONResponse({"status": "alive"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when Redis and the API (its `/health`) both answer, else 503: no page works without
    them, so no traffic should come here before."""
    redis_up, api_up, fields = await _dependencies(request)
    ready = redis_up and api_up
    body = {"status": "ready" if ready else "not_ready", **fields}
    return JSONResponse(body, status_code=200 if ready else 503)
