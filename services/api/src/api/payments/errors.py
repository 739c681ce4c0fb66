"""The payments domain's errors, with their contract codes and exact descriptions
(CONTRACT §4)."""

from shared.errors import BadRequest, NotFound


class PaymentNotFound(NotFound):
    """404: no payment with this id, a malformed id, or another merchant's payment."""

    default_description = "Payment not found"


class PaymentNotCapturable(BadRequest):
    """400: only a successful payment not yet captured can be captured."""

    default_description = "Payment not in capturable state"


class CaptureAmountMismatch(BadRequest):
    """400: a capture's optional `amount` must equal the payment's (CONTRACT §5)."""

    default_description = "Capture amount must equal the payment amount"
