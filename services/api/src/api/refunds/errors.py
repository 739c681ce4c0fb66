"""The refunds domain's errors, with their codes and exact descriptions
(docs/api.md#error-codes)."""

from api.errors import NotFound
from shared.domain.errors import BadRequest


class RefundNotFound(NotFound, description="Refund not found"):
    """404: no refund with this id, a malformed id, or another merchant's refund."""


class PaymentNotRefundable(BadRequest, description="Payment not in refundable state"):
    """400: only a successful payment can be refunded."""


class RefundExceedsAvailable(BadRequest, description="Refund amount exceeds available amount"):
    """400: the amount (or, left out, what is left) is above the payment's amount less its
    pending and processed refunds, or nothing is left to refund. `field` is `amount` when the
    request gave one (the field at fault); left out, the payment is, and there is no field."""
