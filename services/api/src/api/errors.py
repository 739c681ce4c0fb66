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
    document_errors_raised_outside_routes(app)

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


ERROR_BODY_REF = {"$ref": "#/components/schemas/ErrorBody"}


def document_errors_raised_outside_routes(app: FastAPI) -> None:
    """Make the document say what the API really answers outside its routes' own code."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:  # FastAPI builds it once and keeps it there
            document = generate()
            for path_item in document.get("paths", {}).values():
                for operation in path_item.values():
                    _document_operation(operation)
            schemas = document.get("components", {}).get("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(operation: dict) -> None:
    responses = operation["responses"]
    error = {"content": {"application/json": {"schema": ERROR_BODY_REF}}}
    # FastAPI claims a 422 with its own body for every route with parameters; a request that
    # fails validation gets 400 with the error body (a plain-string path parameter never fails).
    fastapi_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
    if fastapi_422.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
    validated = "requestBody" in operation or any(
        parameter["in"] != "path" for parameter in operation.get("parameters", [])
    )
    if validated:
        responses.setdefault("400", {"description": "Bad Request"} | error)
    if "requestBody" in operation:  # BodyLimitMiddleware
        responses.setdefault("413", {"description": "Request body too large"} | error)
    # FastAPI lists each security dependency as an alternative; every one of them is required.
    if len(operation.get("security", [])) > 1:
        operation["security"] = [
            {
                name: scopes
                for requirement in operation["security"]
                for name, scopes in requirement.items()
            }
        ]
