"""One typed model per resource, imported by the API, the workers and the dashboard alike:
each is built from its database row (`Model.columns()` selects it, `Model.from_row` reads
it), is the API's response and OpenAPI schema (enums, examples and descriptions declared on
its fields), gives its public view (the fields marked `PUBLIC`), and is the `data` of its
webhook events (docs/webhooks.md#body: the bodies are signed as sent, so their shape never changes
silently)."""

# ruff: noqa: F401 (the package's names: every importer reads them from here)
from shared.domain.models.base import PUBLIC, Resource, Timestamp, iso
from shared.domain.models.event import (
    EVENT_TYPES,
    DeliveryStatus,
    Event,
    EventType,
    EventTypeText,
)
from shared.domain.models.merchant import MerchantCredentials
from shared.domain.models.order import Order, PublicOrder
from shared.domain.models.payment import Payment, PublicPayment, amount_refundable
from shared.domain.models.refund import Refund
from shared.domain.models.webhook import (
    ENDPOINT_EXAMPLE,
    TEST_MESSAGE,
    TestEventData,
    WebhookEndpoint,
    WebhookLog,
)
