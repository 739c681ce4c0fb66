"""The payments domain's errors, with their codes and exact descriptions
(docs/api.md#error-codes)."""

from shared.errors import BadRequest, NotFound


class PaymentNotFound(NotFound):
    """404: no payment with this id, a malformed id, or another merchant's payment."""

    default_description = "Payment not found"


class PaymentNotCapturable(BadRequest):
    """400: only a successful payment not yet captured can be captured."""

    default_description = "Payment not in capturable state"


class CaptureAmountMismatch(BadRequest):
    """400: a capture's optional `amount` must equal the payment's (docs/api.md#capture)."""

    default_description = "Capture amount must equal the payment amount"
