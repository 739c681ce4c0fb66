"""The merchants domain's errors (docs/api.md#error-codes)."""

from shared.errors import NotFound


class SeededMerchantMissing(NotFound):
    """404: this gateway runs without the seeded test merchant (SEED_TEST_MERCHANT off)."""

    default_description = "Test merchant not seeded"
