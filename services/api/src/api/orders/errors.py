"""The orders domain's errors, with their codes and exact descriptions (docs/api.md#error-codes)."""

from api.errors import NotFound
from shared.domain.errors import BadRequest


class OrderNotFound(NotFound, description="Order not found"):
    """404: no order with this id, a malformed id, or another merchant's order
    (docs/api.md#merchant-isolation)."""


class OrderAlreadyPaid(BadRequest, description="Order already paid"):
    """400: a payment was attempted for an order that already has a successful payment."""
