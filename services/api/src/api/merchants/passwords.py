"""Passwords are stored only as a slow salted hash: scrypt from the standard library."""

import base64
import hashlib
import hmac
import secrets

# n=2**14, r=8: ~16 MiB and ~50 ms per hash, OWASP's minimum for scrypt.
N, R, P = 2**14, 8, 1


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, N, R, P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${N}${R}${P}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    return hmac.compare_digest(computed, base64.b64decode(digest))


# Verified against when the email is unknown, so a login takes as long either way.
DUMMY_HASH = hash_password(secrets.token_hex(8))
