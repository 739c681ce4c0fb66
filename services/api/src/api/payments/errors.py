"""The payments domain's errors, with their codes and exact descriptions
(docs/api.md#error-codes)."""

from api.errors import NotFound
from shared.domain.errors import BadRequest


class PaymentNotFound(NotFound):
    """404: no payment with this id, a malformed id, or another merchant's payment."""

    default_description = "Payment not found"


class PaymentNotCapturable(BadRequest):
    """400: only a successful payment not yet captured can be captured."""

    default_description = "Payment not in capturable state"


class CaptureAmountMismatch(BadRequest):
    """400: a capture's optional `amount` must equal the payment's (docs/api.md#capture)."""

    default_description = "Capture amount must equal the payment amount"


class InvalidVpa(BadRequest):
    """400 `INVALID_VPA`: the VPA is not `name@bank`."""

    code = "INVALID_VPA"
    default_description = "VPA format invalid"
    default_field = "vpa"


class InvalidCard(BadRequest):
    """400 `INVALID_CARD`: the number fails its length or Luhn check, or the CVV its length;
    `field` names which."""

    code = "INVALID_CARD"
    default_description = "Card validation failed"
    default_field = "card"


class ExpiredCard(BadRequest):
    """400 `EXPIRED_CARD`: the expiry is past or impossible; `field` names the part."""

    code = "EXPIRED_CARD"
    default_description = "Card expiry date invalid"
    default_field = "card"
