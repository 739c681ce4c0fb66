"""The merchants domain's errors (docs/api.md#error-codes)."""

from api.errors import AuthenticationFailed, Conflict, NotFound


class SeededMerchantMissing(NotFound, description="Test merchant not seeded"):
    """404: this gateway runs without the seeded test merchant (SEED_TEST_MERCHANT off)."""


class EmailTaken(Conflict, description="A merchant with this email already exists"):
    """409: a sign-up with the email of an existing merchant."""


class WrongPassword(AuthenticationFailed, description="Invalid email or password"):
    """401: a login with an unknown email or a wrong password (one answer for both)."""
