from typing import Annotated

from pydantic import BaseModel, Field, Strict

from api.fields import SHOWN_TEXT_RULE, OmittableInt, ShownText, id_in_path
from api.pagination import Page
from api.refunds.errors import RefundNotFound
from shared.core.ids import REFUND_PREFIX
from shared.domain.models import Refund

RefundIdInPath = Annotated[str, id_in_path("refund_id", REFUND_PREFIX, "refund", RefundNotFound)]


class RefundCreate(BaseModel):
    """docs/api.md#refunds: `amount` left out refunds the whole available amount; an explicit null,
    zero, negative, fractional (100.0 too), boolean or string amount is 400."""

    amount: OmittableInt = Field(
        default=None,
        gt=0,
        description="Paise to refund, a positive integer; leave it out to refund the whole"
        " available amount (null is refused)",
    )
    reason: Annotated[ShownText, Strict()] | None = Field(
        default=None, max_length=255, description=f"Shown as typed: {SHOWN_TEXT_RULE}"
    )


RefundPage = Page[Refund]
