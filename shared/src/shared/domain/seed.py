"""The test merchant of docs/api.md#test-merchant, seeded idempotently.

Part of shared's domain, which needs no more than core: the dashboard and the demo shop know
the test merchant too, and install no database driver.
"""

from typing import TYPE_CHECKING

from pydantic import AliasChoices, Field

from shared.core.settings import ServiceSettings

if TYPE_CHECKING:
    from shared.backends.db import DictConnection

TEST_MERCHANT_ID = "550e8400-e29b-41d4-a716-446655440000"
TEST_MERCHANT_NAME = "Test Merchant"


class SeededMerchantSettings(ServiceSettings):
    """The seeded merchant's email and credentials: read by the migration that seeds it and by
    the demo shop that sells as it. The seed guide's API_KEY/API_SECRET are accepted too."""

    test_merchant_email: str = "test@example.com"
    test_api_key: str = Field(
        default="key_test_abc123", validation_alias=AliasChoices("TEST_API_KEY", "API_KEY")
    )
    test_api_secret: str = Field(
        default="secret_test_xyz789",
        validation_alias=AliasChoices("TEST_API_SECRET", "API_SECRET"),
    )
    test_webhook_secret: str = "whsec_test_abc123"


SEED_TEST_MERCHANT = """
INSERT INTO merchants (id, name, email, api_key, api_secret, webhook_secret, is_test)
VALUES (%(id)s, %(name)s, %(email)s, %(api_key)s, %(api_secret)s, %(webhook_secret)s, true)
ON CONFLICT (id) DO NOTHING
"""


def seed_test_merchant(conn: "DictConnection", settings: SeededMerchantSettings) -> None:
    # DO NOTHING keeps what the merchant changed since (webhook URL, rotated secret).
    conn.execute(
        SEED_TEST_MERCHANT,
        {
            "id": TEST_MERCHANT_ID,
            "name": TEST_MERCHANT_NAME,
            "email": settings.test_merchant_email,
            "api_key": settings.test_api_key,
            "api_secret": settings.test_api_secret,
            "webhook_secret": settings.test_webhook_secret,
        },
    )
    conn.commit()
