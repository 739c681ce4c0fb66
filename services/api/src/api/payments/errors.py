"""The payments domain's errors, with their codes and exact descriptions
(docs/api.md#error-codes)."""

from api.errors import NotFound
from shared.domain.errors import BadRequest


class PaymentNotFound(NotFound, description="Payment not found"):
    """404: no payment with this id, a malformed id, or another merchant's payment."""


class PaymentNotCapturable(BadRequest, description="Payment not in capturable state"):
    """400: only a successful payment not yet captured can be captured."""


class CaptureAmountMismatch(
    BadRequest, description="Capture amount must equal the payment amount", field="amount"
):
    """400: a capture's optional `amount` must equal the payment's (docs/api.md#capture)."""


class InvalidVpa(BadRequest, code="INVALID_VPA", description="VPA format invalid", field="vpa"):
    """400 `INVALID_VPA`: the VPA is not `name@bank`."""


class InvalidCard(
    BadRequest, code="INVALID_CARD", description="Card validation failed", field="card"
):
    """400 `INVALID_CARD`: the number fails its length or Luhn check, or the CVV its length;
    `field` names which."""


class ExpiredCard(
    BadRequest, code="EXPIRED_CARD", description="Card expiry date invalid", field="card"
):
    """400 `EXPIRED_CARD`: the expiry is past or impossible; `field` names the part."""
