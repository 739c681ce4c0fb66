from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 while Redis (sessions) answers; the API's state is reported, not required."""
    try:
        redis_up = bool(await request.app.state.redis.ping())
    except Exception:
        redis_up = False
    api_up = await request.app.state.gateway.api_answers()
    body = {
        "status": "healthy" if redis_up else "unhealthy",
        "redis": "connected" if redis_up else "disconnected",
        "api": "reachable" if api_up else "unreachable",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return JSONResponse(body, status_code=200 if redis_up else 503)
