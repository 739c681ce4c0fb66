"""The merchants domain's errors (docs/api.md#error-codes)."""

from api.errors import AuthenticationFailed, Conflict, NotFound


class SeededMerchantMissing(NotFound):
    """404: this gateway runs without the seeded test merchant (SEED_TEST_MERCHANT off)."""

    default_description = "Test merchant not seeded"


class EmailTaken(Conflict):
    """409: a sign-up with the email of an existing merchant."""

    default_description = "A merchant with this email already exists"


class WrongPassword(AuthenticationFailed):
    """401: a login with an unknown email or a wrong password (one answer for both)."""

    default_description = "Invalid email or password"
