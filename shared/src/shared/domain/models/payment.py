"""A payment of an order, by UPI or card: created pending, finalised by the payment worker
once the bank answers (docs/api.md#payments)."""

from collections.abc import Callable, Mapping
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from shared.domain.models.base import PUBLIC, Resource, Timestamp


def amount_refundable(payments: str = "payments") -> str:
    """The SQL select-list item `amount_refundable` of the payment row named `payments` in the
    statement (docs/api.md#payments): its amount in paise less its `pending` and `processed`
    refunds, 0 unless it succeeded. The one definition of what can still be refunded: API
    responses, webhook payloads and the refund check read it. Read it in its own statement
    after locking the payment, never in the locking one, whose snapshot may predate a refund
    just committed."""
    return f"""
        CASE WHEN {payments}.status = 'success' THEN {payments}.amount - (
            SELECT coalesce(sum(r.amount), 0) FROM refunds r
            WHERE r.payment_id = {payments}.id AND r.status IN ('pending', 'processed')
        ) ELSE 0 END::bigint AS amount_refundable"""  # noqa: S608 (`payments`: our table or alias)


class Payment(Resource):
    """A payment as its merchant sees it, in responses and in `payment.*` webhooks."""

    ROW_ONLY: ClassVar[tuple[str, ...]] = ("merchant_id", "correlation_id")
    COMPUTED: ClassVar[Mapping[str, Callable[[str], str]]] = {
        "amount_refundable": lambda alias: amount_refundable(alias or "payments")
    }

    id: Annotated[str, PUBLIC] = Field(examples=["pay_H8sK3jD9s2L1pQr7"])
    order_id: Annotated[str, PUBLIC] = Field(examples=["order_NXhj67fGH2jk9mPq"])
    amount: Annotated[int, PUBLIC] = Field(description="Paise: the order's", examples=[50000])
    currency: Annotated[str, PUBLIC] = Field(examples=["INR"], json_schema_extra={"enum": ["INR"]})
    method: Annotated[Literal["upi", "card"], PUBLIC]
    status: Annotated[Literal["pending", "success", "failed"], PUBLIC]
    captured: bool = Field(examples=[False])
    vpa: str | None = Field(default=None, examples=["user@paytm"])
    card_network: Literal["visa", "mastercard", "amex", "rupay", "unknown"] | None = Field(
        default=None, examples=[None]
    )
    card_last4: str | None = Field(default=None, examples=[None])
    error_code: Annotated[str | None, PUBLIC] = Field(examples=[None])
    error_description: Annotated[str | None, PUBLIC] = Field(examples=[None])
    amount_refunded: int = Field(examples=[0])
    amount_refundable: int = Field(
        description="What can still be refunded, in paise: the amount less the pending and"
        " processed refunds; 0 unless `status` is `success`",
        examples=[50000],
    )
    created_at: Timestamp
    updated_at: Timestamp


PublicPayment = Payment.public(
    "PublicPayment", "A payment as the checkout page polls it: its state, no instrument."
)
