"""Verifying (and, for tests, producing) the signatures of a webhook delivery.

`verify` is the safe check, and the one to use: the Standard Webhooks headers
(standardwebhooks.com) `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64>`
HMAC-SHA256 of `id.timestamp.body`, a space-separated list while a replaced secret still
signs), a timestamp within 5 minutes of now (as the standard and Stripe advise), and each
`webhook-id` taken once, so a recorded delivery sent again is refused:

    from payment_gateway.webhooks import verify, DuplicateWebhook, SignatureError
    try:
        event = verify(request.body, request.headers, "whsec_...")
    except DuplicateWebhook:
        return 200          # already handled: acknowledge, do not handle it again
    except SignatureError:
        return 400          # forged, altered, or older than 5 minutes

`verify_legacy_hex` checks only `X-Webhook-Signature` (hex HMAC-SHA256 of the body). That
header carries no timestamp or id, so a delivery recorded once verifies forever: it is kept for
receivers written before the Standard Webhooks headers, not for new code.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from payment_gateway.errors import GatewayError

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE_S = 300
# A webhook-id is remembered a little longer than a delivery can be fresh: an older replay is
# refused by its timestamp already.
DEFAULT_SEEN_TTL_S = 2 * DEFAULT_TOLERANCE_S
DEFAULT_SEEN_MAX_IDS = 100_000


class SignatureError(GatewayError):
    """The delivery's signatures do not match the secret, a header is missing, or its timestamp
    is out of tolerance (StaleWebhook)."""


class StaleWebhook(SignatureError):
    """The signature matches, but `webhook-timestamp` is further from now than the tolerance:
    a recorded delivery sent again. Refuse it (4xx)."""


class DuplicateWebhook(GatewayError):
    """A valid delivery whose `webhook-id` was already taken: a retry of an event you handled,
    or an exact replay within the tolerance. Acknowledge it (2xx) without handling it again."""

    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"Webhook {webhook_id} was already received")
        self.webhook_id = webhook_id


class SeenIds(Protocol):
    """Where `verify` remembers the webhook ids it took. Back it with Redis (`SET id 1 NX EX
    600`) or a table with a unique id when several processes receive webhooks."""

    def claim(self, webhook_id: str) -> bool:
        """Take `webhook_id`: True the first time, False when it is already taken."""
        ...

    def forget(self, webhook_id: str) -> None:
        """Release `webhook_id` (its handling failed), so the gateway's retry is handled."""
        ...


class InMemorySeenIds:
    """The ids of one process, each kept `ttl_s` seconds (default 10 minutes) and at most
    `max_ids` of them (the oldest go first). Thread-safe."""

    def __init__(
        self, ttl_s: float = DEFAULT_SEEN_TTL_S, max_ids: int = DEFAULT_SEEN_MAX_IDS
    ) -> None:
        self.ttl_s = ttl_s
        self.max_ids = max_ids
        self._taken: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, webhook_id: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._taken and (
                len(self._taken) >= self.max_ids or next(iter(self._taken.values())) <= now
            ):
                self._taken.popitem(last=False)
            if webhook_id in self._taken:
                return False
            self._taken[webhook_id] = now + self.ttl_s
            return True

    def forget(self, webhook_id: str) -> None:
        with self._lock:
            self._taken.pop(webhook_id, None)

    def __len__(self) -> int:
        return len(self._taken)


# What `verify` uses unless told otherwise: one per process.
DEFAULT_SEEN_IDS = InMemorySeenIds()


def hex_signature(secret: str, body: bytes) -> str:
    """X-Webhook-Signature: lowercase hex HMAC-SHA256 of the body, keyed with the UTF-8 bytes
    of the secret string."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _standard_key(secret: str) -> bytes:
    # As the reference `standardwebhooks` package: drop the prefix, decode (unpadded) base64.
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def standard_signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One `webhook-signature` entry: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(secret: str, webhook_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Every header of a delivery signed with one secret, as the dispatcher signs it: for
    tests of your receiver."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "X-Webhook-Signature": hex_signature(secret, body),
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, webhook_id, timestamp, body),
    }


def _secrets(secret: str | Sequence[str]) -> list[str]:
    return [secret] if isinstance(secret, str) else list(secret)


def _raw(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def verify_standard_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    tolerance: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether the Standard Webhooks headers are present, the timestamp is within `tolerance`
    seconds of `now`, and any `v1` signature of the space-separated list matches a secret."""
    try:
        _check_standard(body, {k.lower(): v for k, v in headers.items()}, secret, tolerance, now)
    except SignatureError:
        return False
    return True


def _check_standard(
    body: bytes,
    lowered: Mapping[str, str],
    secret: str | Sequence[str],
    tolerance: float,
    now: float | None,
) -> str:
    webhook_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "").split()
    if not (webhook_id and offered and stamp):
        raise SignatureError(
            "Missing Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature)"
        )
    if not stamp.isascii() or not stamp.isdigit():
        raise SignatureError("webhook-timestamp is not Unix seconds")
    expected = [standard_signature(s, webhook_id, int(stamp), body) for s in _secrets(secret)]
    if not any(hmac.compare_digest(e, o) for e in expected for o in offered):
        raise SignatureError("Webhook signature invalid")
    # After the signature: an attacker cannot learn the tolerance by sending junk.
    age = (time.time() if now is None else now) - int(stamp)
    if abs(age) > tolerance:
        raise StaleWebhook(
            f"Webhook timestamp is {int(abs(age))} s {'old' if age > 0 else 'ahead'}, "
            f"beyond the {tolerance:g} s tolerance"
        )
    return webhook_id


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE_S,
    seen: SeenIds | None = DEFAULT_SEEN_IDS,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a delivery's Standard Webhooks signature, its freshness and its id; return its
    parsed body `{"event", "timestamp", "data"}`.

    `body`: the raw request body, exactly as received. `headers`: the request's headers (any
    case). `secret`: your webhook secret (`whsec_...`), or several while you rotate.
    `tolerance`: seconds `webhook-timestamp` may be from now (default 300). `seen`: where
    taken webhook ids are kept (default: this process's memory, 10 minutes, 100 000 ids; pass
    your own SeenIds when several processes receive, or None to skip the check). If handling
    the event then fails, call `seen.forget(headers["webhook-id"])` before answering 5xx, so
    the gateway's retry is handled.

    Raises SignatureError (missing headers, no matching signature), StaleWebhook (a matching
    signature outside the tolerance) or DuplicateWebhook (an id already taken).
    """
    raw = _raw(body)
    webhook_id = _check_standard(
        raw, {k.lower(): v for k, v in headers.items()}, secret, tolerance, now
    )
    if seen is not None and not seen.claim(webhook_id):
        raise DuplicateWebhook(webhook_id)
    return json.loads(raw)


def verify_hex_signature(body: bytes, header: str, secret: str | Sequence[str]) -> bool:
    """Whether any signature of the comma-separated X-Webhook-Signature matches a secret
    (constant time)."""
    offered = [s.strip() for s in header.split(",") if s.strip()]
    return any(
        hmac.compare_digest(hex_signature(s, body), o) for s in _secrets(secret) for o in offered
    )


def verify_legacy_hex(
    body: bytes | str, headers: Mapping[str, str], secret: str | Sequence[str]
) -> dict[str, Any]:
    """Legacy: check only `X-Webhook-Signature` and return the parsed body.

    That header signs the body alone, with no timestamp or id, so a delivery recorded once
    verifies forever (a replay): use `verify` in new code. Raises SignatureError.
    """
    raw = _raw(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    if not verify_hex_signature(raw, lowered.get("x-webhook-signature", ""), secret):
        raise SignatureError("X-Webhook-Signature missing or invalid")
    return json.loads(raw)
