"""The Payment Gateway's Python client: `Gateway` (sync), `AsyncGateway` (asyncio), typed
resources and errors, and `payment_gateway.webhooks.verify` for receiving webhooks."""

from payment_gateway.client import AsyncGateway, Gateway
from payment_gateway.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    GatewayError,
    IdempotencyKeyMismatchError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UnexpectedResponseError,
)
from payment_gateway.resources import (
    ApiCredentials,
    EndpointHealth,
    Event,
    Merchant,
    Order,
    Page,
    Payment,
    PublicOrder,
    RecoveryQueued,
    Refund,
    WebhookAttempt,
    WebhookConfig,
    WebhookEndpoint,
    WebhookLog,
)
from payment_gateway.webhooks import DuplicateWebhook, SignatureError, StaleWebhook

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError", "APIError", "ApiCredentials", "AsyncGateway", "AuthenticationError",
    "BadRequestError", "ConflictError", "DuplicateWebhook", "EndpointHealth", "Event", "Gateway",
    "GatewayError", "IdempotencyKeyMismatchError", "Merchant", "NotFoundError", "Order", "Page",
    "Payment", "PublicOrder", "RateLimitError", "RecoveryQueued", "Refund",
    "ServiceUnavailableError", "SignatureError", "StaleWebhook", "UnexpectedResponseError",
    "WebhookAttempt", "WebhookConfig", "WebhookEndpoint", "WebhookLog",
]  # fmt: skip
