"""How an error leaves the API: every one, a refused request's validation included, as the
error body `{"error": {"code", "description", "field"?}}`, never HTML or a trace. A request
that fails validation is described by its field's dotted path and what is wanted, never by
its input or pydantic's wording."""

import re
from collections.abc import Iterable
from typing import Any

import psycopg
import redis
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import (
    MethodNotAllowed,
    ServiceUnavailable,
    error_response,
    gateway_error_response,
)
from api.fields import (
    DIRECTION_CONTROLS_NAMED,
    EMAIL_PATTERN,
    ISO_8601,
    ISO_8601_PHRASE,
    NO_NUL_PATTERN,
    SHOWN_TEXT_PATTERN,
)
from shared.domain.errors import GatewayError

log = structlog.get_logger(__name__)


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
    ISO_8601: ISO_8601_PHRASE,
    SHOWN_TEXT_PATTERN: "must not contain NUL (\\u0000) or the invisible controls that reorder"
    f" text ({DIRECTION_CONTROLS_NAMED})",
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
    if kind == "string_unicode":  # a lone surrogate (\ud800): no text PostgreSQL can store
        return "must be Unicode text: no unpaired surrogate (\\ud800-\\udfff)"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "too_short":  # a list
        minimum = context.get("min_length", 1)
        return f"must have at least {minimum} {'entry' if minimum == 1 else 'entries'}"
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
    # A body FastAPI did not read as JSON stays bytes: sent as a form, as text, or with no
    # Content-Type at all (then even a JSON object is not read), the header is at fault.
    unread = isinstance(getattr(exc, "body", None), bytes | bytearray) and bool(exc.body)
    if not field and (unread or (content_type and not is_json_media_type(content_type))):
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
    # A union (`int | str`) fails once per member: say every type it takes, or, when a member
    # took the value's type but not the value (1e999 is a number, but not a finite one), what
    # that member wants.
    same_field = [e for e in errors if field_path(tuple(e.get("loc", ()))) == (field, in_key)]
    nouns = [TYPE_NOUNS[e["type"]] for e in same_field if e["type"] in TYPE_NOUNS]
    constraints = [e for e in same_field if e["type"] not in TYPE_NOUNS]
    if len(same_field) > 1 and len(nouns) == len(same_field):
        requirement = "must be " + " or ".join(dict.fromkeys(nouns))
    elif len(same_field) > 1 and constraints:
        requirement = _requirement(constraints[0])
    else:
        requirement = _requirement(first)
    subject = f"{field} keys" if in_key else field
    return f"{subject} {requirement}", field


HTTP_STATUS_CODES = {404: "NOT_FOUND_ERROR", 401: "AUTHENTICATION_ERROR"}


def record_path_methods(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Keep, for the 405 answer, each path pattern of the app's routes (its own and those of
    `routers`, included in it) with every method its routes take. Starlette's 405 names only
    the methods of the first route matching the path (POST of GET and POST /api/v1/orders)."""
    table: dict[str, tuple[re.Pattern[str], set[str]]] = {}
    routes = [*app.router.routes, *(route for router in routers for route in router.routes)]
    for route in routes:
        regex, methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and methods:
            table.setdefault(regex.pattern, (regex, set()))[1].update(methods)
    app.state.path_methods = list(table.values())


def methods_of_path(request: Request, exc: StarletteHTTPException) -> set[str]:
    """Every method the request's path takes (`record_path_methods`), and those Starlette's
    405 named (`Allow`)."""
    path = request.scope["path"]
    methods = {
        method
        for regex, taken in getattr(request.app.state, "path_methods", [])
        if regex.match(path)
        for method in taken
    }
    allow = (exc.headers or {}).get("Allow", "")
    return methods | {method.strip() for method in allow.split(",") if method.strip()}


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with the error body (README, "The API in one screen")."""

    @app.exception_handler(GatewayError)
    async def on_gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return gateway_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        description, field = describe_validation_error(exc, request.headers.get("content-type"))
        return error_response(400, "BAD_REQUEST_ERROR", description, field=field)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405 and (methods := methods_of_path(request, exc)):
            return gateway_error_response(MethodNotAllowed(methods))
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
