"""The route class of every API router (`api_router`): a JSON body is parsed once, here, with
duplicated keys refused, and a merchant POST takes its transaction and Idempotency-Key from
`api.idempotency.dependency.request_transaction` (a route made without it stops the start).

`create_app` refuses to start with a route made otherwise, so no router can miss either rule.
"""

import json
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any, get_args

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from api.dependencies import current_merchant, get_runtime
from api.error_handlers import FIELD_NAME, describe_validation_error, is_json_media_type
from api.errors import (
    AuthenticationFailed,
    BodyNotReceived,
    BodyTooLarge,
    InvalidRequest,
    RateLimited,
    route_error_responses,
)
from api.idempotency.dependency import IDEMPOTENCY_ERRORS, Replayed, request_transaction
from shared.domain.errors import BadRequest, GatewayError


def refused_body_model(annotation: Any) -> Any:
    """The request model of a body `annotation` (`RefundCreate | None` too) that declares a
    body it refuses (`refused_example`, a JSON object); None when it declares none."""
    return next(
        (t for t in (annotation, *get_args(annotation)) if hasattr(t, "refused_example")), None
    )


def refused_body_example(annotation: Any) -> InvalidRequest | None:
    """The 400 the API answers to the body `refused_body_model` finds, for the route's OpenAPI
    example; None when there is none. Raises TypeError when the model accepts its refused
    example."""
    model = refused_body_model(annotation)
    if model is None:
        return None
    try:
        model.model_validate(model.refused_example)
    except ValidationError as exc:
        located = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        description, field = describe_validation_error(RequestValidationError(located))
        return InvalidRequest(description, field=field)
    raise TypeError(f"{model.__name__}.refused_example is a valid body")


class _Duplicated(dict[str, Any]):
    """A JSON object in which `key` appeared more than once (the last value kept, as json does)."""

    def __init__(self, pairs: list[tuple[str, Any]], key: str):
        super().__init__(pairs)
        self.key = key


def _duplicated(pairs: list[tuple[str, Any]]) -> _Duplicated:
    """The object of `pairs`, marked with the first key it repeats (there is one)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    return _Duplicated(pairs, key)


def _first_duplicate(document: Any) -> tuple[list[str | int], str] | None:
    """(path to the object, its duplicated key) of the first object, depth first, with a key
    given twice. Iterative: a document nested as deep as the parser allows cannot overflow it."""
    stack: list[tuple[list[str | int], Any]] = [([], document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Duplicated):
            return path, value.key
        if isinstance(value, dict):
            children = list(value.items())
        elif isinstance(value, list):
            children = list(enumerate(value))
        else:
            continue
        stack.extend(([*path, key], child) for key, child in reversed(children))
    return None


class DuplicatedKey(BadRequest, description="<field> is given more than once: send each key once"):
    """400: an object of the JSON body, at any depth, gives a key twice; `field` names it by
    its dotted path. A key that is no field name (a client's own `notes` key such as "my key")
    ends the path there: it is never echoed."""

    def __init__(self, path: list[str | int], key: str):
        named: list[str] = []
        for part in [*path, key]:
            if isinstance(part, str) and not FIELD_NAME.match(part):
                break
            named.append(str(part))
        field = ".".join(named)
        if len(named) == len(path) + 1:
            super().__init__(f"{field} is given more than once: send each key once", field=field)
            return
        where = f"{field} has a key" if field else "The body has a key"
        super().__init__(f"{where} given more than once: send each key once", field=field or None)


def parse_json_body(body: bytes) -> Any:
    """The JSON document of a request body. DuplicatedKey when an object, at any depth, gives
    a key twice: JSON leaves that undefined and a parser silently keeps one of the values
    (`{"amount": 100, "amount": 5000000}`). ValueError or RecursionError when it is not JSON a
    parser can read."""
    repeated = False

    def make_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        made = dict(pairs)
        if len(made) == len(pairs):  # no key repeated: the usual body, checked at C speed
            return made
        repeated = True
        return _duplicated(pairs)

    document = json.loads(body, object_pairs_hook=make_object)
    if repeated:
        # The first in document order, to name it (make_object sees the innermost first).
        duplicate = _first_duplicate(document)
        assert duplicate is not None
        raise DuplicatedKey(*duplicate)
    return document


class JsonBodyRequest(Request):
    """A request whose JSON body is read by `parse_json_body`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json_body(await self.body())
        return self._json


class ApiRoute(APIRoute):
    """Every API route: the body is parsed before anything else (a body with a duplicated key
    is a 400 however the route would treat it); a replayed response is answered as stored. Its
    `responses` are what the route declares plus what it answers outside its own code, read
    from its parameters: 400 for a validated parameter or body, 413 for a body over the
    limit, 401 and 429 for a merchant's API key and its limit, the Idempotency-Key's errors for a merchant POST,
    503 for a route that takes the runtime (its PostgreSQL and Redis)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any):
        dependant = get_dependant(path=path, call=endpoint)
        every = list(_walk(dependant))
        calls = {d.call for d in every}
        is_post = "POST" in {method.upper() for method in kwargs.get("methods") or ()}
        if is_post and current_merchant in calls and request_transaction not in calls:
            raise TypeError(f"POST {path} must take `tx: RequestTransactionDep` (Idempotency-Key)")
        declared = [d.call for d in dependant.dependencies]
        if request_transaction in declared and (
            current_merchant not in declared
            or declared.index(current_merchant) > declared.index(request_transaction)
        ):
            raise TypeError(f"{path} must take `merchant: MerchantDep` before its `tx`")
        bodies = [param.field_info.annotation for d in every for param in d.body_params]
        has_body = bool(bodies)
        validated = has_body or any(d.query_params or d.header_params for d in every)
        refused = next(filter(None, map(refused_body_example, bodies)), None)
        implied: tuple[int | type[GatewayError] | GatewayError, ...] = (
            *([refused or 400] if validated else []),
            *([BodyTooLarge] if has_body else []),
            *([AuthenticationFailed, RateLimited] if current_merchant in calls else []),
            *(IDEMPOTENCY_ERRORS if request_transaction in calls else []),
            # The merchant's authentication and the transaction read the runtime off the app.
            *([503] if calls & {get_runtime, current_merchant, request_transaction} else []),
        )
        kwargs["responses"] = route_error_responses(kwargs.get("responses"), implied)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def parsing_handler(request: Request) -> Response:
            request = JsonBodyRequest(request.scope, request.receive)
            content_type = request.headers.get("content-type")
            if self.body_field is not None and (
                content_type is None or is_json_media_type(content_type)
            ):
                try:
                    await request.json()
                except (ValueError, RecursionError):
                    pass  # not JSON: FastAPI reads it again and refuses it in its own words
                except ClientDisconnect:  # the client left mid-body: no one reads the answer
                    raise BodyNotReceived from None
            try:
                response = await handler(request)
            except Replayed as replayed:
                return replayed.response
            claim = getattr(request.state, "idempotency", None)
            if claim is not None:  # stored by request_transaction before it commits
                claim.response = response
            return response

        return parsing_handler


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    """`dependant` and every dependency under it."""
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def api_router(**options: Any) -> APIRouter:
    """An APIRouter whose routes are ApiRoutes; `options` as APIRouter's (tags=...)."""
    return APIRouter(route_class=ApiRoute, **options)


def assert_api_routes(routers: Iterable[APIRouter]) -> None:
    """Stop at start if a router's route was not made by `api_router` (it would miss its
    rules)."""
    stray = [
        route.path
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and not isinstance(route, ApiRoute)
    ]
    if stray:
        raise TypeError(f"routes not made with api.routing.api_router: {', '.join(stray)}")
