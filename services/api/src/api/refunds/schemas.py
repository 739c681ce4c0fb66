from pydantic import BaseModel, Field, StrictInt, StrictStr

from api.fields import NO_NUL_PATTERN
from api.pagination import Page


class RefundCreate(BaseModel):
    amount: StrictInt | None = Field(
        default=None, gt=0, description="Paise to refund; the whole available amount if omitted"
    )
    reason: StrictStr | None = Field(default=None, max_length=255, pattern=NO_NUL_PATTERN)


class Refund(BaseModel):
    id: str
    payment_id: str
    amount: int
    reason: str | None
    status: str
    created_at: str
    processed_at: str | None


RefundPage = Page[Refund]
