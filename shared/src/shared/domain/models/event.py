"""Event types: the one list (CONTRACT §7). A webhook endpoint's filter names them, every
event stored has one, and each is the `event` of its webhook bodies."""

from typing import Literal, get_args

EventType = Literal[
    "payment.created",
    "payment.pending",
    "payment.success",
    "payment.failed",
    "refund.created",
    "refund.processed",
    "webhook.test",
    "webhook_endpoint.disabled",
]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
