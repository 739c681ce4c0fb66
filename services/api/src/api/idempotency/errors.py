"""The Idempotency-Key's errors (README, "The API in one screen": idempotency)."""

from api.errors import Conflict
from shared.domain.errors import BadRequest, GatewayError


class IdempotencyKeyInvalid(BadRequest):
    """400: the key is empty, longer than 255 characters or not printable ASCII."""

    default_description = "Idempotency-Key must be 1 to 255 printable characters"
    default_field = "Idempotency-Key"


class IdempotencyKeyInUse(Conflict):
    """409: a request holding the key is still running; the client retries after a second."""

    default_description = "A request with this Idempotency-Key is still being processed"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})


class IdempotencyKeyMismatch(GatewayError):
    """422: the key was used with another method, path or body."""

    status_code = 422
    code = "IDEMPOTENCY_KEY_MISMATCH"
    default_description = "Idempotency-Key was already used with a different request"
