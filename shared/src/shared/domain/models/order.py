"""An order: an amount in paise the shopper is asked to pay."""

from typing import Annotated, Any, Literal

from pydantic import Field

from shared.domain.models.base import PUBLIC, Resource, Timestamp, UuidText

MERCHANT_ID_EXAMPLE = "550e8400-e29b-41d4-a716-446655440000"


class Order(Resource):
    """An order of the merchant's (docs/api.md#orders); a payment's success marks it paid."""

    id: Annotated[str, PUBLIC] = Field(examples=["order_NXhj67fGH2jk9mPq"])
    merchant_id: UuidText = Field(examples=[MERCHANT_ID_EXAMPLE])
    amount: Annotated[int, PUBLIC] = Field(description="Paise", examples=[50000])
    currency: Annotated[str, PUBLIC] = Field(examples=["INR"], json_schema_extra={"enum": ["INR"]})
    receipt: str | None = Field(examples=["receipt_1"])
    notes: dict[str, Any] = Field(examples=[{"customer": "Asha Rao"}])
    status: Annotated[Literal["created", "attempted", "paid"], PUBLIC] = Field(
        description="`attempted` once a payment was made for it, `paid` once one succeeded"
    )
    created_at: Timestamp
    updated_at: Timestamp


PublicOrder = Order.public(
    "PublicOrder",
    "An order as the checkout page shows it to the shopper, with its merchant's name.",
    merchant_name=(str, Field(examples=["Test Merchant"])),
)
