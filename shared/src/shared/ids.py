"""Public resource ids: a prefix and 16 characters from a cryptographic random source."""

import secrets
import string

ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 16

ORDER_PREFIX = "order_"
PAYMENT_PREFIX = "pay_"
REFUND_PREFIX = "rfnd_"


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def is_id(value: str, prefix: str) -> bool:
    body = value.removeprefix(prefix)
    return (
        value.startswith(prefix)
        and len(body) == ID_LENGTH
        and all(char in ALPHABET for char in body)
    )
