"""Idempotency-Key on merchant POSTs (CONTRACT §6).

The key is claimed, the request's work done and its response stored in ONE transaction: a
request that dies half-way leaves neither its payment nor its key behind, and a retry does the
work exactly once. A second request with the key waits briefly on the first one's row lock,
then answers 409 while it still runs, or replays its response once it has committed.
"""

import hashlib
import json
import string
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from psycopg import errors
from starlette.requests import ClientDisconnect

from api.errors import BodyNotReceived
from api.idempotency import repository
from api.idempotency.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyMismatch,
)
from api.merchants import auth
from shared.db import AsyncDatabase

HEADER = "idempotency-key"
PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# What a route that honours the key may answer for it, besides its own errors.
IDEMPOTENCY_ERRORS = (IdempotencyKeyInvalid, IdempotencyKeyInUse, IdempotencyKeyMismatch)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request's identity: the same JSON in another spacing or key order is the same body."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # not JSON, or nested too deep: FastAPI refuses it
        canonical = body
    return hashlib.sha256(f"{method} {path}\n".encode() + canonical).hexdigest()


def validate_key(key: str) -> None:
    if not 1 <= len(key) <= 255 or not set(key) <= PRINTABLE:
        raise IdempotencyKeyInvalid


def replay(stored: dict) -> Response:
    return Response(
        content=bytes(stored["response_body"]),
        status_code=stored["response_status"],
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


# How the document describes the header: the handler below reads it, not FastAPI.
KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe for 24 hours: the same request with the same key gets the"
    " first response back, with `Idempotent-Replayed: true`",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}


class IdempotentRoute(APIRoute):
    """Route class for merchant routers: POSTs honour the Idempotency-Key header."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any):
        super().__init__(path, endpoint, **kwargs)
        if self._is_idempotent():
            extra = self.openapi_extra or {}
            self.openapi_extra = extra | {
                "parameters": [*extra.get("parameters", []), KEY_PARAMETER]
            }

    def _is_idempotent(self) -> bool:
        return is_idempotent(self.methods, self.dependant)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not self._is_idempotent():
            return handler

        async def idempotent_handler(request: Request) -> Response:
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(request)
            validate_key(key)
            runtime = request.app.state.runtime
            merchant = await auth.authenticate(
                runtime.db,
                runtime.credentials,
                request.headers.get("x-api-key"),
                request.headers.get("x-api-secret"),
            )
            request.state.merchant = merchant
            try:
                body = await request.body()
            except ClientDisconnect:  # the client left mid-body: no one reads the answer
                raise BodyNotReceived from None
            request_fingerprint = fingerprint(request.method, request.url.path, body)
            async with runtime.idempotent_slots:
                return await _run_once(
                    handler, request, runtime.db, merchant.id, key, request_fingerprint
                )

        return idempotent_handler


async def _run_once(
    handler: Handler,
    request: Request,
    db: AsyncDatabase,
    merchant_id: str,
    key: str,
    request_fingerprint: str,
) -> Response:
    """Claim the key, do the work and store its response, all in one transaction: the
    handler's services join it as their ambient transaction."""
    try:
        async with db.ambient_transaction() as tx:
            try:
                claimed = await repository.claim_key(
                    tx.conn, merchant_id, key, request.method, request.url.path,
                    request_fingerprint,
                )  # fmt: skip
            except errors.LockNotAvailable:
                raise IdempotencyKeyInUse from None
            if not claimed:
                stored = await repository.get_key(tx.conn, merchant_id, key)
                # Not claimed: the key's row exists, and the lock above holds it there.
                assert stored is not None
                if stored["request_hash"] != request_fingerprint:
                    raise IdempotencyKeyMismatch
                return replay(stored)
            response = await handler(request)
            if not 200 <= response.status_code < 300:
                raise _NotCached(response)
            await repository.store_response(
                tx.conn, merchant_id, key, response.status_code, bytes(response.body)
            )
    except _NotCached as not_cached:
        # Errors are not remembered (rolled back): the client may fix the request and reuse
        # the key.
        return not_cached.response
    return response


def is_idempotent(methods: Iterable[str] | None, dependant: Dependant) -> bool:
    """Whether a route honours Idempotency-Key: a POST that authenticates a merchant."""
    return "POST" in {method.upper() for method in methods or ()} and authenticates_merchant(
        dependant
    )


def authenticates_merchant(dependant: Dependant) -> bool:
    """Whether `dependant` (a route's, flat or not) depends on `current_merchant`."""
    from api.dependencies import current_merchant

    return any(
        sub.call is current_merchant or authenticates_merchant(sub)
        for sub in dependant.dependencies
    )


class _NotCached(Exception):
    def __init__(self, response: Response):
        self.response = response
