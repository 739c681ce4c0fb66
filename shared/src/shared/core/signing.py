"""Webhook signatures: our X-Webhook-Signature and the Standard Webhooks headers
(docs/webhooks.md#signatures).

A delivery is signed with every secret in force: the merchant's current secret first, then
each replaced secret still inside its 24 h overlap, newest first. Outside an overlap both
headers carry exactly one signature.
"""

import base64
import hashlib
import hmac
import secrets

STANDARD_SECRET_PREFIX = "whsec_"


def new_webhook_secret() -> str:
    return STANDARD_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def hex_signature(secret: str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of the body, keyed with the UTF-8 bytes of the secret string."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_webhooks_key(secret: str) -> bytes:
    # Exactly how the reference `standardwebhooks` package derives its key from a secret
    # string: drop the prefix, decode as (possibly unpadded, non-strict) base64.
    return base64.b64decode(secret.removeprefix(STANDARD_SECRET_PREFIX) + "==")


def standard_webhooks_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secrets_in_force: list[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Headers for one delivery attempt. `secrets_in_force`: the current secret first, then
    the replaced ones still in their overlap, newest first; `timestamp` in Unix seconds.

    X-Webhook-Signature is a comma-separated list of lowercase hex HMAC-SHA256 signatures in
    that order (one value when one secret is in force); webhook-signature is Standard
    Webhooks' space-separated list of `v1,<base64>`. A receiver accepts when any matches.
    """
    if not secrets_in_force:
        raise ValueError("a delivery is signed with at least one secret")
    return {
        "Content-Type": "application/json",
        "X-Webhook-Signature": ",".join(hex_signature(secret, body) for secret in secrets_in_force),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_webhooks_signature(secret, message_id, timestamp, body)
            for secret in secrets_in_force
        ),
    }
