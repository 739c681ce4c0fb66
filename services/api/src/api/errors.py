"""Every error leaves the API as {"error": {"code", "description"}}, never HTML or a trace."""

import psycopg
import redis
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import GatewayError, ServiceUnavailable

log = structlog.get_logger(__name__)


class ErrorDetail(BaseModel):
    code: str
    description: str


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    status_code: int, code: str, description: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "description": description}},
        status_code=status_code,
        headers=headers,
    )


def gateway_error_response(exc: GatewayError) -> JSONResponse:
    return error_response(exc.status_code, exc.code, exc.description, exc.headers)


def describe_validation_error(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    if first.get("type") == "json_invalid":
        return "Request body is not valid JSON"
    if first.get("type") == "value_error":
        # Our own validators phrase a whole sentence, e.g. "amount must be at least 100".
        return str(first["ctx"]["error"])
    message = first.get("msg", "Invalid request")
    return f"{'.'.join(location)}: {message}" if location else message


HTTP_STATUS_CODES = {404: "NOT_FOUND_ERROR", 401: "AUTHENTICATION_ERROR"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def on_gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return gateway_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "BAD_REQUEST_ERROR", describe_validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_STATUS_CODES.get(exc.status_code, "BAD_REQUEST_ERROR")
        description = "Route not found" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, code, description, exc.headers)

    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(redis.ConnectionError)
    @app.exception_handler(redis.TimeoutError)
    async def on_dependency_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency_unavailable", error=str(exc))
        return gateway_error_response(ServiceUnavailable(headers={"Retry-After": "1"}))

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error")
        return error_response(500, "SERVER_ERROR", "Internal server error")


# Documented on every route that can produce them.
def error_responses(*status_codes: int) -> dict[int | str, dict]:
    return {code: {"model": ErrorBody} for code in status_codes}
