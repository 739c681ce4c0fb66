from typing import Literal, Self

from pydantic import BaseModel, Field, StrictInt, StrictStr, model_validator

from api.pagination import Page


class CardDetails(BaseModel):
    number: StrictStr = Field(max_length=64, description="13-19 digits; spaces and dashes allowed")
    expiry_month: StrictInt | StrictStr = Field(description="1-12")
    expiry_year: StrictInt | StrictStr = Field(description="2 or 4 digits")
    cvv: StrictStr = Field(max_length=8)
    holder_name: StrictStr | None = Field(default=None, max_length=100)

    def __repr__(self) -> str:  # never print the number or the CVV
        return "CardDetails(<redacted>)"

    __str__ = __repr__


class PaymentCreate(BaseModel):
    order_id: StrictStr = Field(max_length=64, examples=["order_NXhj67fGH2jk9mPq"])
    method: Literal["upi", "card"]
    vpa: StrictStr | None = Field(default=None, examples=["user@paytm"])
    card: CardDetails | None = None

    @model_validator(mode="after")
    def _instrument_for_method(self) -> Self:
        if self.method == "upi" and self.vpa is None:
            raise ValueError("vpa is required for method upi")
        if self.method == "card" and self.card is None:
            raise ValueError("card is required for method card")
        return self


class Payment(BaseModel):
    id: str
    order_id: str
    amount: int
    currency: str
    method: str
    status: str
    captured: bool
    vpa: str | None = None
    card_network: str | None = None
    card_last4: str | None = None
    error_code: str | None
    error_description: str | None
    amount_refunded: int
    created_at: str
    updated_at: str


class PublicPayment(BaseModel):
    id: str
    order_id: str
    amount: int
    currency: str
    method: str
    status: str
    error_code: str | None
    error_description: str | None


PaymentPage = Page[Payment]


class CaptureRequest(BaseModel):
    amount: StrictInt | None = Field(
        default=None, description="If given, must equal the payment amount"
    )


class PaymentStats(BaseModel):
    total_transactions: int
    successful_transactions: int
    failed_transactions: int
    total_amount: int = Field(description="Paise of successful payments")
    refunded_amount: int
    success_rate: float = Field(description="Successful payments as a percentage of all, 0-100")
