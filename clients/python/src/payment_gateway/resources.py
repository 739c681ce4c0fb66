"""Typed resources: one frozen dataclass per object the API returns (docs/api.md).

Fields the API adds later are kept in `raw` (the object as the API sent it), so an older client
never fails on a newer API. Amounts are integers in paise; timestamps are ISO-8601 UTC strings.
"""

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, get_type_hints

PaymentStatus = Literal["pending", "success", "failed"]
PaymentMethod = Literal["upi", "card"]
CardNetwork = Literal["visa", "mastercard", "amex", "rupay", "unknown"]
OrderStatus = Literal["created", "attempted", "paid"]
RefundStatus = Literal["pending", "processed", "failed"]
DeliveryStatus = Literal["pending", "success", "failed"]
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
EndpointStatus = Literal["enabled", "disabled"]

T = TypeVar("T", bound="Resource")


@dataclass(frozen=True)
class Resource:
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Build from an API object; nested resources are built too, unknown keys kept in raw."""
        hints = get_type_hints(cls)
        values: dict[str, Any] = {"raw": data}
        for f in dataclasses.fields(cls):
            if f.name == "raw":
                continue
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    values[f.name] = None
                continue
            values[f.name] = _convert(hints[f.name], data[f.name])
        return cls(**values)


def _convert(hint: Any, value: Any) -> Any:
    nested = _resource_in(hint)
    if nested is None or value is None:
        return value
    if isinstance(value, list):
        return [nested.from_dict(item) for item in value]
    return nested.from_dict(value)


def _resource_in(hint: Any) -> type[Resource] | None:
    if isinstance(hint, type) and issubclass(hint, Resource):
        return hint
    for arg in getattr(hint, "__args__", ()):
        found = _resource_in(arg)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Order(Resource):
    id: str = ""
    amount: int = 0
    currency: str = "INR"
    status: OrderStatus = "created"
    receipt: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    merchant_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class PublicOrder(Resource):
    id: str = ""
    amount: int = 0
    currency: str = "INR"
    status: OrderStatus = "created"
    merchant_name: str | None = None


@dataclass(frozen=True)
class Payment(Resource):
    id: str = ""
    order_id: str = ""
    amount: int = 0
    currency: str = "INR"
    method: PaymentMethod = "upi"
    status: PaymentStatus = "pending"
    captured: bool = False
    vpa: str | None = None
    card_network: CardNetwork | None = None
    card_last4: str | None = None
    error_code: str | None = None
    error_description: str | None = None
    amount_refunded: int = 0
    amount_refundable: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class Refund(Resource):
    id: str = ""
    payment_id: str = ""
    amount: int = 0
    reason: str | None = None
    status: RefundStatus = "pending"
    created_at: str | None = None
    processed_at: str | None = None


@dataclass(frozen=True)
class WebhookAttempt(Resource):
    attempt_number: int = 0
    attempted_at: str | None = None
    duration_ms: int = 0
    response_code: int | None = None
    response_body: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class WebhookLog(Resource):
    """One delivery of one event; its id is the event id and the `webhook-id` header."""

    id: str = ""
    event: str = ""
    status: DeliveryStatus = "pending"
    attempts: int = 0
    # The event's id (the `webhook-id` header), the endpoint it went to, and the payment or
    # refund it is about (None for events about neither).
    event_id: str | None = None
    endpoint_id: str | None = None
    object_id: str | None = None
    created_at: str | None = None
    last_attempt_at: str | None = None
    next_retry_at: str | None = None
    response_code: int | None = None
    payload: dict[str, Any] | None = None
    attempt_history: list[WebhookAttempt] = field(default_factory=list)


@dataclass(frozen=True)
class WebhookRetried(Resource):
    id: str = ""
    status: str = "pending"
    message: str = ""


@dataclass(frozen=True)
class WebhookTestSent(Resource):
    id: str = ""
    event: str = "webhook.test"
    status: str = "pending"
    message: str = ""


@dataclass(frozen=True)
class WebhookConfig(Resource):
    webhook_url: str | None = None
    webhook_secret: str = ""
    previous_secret_expires_at: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"WebhookConfig(webhook_url={self.webhook_url!r}, webhook_secret=<redacted>)"


@dataclass(frozen=True)
class SignedDelivery(Resource):
    """An event as a delivery sent now carries it: its exact `body` and every header, signed
    by the gateway with every webhook secret in force (`events.signed_delivery`)."""

    id: str = ""
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointHealth(Resource):
    """Deliveries to one endpoint that ended `success` / `failed` in the last 24 hours, when
    the last one succeeded, how many are `retrying` (pending after a failed attempt) and when
    an attempt last failed."""

    succeeded_24h: int = 0
    failed_24h: int = 0
    last_success_at: str | None = None
    retrying: int = 0
    last_failure_at: str | None = None


@dataclass(frozen=True)
class WebhookEndpoint(Resource):
    """One URL that receives the events its filter takes (`events`: types, or `["*"]` for
    all), signed with its own secret. `default` is the endpoint of `webhooks.config()`;
    `disabled_reason` says why the gateway disabled it by itself (None otherwise); `health`
    comes with `webhook_endpoints.get` and with each endpoint `webhook_endpoints.list` gives."""

    id: str = ""
    url: str = ""
    events: list[str] = field(default_factory=lambda: ["*"])
    description: str | None = None
    status: EndpointStatus = "enabled"
    default: bool = False
    secret: str = field(default="", repr=False)
    disabled_reason: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    health: EndpointHealth | None = None


@dataclass(frozen=True)
class RecoveryQueued(Resource):
    """How many missed events a recovery queued for delivery again."""

    queued: int = 0


@dataclass(frozen=True)
class Event(Resource):
    """Something that happened (docs/api.md#events); `body` and `deliveries` come with
    `events.get`."""

    id: str = ""
    type: EventType = "webhook.test"
    created_at: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    body: str | None = None
    deliveries: list[WebhookLog] = field(default_factory=list)


@dataclass(frozen=True)
class Merchant(Resource):
    id: str = ""
    name: str = ""
    email: str = ""
    api_key: str | None = None
    api_secret: str | None = field(default=None, repr=False)
    webhook_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ApiCredentials(Resource):
    api_key: str = ""
    api_secret: str = field(default="", repr=False)
    # Until when the replaced secret keeps working (ISO-8601), after a rotation.
    previous_api_secret_expires_at: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: `{data, total, limit, offset, total_is_estimate}`, newest first."""

    data: list[T]
    total: int
    limit: int
    offset: int
    total_is_estimate: bool = False

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.data) < self.total and bool(self.data)

    def __iter__(self):
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def page_of(resource: type[T], body: dict[str, Any]) -> Page[T]:
    return Page(
        data=[resource.from_dict(item) for item in body.get("data", [])],
        total=int(body.get("total", 0)),
        limit=int(body.get("limit", 0)),
        offset=int(body.get("offset", 0)),
        total_is_estimate=bool(body.get("total_is_estimate", False)),
    )
