"""The orders domain's errors, with their codes and exact descriptions (docs/api.md#error-codes)."""

from api.errors import NotFound
from shared.domain.errors import BadRequest


class OrderNotFound(NotFound):
    """404: no order with this id, a malformed id, or another merchant's order
    (docs/api.md#merchant-isolation)."""

    default_description = "Order not found"


class OrderAlreadyPaid(BadRequest):
    """400: a payment was attempted for an order that already has a successful payment."""

    default_description = "Order already paid"
