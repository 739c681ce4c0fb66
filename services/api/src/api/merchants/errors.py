"""The merchants domain's errors (docs/api.md#error-codes)."""

from datetime import datetime

from api.errors import AuthenticationFailed, Conflict, NotFound
from shared.domain.models import iso


class SeededMerchantMissing(NotFound, description="Test merchant not seeded"):
    """404: this gateway runs without the seeded test merchant (SEED_TEST_MERCHANT off)."""


class EmailTaken(Conflict, description="A merchant with this email already exists"):
    """409: a sign-up with the email of an existing merchant."""


class WrongPassword(AuthenticationFailed, description="Invalid email or password"):
    """401: a login with an unknown email or a wrong password (one answer for both)."""


class ReplacedSecretCannotRotate(
    Conflict,
    description="Only the current API secret can rotate it: this one has been replaced",
):
    """409: a rotation authenticated with a secret a rotation already replaced (still in its
    grace). Otherwise whoever holds a leaked secret could rotate within its grace, get the new
    one, and so keep access for ever (docs/api.md#api-secret-rotation)."""


class TooManyRetiredApiSecrets(
    Conflict,
    description="<n> replaced API secrets still work; rotate again after <time>, when the"
    " oldest of them stops",
):
    """409: as many replaced API secrets as may work at once still do (each rotation adds one
    that every authentication compares); says when one stops (docs/api.md#api-secret-rotation)."""

    def __init__(self, retired: int, first_free: datetime):
        super().__init__(
            f"{retired} replaced API secrets still work; rotate again after "
            f"{iso(first_free)}, when the oldest of them stops"
        )
