"""Public resource ids: a prefix and 16 characters from a cryptographic random source."""

import secrets
import string

ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 16

ORDER_PREFIX = "order_"
PAYMENT_PREFIX = "pay_"
REFUND_PREFIX = "rfnd_"
ENDPOINT_PREFIX = "we_"


# The largest multiple of 62 below 256: bytes at or above it are dropped, so every one of the
# 62 characters is equally likely (no modulo bias).
_UNBIASED_LIMIT = 256 - 256 % len(ALPHABET)


def new_id(prefix: str) -> str:
    """prefix + 16 characters of [A-Za-z0-9] from one read of the OS's random source."""
    chars: list[str] = []
    while len(chars) < ID_LENGTH:
        chars.extend(
            ALPHABET[b % len(ALPHABET)] for b in secrets.token_bytes(24) if b < _UNBIASED_LIMIT
        )
    return prefix + "".join(chars[:ID_LENGTH])


def is_id(value: str, prefix: str) -> bool:
    body = value.removeprefix(prefix)
    return (
        value.startswith(prefix)
        and len(body) == ID_LENGTH
        and all(char in ALPHABET for char in body)
    )
