"""The transaction of a merchant POST, and its Idempotency-Key (README, "The API in one
screen").

Every merchant POST takes `tx: RequestTransactionDep` and hands it to its service, which does
its work in it. With an Idempotency-Key, the key is claimed, the work done and the response
stored in that ONE transaction: a request that dies half-way leaves neither its payment nor
its key behind, and a retry does the work exactly once. A second request with the key waits
briefly on the first one's row lock, then answers 409 while it still runs, or replays its
response once it has committed. Without a key the transaction is an autocommit connection,
in which a service opens its own transaction block where it needs one.
"""

import asyncio
import functools
import hashlib
import json
import string
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from psycopg import errors
from starlette.requests import ClientDisconnect

from api.authentication.credentials import AuthenticatedMerchant
from api.errors import BodyNotReceived
from api.idempotency import repository
from api.idempotency.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyMismatch,
)
from api.runtime import ApiRuntime
from shared.backends.db import AsyncTransaction

PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")
# What a route that takes the key may answer for it, besides its own errors.
IDEMPOTENCY_ERRORS = (IdempotencyKeyInvalid, IdempotencyKeyInUse, IdempotencyKeyMismatch)


async def fingerprint(method: str, path: str, body: bytes, salt: bytes) -> str:
    """The request's identity, kept with its key for 24 hours as 64 hex digits: the same JSON
    in another spacing or key order is the same body, and any other difference is another
    request (docs/idempotency.md).

    A body that holds a `card` holds its full number and CVV, which are never stored
    (docs/api.md#sensitive-data), and an unkeyed SHA-256 of it gave them back to anyone who
    could read the table: the payment shows the last four digits, which leaves about 10^15
    numbers and CVVs to try, about a day on one GPU. Such a body is hashed with scrypt instead,
    salted with `salt` (the merchant and the key: no two rows share a salt, so nothing is
    computed once for all of them), at about 10^15 times its cost per row to search. It runs
    in a thread: scrypt releases the GIL, and the event loop serves on meanwhile."""
    message = f"{method} {path}\n".encode()
    try:
        parsed = json.loads(body)
        message += json.dumps(parsed, sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # not JSON, or nested too deep: FastAPI refuses it
        return hashlib.sha256(message + body).hexdigest()  # and a refusal is never stored
    if not (isinstance(parsed, dict) and "card" in parsed):
        return hashlib.sha256(message).hexdigest()
    # RFC 7914's cost parameters: 1 MiB and a few milliseconds a hash, once per card payment
    # that sends a key.
    scrypt = functools.partial(hashlib.scrypt, salt=salt, n=2**10, r=8, p=1, dklen=32)
    return (await asyncio.to_thread(scrypt, message)).hex()


def validate_key(key: str) -> None:
    """IdempotencyKeyInvalid unless 1 to 255 printable ASCII characters."""
    if not 1 <= len(key) <= 255 or not set(key) <= PRINTABLE:
        raise IdempotencyKeyInvalid


class Replayed(Exception):
    """The stored first response of a request made again with its key; the route answers it
    (`api.routing.ApiRoute`) without running the handler."""

    def __init__(self, stored: dict):
        super().__init__("replayed")
        self.response = Response(
            content=bytes(stored["response_body"]),
            status_code=stored["response_status"],
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )


@dataclass
class Claim:
    """A claimed key; `response` is set by the route once the handler has answered."""

    response: Response | None = None


def _as_key(schema: dict) -> None:
    """The header's schema: what `validate_key` accepts (absent is no key, not null)."""
    schema.clear()
    schema.update({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"})


class _NotStored(Exception):
    """Roll the request's transaction back: its response is not a success to remember."""


async def request_transaction(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes a retry safe for 24 hours: the same request with the same key"
            " gets the first response back, with `Idempotent-Replayed: true`",
            json_schema_extra=lambda schema: _as_key(schema),
        ),
    ] = None,
) -> AsyncIterator[AsyncTransaction]:
    """The request's transaction (module docstring); after authentication, before the body
    is validated: the stored response is looked up before any other work. The merchant is the
    one `current_merchant` authenticated: the route declares `MerchantDep` before this
    (`api.routing.ApiRoute` refuses to start otherwise); declared here too, its dependencies
    would be solved twice on every request."""
    runtime: ApiRuntime = request.app.state.runtime
    merchant: AuthenticatedMerchant = request.state.merchant
    if idempotency_key is None:
        async with runtime.db.autocommit() as tx:
            yield tx
        return
    validate_key(idempotency_key)
    try:
        body = await request.body()
    except ClientDisconnect:  # the client left mid-body: no one reads the answer
        raise BodyNotReceived from None
    salt = f"{merchant.id}\n{idempotency_key}".encode()
    identity = await fingerprint(request.method, request.url.path, body, salt)
    claim = request.state.idempotency = Claim()
    async with runtime.idempotent_slots:
        try:
            async with runtime.db.transaction() as tx:
                await _claim(tx, merchant.id, idempotency_key, request, identity)
                yield tx
                response = claim.response
                if response is None or not 200 <= response.status_code < 300:
                    raise _NotStored
                await repository.store_response(
                    tx.conn, merchant.id, idempotency_key, response.status_code,
                    bytes(response.body),
                )  # fmt: skip
        except _NotStored:
            # Errors are not remembered (rolled back): the client may fix the request and
            # reuse the key.
            pass


async def _claim(
    tx: AsyncTransaction, merchant_id: str, key: str, request: Request, identity: str
) -> None:
    """Claim the key; IdempotencyKeyInUse while another request holds it, Replayed or
    IdempotencyKeyMismatch once that one has committed."""
    try:
        claimed = await repository.claim_key(
            tx.conn, merchant_id, key, request.method, request.url.path, identity
        )
    except errors.LockNotAvailable:
        raise IdempotencyKeyInUse from None
    if not claimed:
        stored = await repository.get_key(tx.conn, merchant_id, key)
        # Not claimed: the key's row exists, and the lock above holds it there.
        assert stored is not None
        if stored["request_hash"] != identity:
            raise IdempotencyKeyMismatch
        raise Replayed(stored)


# `scope="function"`: its transaction commits once the handler has answered, before the
# response is sent, so no client sees a success that was not committed.
RequestTransactionDep = Annotated[AsyncTransaction, Depends(request_transaction, scope="function")]
