"""Verifying (and, for `gateway listen`, producing) the signatures of a webhook delivery
(CONTRACT §7): `X-Webhook-Signature`, hex HMAC-SHA256 of the body keyed with the secret string,
a comma-separated list while a replaced secret still signs; and Standard Webhooks
(standardwebhooks.com): `webhook-id`, `webhook-timestamp`, `webhook-signature` (`v1,<base64>`,
space-separated during rotation), with a timestamp tolerance against replays.

    from payment_gateway.webhooks import verify
    event = verify(request.body, request.headers, "whsec_...")   # raises SignatureError
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from payment_gateway.errors import GatewayError

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE_S = 300


class SignatureError(GatewayError):
    """The delivery's signatures do not match the secret, or its timestamp is out of tolerance."""


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
    """Every header of a delivery, as the gateway's dispatcher sends it with one secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "X-Webhook-Signature": hex_signature(secret, body),
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, webhook_id, timestamp, body),
    }


def verify_hex_signature(body: bytes, header: str, secret: str) -> bool:
    """Whether any signature of the comma-separated X-Webhook-Signature matches (constant time)."""
    expected = hex_signature(secret, body)
    return any(hmac.compare_digest(expected, s.strip()) for s in header.split(",") if s.strip())


def verify_standard_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    tolerance: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether the Standard Webhooks headers are present, the timestamp is within `tolerance`
    seconds of `now`, and any `v1` signature of the space-separated list matches."""
    lowered = {k.lower(): v for k, v in headers.items()}
    webhook_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "")
    if not webhook_id or not stamp.isdigit() or not offered:
        return False
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > tolerance:
        return False
    expected = standard_signature(secret, webhook_id, int(stamp), body)
    return any(hmac.compare_digest(expected, candidate) for candidate in offered.split())


def verify(
    body: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_S,
    require: str = "any",
) -> dict[str, Any]:
    """Check a delivery and return its parsed body `{"event", "timestamp", "data"}`.

    `body` is the raw request body, exactly as received; `secret` the merchant's webhook secret
    (`whsec_...`). `require` is "any" (either header suffices; a present header that fails
    still fails), "both", "hex" or "standard". Raises SignatureError.
    """
    raw = body.encode() if isinstance(body, str) else body
    lowered = {k.lower(): v for k, v in headers.items()}
    checks: dict[str, bool] = {}
    if "x-webhook-signature" in lowered or require in ("both", "hex"):
        checks["hex"] = verify_hex_signature(raw, lowered.get("x-webhook-signature", ""), secret)
    if "webhook-signature" in lowered or require in ("both", "standard"):
        checks["standard"] = verify_standard_signature(raw, lowered, secret, tolerance)
    if not checks:
        raise SignatureError("No webhook signature header")
    if not all(checks.values()):
        failed = ", ".join(name for name, ok in checks.items() if not ok)
        raise SignatureError(f"Webhook signature invalid ({failed})")
    return json.loads(raw)
