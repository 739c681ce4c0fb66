"""The API's own errors and how a route declares them.

Every error leaves the API as `{"error": {"code", "description", "field"?}}` (README, "The API
in one screen"). A refusal is raised as a typed error (a `shared.domain.errors.GatewayError`
subclass carrying its status, code, sentence and field); each domain keeps its own in its
`errors` module, and a route lists those it raises in `responses=error_responses(...)`, from
which the OpenAPI document describes them. How they are rendered is `api.error_handlers`.
"""

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared.backends.db import Row
from shared.domain.errors import BadRequest, GatewayError


class AuthenticationFailed(
    GatewayError, status=401, code="AUTHENTICATION_ERROR", description="Invalid API credentials"
):
    """401: a missing or wrong `X-Api-Key`/`X-Api-Secret` (`field` names a missing one)."""


class NotFound(GatewayError, status=404, code="NOT_FOUND_ERROR", description="Not found"):
    """404: the base of each domain's "<thing> not found"."""


class Conflict(GatewayError, status=409, code="CONFLICT_ERROR", description="Conflict"):
    """409: the base of a request that collides with a state the database holds."""


class ServiceUnavailable(
    GatewayError,
    status=503,
    code="SERVICE_UNAVAILABLE",
    description="Service temporarily unavailable, please retry",
):
    """503: PostgreSQL or Redis did not answer; always sent with `Retry-After: 1`."""


class RateLimited(
    GatewayError,
    status=429,
    code="RATE_LIMIT_ERROR",
    description="Too many requests, please retry later",
):
    """429: too many requests of one kind from one client, email, order or API key; always
    sent with Retry-After (README, "Rate limits")."""


class BodyNotReceived(BadRequest, description="Request body was not received in full"):
    """400: the client went away before its body arrived in full."""


class InvalidRequest(BadRequest, description="a request field is invalid (`field`)"):
    """400: a request field is invalid; `field` names it (FastAPI's validation, reworded by
    `api.error_handlers.describe_validation_error`)."""


class BodyTooLarge(BadRequest, status=413, description="Request body exceeds MAX_BODY_BYTES bytes"):
    """413: a body over MAX_BODY_BYTES, refused by `shared.core.asgi.BodyLimitMiddleware`
    before any route runs (this class only documents it)."""


# The order in which `Allow` and a 405's description name methods.
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class MethodNotAllowed(
    BadRequest, status=405, description="This path does not take that method: use <methods>"
):
    """405: a known path asked with a method none of its routes takes; the description and
    the `Allow` header name every method the path takes (docs/api.md#error-codes). No error
    code is set aside for it, so it keeps BAD_REQUEST_ERROR, as a 413 does."""

    def __init__(self, methods: set[str]):
        ordered = sorted(
            methods, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m)
        )
        words = " or ".join(filter(None, [", ".join(ordered[:-1]), ordered[-1]]))
        super().__init__(
            f"This path does not take that method: use {words}",
            headers={"Allow": ", ".join(ordered)},
        )


def found(row: Row | None, not_found: type[NotFound]) -> Row:
    """`row`, or `not_found` (404) when a lookup found none."""
    if row is None:
        raise not_found
    return row


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
    """The error body as a response; `field` only when given."""
    error = {"code": code, "description": description}
    if field:
        error["field"] = field
    return JSONResponse({"error": error}, status_code=status_code, headers=headers)


def gateway_error_response(exc: GatewayError) -> JSONResponse:
    return error_response(exc.status_code, exc.code, exc.description, exc.headers, exc.field)


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}
# Every route may answer so, whatever it declares: an unknown route or method, a server fault.
ANY_OTHER_ERROR = {
    "model": ErrorBody,
    "description": "Any other error, in the same body: `NOT_FOUND_ERROR` (404) for an unknown"
    " route, `BAD_REQUEST_ERROR` (405, with `Allow`) for a method the path does not take,"
    " `SERVER_ERROR` (500) for a fault of ours",
    "content": {
        "application/json": {
            "example": {"error": {"code": "SERVER_ERROR", "description": "Internal server error"}}
        }
    },
}


def error_responses(
    *errors: int | type[GatewayError] | GatewayError,
) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: each status it can answer with the error body. A domain error
    class (e.g. `PaymentNotFound`) documents its status with its code and exact description,
    one line per error of that status; a bare status documents that status alone (400: the
    request's validation); an error instance documents its class and is its status's
    example, as the API sends it (a request body the route refuses,
    `api.routing.refused_body_example`)."""
    cases: dict[int, list[type[GatewayError] | GatewayError]] = {}
    for error in errors:
        if isinstance(error, int):
            cases.setdefault(error, [])
            if error == 400 and any(not isinstance(e, int) for e in errors):
                cases[400].append(InvalidRequest)
        else:
            cases.setdefault(error.status_code, []).append(error)
    return {status: _response(status, cases[status]) for status in sorted(cases)}


def route_error_responses(
    declared: Mapping[int | str, dict[str, Any]] | None,
    implied: tuple[int | type[GatewayError] | GatewayError, ...],
) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=`: what it declares joined with what it answers outside its own
    code (`implied`, as `error_responses` takes them: its validation, the body limit, its
    dependencies' errors), and `default` for any other error. Where both describe a status,
    both descriptions are kept."""
    responses: dict[int | str, dict[str, Any]] = error_responses(*implied)
    for status, response in (declared or {}).items():
        lines = [
            line
            for entry in (response, responses.get(status, {}))
            for line in entry.get("description", "").split("; ")
            if line
        ]
        responses[status] = response | (
            {"description": "; ".join(dict.fromkeys(lines))} if lines else {}
        )
    return dict(sorted(responses.items(), key=lambda item: str(item[0]))) | {
        "default": ANY_OTHER_ERROR
    }


# What a status given bare stands for, in its example.
BARE_STATUS = {400: InvalidRequest, 401: AuthenticationFailed, 404: NotFound, 409: Conflict,
               413: BodyTooLarge, 429: RateLimited, 503: ServiceUnavailable}  # fmt: skip


def _response(status: int, errors: list[type[GatewayError] | GatewayError]) -> dict[str, Any]:
    """The response of one status: its errors' codes and descriptions, and as its example an
    error instance if there is one, else the first class (a domain's own error before the
    request's validation)."""
    classes = [error if isinstance(error, type) else type(error) for error in errors]
    lines = [f"`{error.code}`: {error.default_description}" for error in classes]
    instance = next((e for e in errors if not isinstance(e, type)), None)
    shown = next((e for e in classes if e is not InvalidRequest), None) or BARE_STATUS[status]
    example = (
        {"code": instance.code, "description": instance.description}
        | ({"field": instance.field} if instance.field else {})
        if instance is not None
        else {"code": shown.code, "description": shown.default_description}
    )
    return (
        {"model": ErrorBody, "content": {"application/json": {"example": {"error": example}}}}
        | ({"description": "; ".join(dict.fromkeys(lines))} if lines else {})
        | ({"headers": RETRY_AFTER} if status == 429 else {})
    )
