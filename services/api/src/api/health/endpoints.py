from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.dependencies import GatewayDep
from shared.resources import iso

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str
    redis: str
    timestamp: str


def _redis_answers(gateway: GatewayDep) -> bool:
    try:
        return bool(gateway.redis.ping())
    except Exception:
        return False


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is down"}},
    summary="Liveness and dependency checks",
)
def health(gateway: GatewayDep) -> JSONResponse:
    database, redis = gateway.db.ping(), _redis_answers(gateway)
    healthy = database and redis
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "database": "connected" if database else "disconnected",
        "redis": "connected" if redis else "disconnected",
        "timestamp": iso(datetime.now(UTC)),
    }
    return JSONResponse(body, status_code=200 if healthy else 503)
