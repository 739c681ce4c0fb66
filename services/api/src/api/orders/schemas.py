from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, Field, StrictInt, field_validator

from api.fields import SHOWN_TEXT_RULE, ShownText, id_in_path
from api.orders.errors import OrderNotFound
from api.pagination import Page
from shared.core.ids import ORDER_PREFIX
from shared.core.money import MAXIMUM_AMOUNT, MINIMUM_AMOUNT
from shared.domain.models import Order

OrderIdInPath = Annotated[str, id_in_path("order_id", ORDER_PREFIX, "order", OrderNotFound)]

# jsonb has no NaN or Infinity (Python's JSON parser reads NaN, and 1e999 as Infinity).
NoteValue = ShownText | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None

AMOUNT_IN_PAISE = f"amount must be an integer number of paise, at least {MINIMUM_AMOUNT}"


class OrderCreate(BaseModel):
    # The body the OpenAPI document shows refused (api.routing.refused_body_example).
    refused_example: ClassVar[dict[str, Any]] = {"amount": 50}

    # The document states the ranges; the validators below enforce them with the descriptions
    # clients match on ("amount must be at least 100", docs/api.md#exact-descriptions).
    amount: StrictInt = Field(
        description="Amount in paise; at least 100",
        examples=[50000],
        json_schema_extra={"minimum": MINIMUM_AMOUNT, "maximum": MAXIMUM_AMOUNT},
    )
    currency: str = Field(
        default="INR", description="Only INR is supported", json_schema_extra={"enum": ["INR"]}
    )
    receipt: ShownText | None = Field(
        default=None, max_length=40, description=f"Shown as typed: {SHOWN_TEXT_RULE}"
    )
    notes: dict[ShownText, NoteValue] = Field(
        default_factory=dict,
        max_length=15,
        description="Up to 15 keys; keys and string values of at most 256 characters, shown as"
        f" typed: {SHOWN_TEXT_RULE}",
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_is_paise(cls, amount: Any) -> Any:
        # "500.00", 500.5 or true: say what an amount is, not "Input should be a valid integer".
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError(AMOUNT_IN_PAISE)
        return amount

    @field_validator("amount")
    @classmethod
    def _amount_in_range(cls, amount: int) -> int:
        if amount < MINIMUM_AMOUNT:
            raise ValueError(f"amount must be at least {MINIMUM_AMOUNT}")
        if amount > MAXIMUM_AMOUNT:
            raise ValueError(f"amount must be at most {MAXIMUM_AMOUNT}")
        return amount

    @field_validator("currency")
    @classmethod
    def _currency_supported(cls, currency: str) -> str:
        if currency != "INR":
            raise ValueError("currency must be INR")
        return currency

    @field_validator("notes")
    @classmethod
    def _notes_small(cls, notes: dict[str, Any]) -> dict[str, Any]:
        for key, value in notes.items():
            if len(key) > 256 or (isinstance(value, str) and len(value) > 256):
                raise ValueError("notes keys and values must be at most 256 characters")
        return notes


OrderPage = Page[Order]
