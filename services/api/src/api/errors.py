"""Every error leaves the API as {"error": {"code", "description"}}, never HTML or a trace."""

import re
from collections.abc import Mapping
from typing import Any

import psycopg
import redis
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.fields import NO_NUL_PATTERN
from api.merchants.schemas import EMAIL_PATTERN
from shared.errors import GatewayError, ServiceUnavailable

log = structlog.get_logger(__name__)


class ErrorDetail(BaseModel):
    code: str
    description: str
    field: str | None = Field(
        default=None,
        description="The request field at fault, as a dotted path (e.g. `card.expiry_month`);"
        " present only when one field is",
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    status_code: int,
    code: str,
    description: str,
    headers: Mapping[str, str] | None = None,
    field: str | None = None,
) -> JSONResponse:
    error = {"code": code, "description": description}
    if field:
        error["field"] = field
    return JSONResponse({"error": error}, status_code=status_code, headers=headers)


def gateway_error_response(exc: GatewayError) -> JSONResponse:
    return error_response(exc.status_code, exc.code, exc.description, exc.headers, exc.field)


SEND_JSON = "send a JSON body with Content-Type: application/json"
# FastAPI's words for a JSON body it could not decode other than by JSON's rules (bad UTF-8,
# nesting deeper than the parser recurses).
UNPARSED_BODY = "There was an error parsing the body"
# Where pydantic puts a value's type into an error's location (`card.expiry_month.int`).
TYPE_TAGS = frozenset({"int", "str", "float", "bool", "none", "bytes", "dict", "list"})
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
PATTERN_PHRASES = {
    NO_NUL_PATTERN: "must not contain NUL (\\u0000) characters",
    EMAIL_PATTERN: "must be an email address like name@example.com",
}
TYPE_NOUNS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "string_type": "a string", "bool_type": "true or false", "bool_parsing": "true or false",
    "float_type": "a number", "float_parsing": "a number", "dict_type": "a JSON object",
    "model_type": "a JSON object", "model_attributes_type": "a JSON object",
    "list_type": "a list", "none_required": "null",
}  # fmt: skip


def field_path(location: tuple[int | str, ...]) -> tuple[str, bool]:
    """(dotted path of the field at fault, whether the fault is in one of its keys).

    The path stops before anything that is not one of our field names, so a client's own
    dictionary key (`notes` entries) or a pydantic type tag is never echoed back.
    """
    parts: list[str] = []
    in_key = "[key]" in location
    for part in location[1:] if location[:1] in (("body",), ("query",), ("header",)) else location:
        if isinstance(part, int):
            parts.append(str(part))
            continue
        if part in TYPE_TAGS or not FIELD_NAME.match(part):
            break
        parts.append(part)
    return ".".join(parts), in_key


def _requirement(error: dict[str, Any]) -> str:
    """What the field must be, for one pydantic error: "must be an integer"."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in TYPE_NOUNS:
        return f"must be {TYPE_NOUNS[kind]}"
    if kind == "string_pattern_mismatch":
        return PATTERN_PHRASES.get(str(context.get("pattern")), "has an invalid format")
    if kind == "string_too_short":
        minimum = context.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
    if kind == "string_too_long":
        return f"must be at most {context.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {context.get('max_length')} entries"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(context.values()))
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}  # fmt: skip
        return f"must be {words[kind]} {bound}"
    if kind == "literal_error":
        return f"must be {context.get('expected')}"
    if kind == "finite_number":
        return "must be a finite number"
    return "is invalid"


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type header announces JSON (`application/json`, `application/*+json`),
    as FastAPI decides whether to parse a body as JSON."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def describe_validation_error(
    exc: RequestValidationError, content_type: str | None = None
) -> tuple[str, str | None]:
    """(description, field) for a request that failed validation (docs/api.md#errors): the field's
    dotted path and what is wanted, never the input, pydantic's type names or its wording.
    `content_type` is the request's Content-Type header: a body sent as anything but JSON
    (curl's `-d` sends a form) is refused for that, with `field` "Content-Type"."""
    errors = exc.errors()
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"Request body is not valid JSON: {SEND_JSON}", None
    field, in_key = field_path(tuple(first.get("loc", ())))
    if not field and content_type and not is_json_media_type(content_type):
        return "Content-Type must be application/json: send the body as JSON", "Content-Type"
    if first["type"] == "value_error":
        # Our own validators phrase a whole sentence, e.g. "amount must be at least 100".
        error = first["ctx"]["error"]
        return str(error), getattr(error, "field", None) or field or None
    if not field:
        if first.get("loc", ()) == ("body",) and first["type"] == "missing":
            return f"Request body is missing: {SEND_JSON}", None
        if first.get("loc", ())[:1] == ("body",):
            return f"Request body must be a JSON object: {SEND_JSON}", None
        return "Invalid request", None
    # A union (`int | str`) fails once per member: say every type it takes.
    same_field = [e for e in errors if field_path(tuple(e.get("loc", ()))) == (field, in_key)]
    nouns = [TYPE_NOUNS[e["type"]] for e in same_field if e["type"] in TYPE_NOUNS]
    if len(same_field) > 1 and len(nouns) == len(same_field):
        requirement = "must be " + " or ".join(dict.fromkeys(nouns))
    else:
        requirement = _requirement(first)
    subject = f"{field} keys" if in_key else field
    return f"{subject} {requirement}", field


HTTP_STATUS_CODES = {404: "NOT_FOUND_ERROR", 401: "AUTHENTICATION_ERROR"}


def install_error_handlers(app: FastAPI) -> None:
    document_errors_raised_outside_routes(app)

    @app.exception_handler(GatewayError)
    async def on_gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return gateway_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        description, field = describe_validation_error(exc, request.headers.get("content-type"))
        return error_response(400, "BAD_REQUEST_ERROR", description, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_STATUS_CODES.get(exc.status_code, "BAD_REQUEST_ERROR")
        description = "Route not found" if exc.status_code == 404 else str(exc.detail)
        if exc.status_code == 400 and description == UNPARSED_BODY:
            # Not UTF-8, or nested past what the parser follows: not JSON we can read either.
            description = f"Request body is not valid JSON: {SEND_JSON}"
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


def error_responses(*errors: int | type[GatewayError]) -> dict[int | str, dict]:
    """A route's `responses=`: each status it can answer with the error body. A domain error
    class (e.g. `PaymentNotFound`) documents its status with when it happens: its error
    code and exact description (docs/api.md#error-codes), one line per error of that status."""
    cases: dict[int, list[str]] = {}
    for error in errors:
        if isinstance(error, int):
            cases.setdefault(error, [])
            if error == 400 and len(errors) > 1 and not all(isinstance(e, int) for e in errors):
                cases[400].append("`BAD_REQUEST_ERROR`: a request field is invalid (`field`)")
        else:
            line = f"`{error.code}`: {error.default_description}"
            cases.setdefault(error.status_code, []).append(line)
    return {
        code: {"model": ErrorBody}
        | ({"description": "; ".join(lines)} if lines else {})
        | ({"headers": RETRY_AFTER} if code == 429 else {})
        for code, lines in sorted(cases.items())
    }


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}


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
        return generate()  # the document just amended, as FastAPI keeps it

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
    if operation.get("security"):  # current_merchant's limit per API key
        too_many = {"description": "Too many requests", "headers": RETRY_AFTER}
        responses.setdefault("429", too_many | error)
    # FastAPI lists each security dependency as an alternative; every one of them is required.
    if len(operation.get("security", [])) > 1:
        operation["security"] = [
            {
                name: scopes
                for requirement in operation["security"]
                for name, scopes in requirement.items()
            }
        ]
