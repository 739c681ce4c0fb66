"""The Idempotency-Key's errors (README, "The API in one screen": idempotency)."""

from api.errors import Conflict
from shared.domain.errors import BadRequest, GatewayError


class IdempotencyKeyInvalid(
    BadRequest,
    description="Idempotency-Key must be 1 to 255 printable characters",
    field="Idempotency-Key",
):
    """400: the key is empty, longer than 255 characters or not printable ASCII."""


class IdempotencyKeyInUse(
    Conflict, description="A request with this Idempotency-Key is still being processed"
):
    """409: a request holding the key is still running; the client retries after a second."""

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


class IdempotencyKeyMismatch(
    GatewayError,
    status=422,
    code="IDEMPOTENCY_KEY_MISMATCH",
    description="Idempotency-Key was already used with a different request",
):
    """422: the key was used with another method, path or body."""
