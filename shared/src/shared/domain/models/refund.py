"""A refund of a successful payment, full or partial (docs/api.md#refunds)."""

from typing import ClassVar, Literal

from pydantic import Field

from shared.domain.models.base import OptionalTimestamp, Resource, Timestamp


class Refund(Resource):
    """A refund as its merchant sees it, in responses and in `refund.*` webhooks."""

    ROW_ONLY: ClassVar[tuple[str, ...]] = ("merchant_id", "correlation_id", "updated_at")

    id: str = Field(examples=["rfnd_K2mP9sQ4rT7vX1zB"])
    payment_id: str = Field(examples=["pay_H8sK3jD9s2L1pQr7"])
    amount: int = Field(description="Paise", examples=[50000])
    reason: str | None = Field(examples=["Customer returned the item"])
    status: Literal["pending", "processed", "failed"]
    created_at: Timestamp
    processed_at: OptionalTimestamp
