from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from api.fields import FieldValueError, OmittableInt, id_in_path, id_pattern
from api.pagination import Page
from api.payments.errors import PaymentNotFound
from api.payments.instruments import VPA_PATTERN
from shared.core.ids import ORDER_PREFIX, PAYMENT_PREFIX
from shared.domain.models import Payment

PaymentIdInPath = Annotated[
    str, id_in_path("payment_id", PAYMENT_PREFIX, "payment", PaymentNotFound)
]


# Patterns given with json_schema_extra are documented, not validated by pydantic: the
# instrument checks answer with INVALID_VPA and INVALID_CARD instead (docs/api.md#payment-methods).
class CardDetails(BaseModel):
    number: StrictStr = Field(
        max_length=64,
        description="13-19 digits, Luhn-valid; spaces and dashes allowed",
        examples=["4111 1111 1111 1111"],
    )
    expiry_month: StrictInt | StrictStr = Field(description="1-12", examples=[12])
    expiry_year: StrictInt | StrictStr = Field(description="2 or 4 digits", examples=[2030])
    cvv: StrictStr = Field(
        max_length=8, examples=["123"], json_schema_extra={"pattern": "^[0-9]{3,4}$"}
    )
    holder_name: StrictStr | None = Field(default=None, max_length=100, examples=["Asha Rao"])

    def __repr__(self) -> str:  # never print the number or the CVV
        return "CardDetails(<redacted>)"

    __str__ = __repr__


class PaymentCreate(BaseModel):
    # Documented; the validator below refuses a method without its instrument.
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"properties": {"method": {"const": "upi"}, "vpa": {"type": "string"}},
                 "required": ["vpa"]},
                {"properties": {"method": {"const": "card"}, "card": {"type": "object"}},
                 "required": ["card"]},
            ]
        }
    )  # fmt: skip

    order_id: StrictStr = Field(
        max_length=64,
        examples=["order_NXhj67fGH2jk9mPq"],
        json_schema_extra={"pattern": id_pattern(ORDER_PREFIX)},  # any other: 404
    )
    method: Literal["upi", "card"]
    vpa: StrictStr | None = Field(
        default=None,
        examples=["user@paytm"],
        description="Required for method upi",
        json_schema_extra={"pattern": VPA_PATTERN.pattern, "maxLength": 255},
    )
    card: CardDetails | None = Field(default=None, description="Required for method card")

    @model_validator(mode="before")
    @classmethod
    def _one_instrument(cls, data: Any) -> Any:
        """A card sent with method upi (or a vpa with card) would be checked and then ignored,
        and a `card: {}` was refused for its missing number: the other instrument is refused,
        by name, before either is read."""
        method = data.get("method") if isinstance(data, dict) else None
        if method in ("upi", "card"):  # any other method is refused as such, after this
            other = "card" if method == "upi" else "vpa"
            if data.get(other) is not None:
                raise FieldValueError(other, f"{other} must not be sent for method {method}")
        return data

    @model_validator(mode="after")
    def _instrument_for_method(self) -> Self:
        if self.method == "upi" and self.vpa is None:
            raise FieldValueError("vpa", "vpa is required for method upi")
        if self.method == "card" and self.card is None:
            raise FieldValueError("card", "card is required for method card")
        return self


PaymentPage = Page[Payment]


class CaptureRequest(BaseModel):
    """docs/api.md#capture: the body is optional; `amount`, if given, must equal the payment amount
    (an explicit null is refused, as for refunds)."""

    amount: OmittableInt = Field(
        default=None, description="Paise; if given, must equal the payment amount"
    )


class PaymentStats(BaseModel):
    total_transactions: int
    successful_transactions: int
    failed_transactions: int
    total_amount: int = Field(description="Paise of successful payments")
    refunded_amount: int
    success_rate: float = Field(description="Successful payments as a percentage of all, 0-100")
