from pydantic import BaseModel, Field, StrictStr

from api.fields import NO_NUL_PATTERN, OmittableInt
from api.pagination import Page
from shared.domain.models import Refund


class RefundCreate(BaseModel):
    """docs/api.md#refunds: `amount` left out refunds the whole available amount; an explicit null,
    zero, negative, fractional (100.0 too), boolean or string amount is 400."""

    amount: OmittableInt = Field(
        default=None,
        gt=0,
        description="Paise to refund, a positive integer; leave it out to refund the whole"
        " available amount (null is refused)",
    )
    reason: StrictStr | None = Field(default=None, max_length=255, pattern=NO_NUL_PATTERN)


RefundPage = Page[Refund]
