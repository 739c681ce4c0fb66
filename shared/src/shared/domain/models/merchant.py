"""A merchant, as its owner sees it at sign-up and log-in: its credentials (docs/api.md#merchants)."""

from typing import Annotated, ClassVar

from pydantic import Field

from shared.domain.models.base import Reader, Resource, Timestamp, UuidText
from shared.domain.models.order import MERCHANT_ID_EXAMPLE


def _default_url(merchants: str) -> str:
    """The merchant's webhook URL: its default endpoint's (the merchant row of `merchants`)."""
    return f"""(SELECT e.url FROM webhook_endpoints e
     WHERE e.merchant_id = {merchants or "merchants"}.id AND e.is_default) AS webhook_url"""  # noqa: S608 (our table or alias)


class MerchantCredentials(Resource):
    """A merchant with its API key and secret and its default endpoint's webhook secret."""

    # Read by authentication and log-in, never shown.
    ROW_ONLY: ClassVar[tuple[str, ...]] = ("password_hash", "is_test")
    COMPUTED: ClassVar = {"webhook_url": _default_url}

    id: UuidText = Field(examples=[MERCHANT_ID_EXAMPLE])
    name: str
    email: str
    api_key: str
    api_secret: str
    webhook_secret: str
    webhook_url: Annotated[str | None, Reader(lambda url: url or None)] = None
    created_at: Timestamp
