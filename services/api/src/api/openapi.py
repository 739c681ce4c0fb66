"""The OpenAPI document a client generator can use: operation ids like `create_payment`, tag
descriptions, `servers`, enums for every closed set of values, an example on every schema and
operation, the response headers clients act on, and the webhook events (OpenAPI 3.1
`webhooks`) with their payload schemas.

Enums, examples and descriptions are declared on the models (shared.domain.models and the
`schemas.py` files); what is added here is document-wide: an example for every schema and
operation that has none (by property name and type), headers. An error response's example
is its first error class (`api.errors.error_responses`).
"""

import copy
import json
from pathlib import Path
from string import Template
from typing import Any, Literal

from fastapi import FastAPI, Header, Request
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model

from shared.domain.models import (
    ENDPOINT_EXAMPLE,
    EVENT_TYPES,
    Payment,
    Refund,
    TestEventData,
    WebhookEndpoint,
)

TAGS = [
    {"name": "orders", "description": "Orders: an amount in paise the shopper is asked to pay."},
    {"name": "payments", "description": "UPI and card payments of orders; captures."},
    {"name": "refunds", "description": "Full and partial refunds of successful payments."},
    {"name": "events", "description": "Every event that happened, stored for "
     "EVENT_RETENTION_DAYS whether or not a webhook URL is set."},
    {"name": "webhooks", "description": "Webhook endpoints (up to 20, each with its own event "
     "filter and secret; the config is the default one), delivery logs, retries, recovery."},
    {"name": "merchants", "description": "Sign-up, log-in and credentials."},
    {"name": "health", "description": "Liveness of the API and its dependencies."},
    {"name": "jobs", "description": "Queue counters for automated evaluation."},
]  # fmt: skip

# Route function names that would be ambiguous as operation ids across tags.
OPERATION_IDS = {
    "get_config": "get_webhook_config",
    "update_config": "update_webhook_config",
    "rotate_secret": "rotate_webhook_secret",
    "send_test": "send_test_webhook",
    "list_logs": "list_webhook_logs",
    "get_log": "get_webhook_log",
    "retry": "retry_webhook",
    "health": "get_health",
    "job_status": "get_job_status",
    "test_merchant": "get_test_merchant",
}


def operation_id(route: APIRoute) -> str:
    """`create_payment` rather than FastAPI's `create_payment_api_v1_payments_post`."""
    return OPERATION_IDS.get(route.name, route.name)


UUID = "0b7e4c1e-7b8f-4a4e-9d0c-3f1a2b3c4d5e"
# Example values by property name, for schemas that do not declare their own; anything else
# by its type.
VALUES: dict[str, Any] = {
    "receipt": "receipt_1",
    "notes": {"customer": "Asha Rao"},
    "reason": "Customer returned the item",
    "amount": 50000,
    "name": "Test Merchant",
    "email": "test@example.com",
    "password": "correct horse battery",
    "api_key": "key_test_abc123",
    "api_secret": "secret_test_xyz789",
    "webhook_secret": "whsec_test_abc123",
    "webhook_url": "https://yoursite.com/webhook",
    "event": "payment.success",
    "type": "payment.success",
    "duration_ms": 42,
    "response_code": 200,
    "response_body": "ok",
    "error": None,
    "message": "Webhook retry scheduled",
    "limit": 10,
    "offset": 0,
    "total_is_estimate": False,
    "database": "connected",
    "redis": "connected",
    "worker_status": "running",
}
MOMENT = "2026-01-15T10:31:10.123Z"


def _example(schemas: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    """A value that conforms to `schema`, from explicit examples first."""
    if depth > 6:
        return None
    if "$ref" in schema:
        target = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
        if "examples" in target:
            return copy.deepcopy(target["examples"][0])
        return _example(schemas, target, depth + 1)
    if "examples" in schema:
        return copy.deepcopy(schema["examples"][0])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema and "properties" not in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _example(schemas, options[0], depth + 1) if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            prop: _property_example(schemas, prop, sub, depth)
            for prop, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_example(schemas, schema.get("items", {}), depth + 1)]
    return {"integer": 1, "number": 1.0, "boolean": True}.get(kind or "", "text")


def _property_example(
    schemas: dict[str, Any], prop: str, schema: dict[str, Any], depth: int
) -> Any:
    if "examples" in schema:
        return copy.deepcopy(schema["examples"][0])
    if prop == "id" or schema.get("format") == "uuid":
        return UUID
    if prop.endswith("_at") or (prop == "timestamp" and schema.get("type") == "string"):
        return MOMENT
    if prop in VALUES:
        return VALUES[prop]
    return _example(schemas, schema, depth + 1)


HEADER_DOCS = {
    "X-Request-Id": {
        "description": "The request's correlation id (the caller's, if it sent a sane one): "
        "quote it to support; every log line about the request carries it.",
        "schema": {"type": "string"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the first response replayed for a reused "
        "Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string"},
    },
}


def _document_operation(schemas: dict[str, Any], operation: dict[str, Any]) -> None:
    idempotent = any(
        p.get("name") == "Idempotency-Key" and p.get("in") == "header"
        for p in operation.get("parameters", [])
    )
    # FastAPI lists each security dependency as an alternative; every one of them is required.
    if len(operation.get("security", [])) > 1:
        operation["security"] = [
            {name: scopes for requirement in operation["security"] for name, scopes in requirement.items()}
        ]  # fmt: skip
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None and "example" not in body and "examples" not in body:
        body["example"] = _example(schemas, body.get("schema", {}))
    for status, response in operation.get("responses", {}).items():
        headers = response.setdefault("headers", {})
        headers.setdefault("X-Request-Id", HEADER_DOCS["X-Request-Id"])
        if status.startswith("2") and idempotent:
            headers.setdefault("Idempotent-Replayed", HEADER_DOCS["Idempotent-Replayed"])
        if status in ("409", "429", "503"):
            headers.setdefault("Retry-After", HEADER_DOCS["Retry-After"])
        media = response.get("content", {}).get("application/json")
        if media is not None and "example" not in media and "examples" not in media:
            media["example"] = _example(schemas, media.get("schema", {}))


# --- webhook events ------------------------------------------------------------------------


def _event_body(
    name: str, events: tuple[str, ...], data: type[BaseModel], doc: str | None = None
) -> type[BaseModel]:
    """The model of the webhook body `{event, timestamp, data}` of `events`
    (docs/webhooks.md#body), named `name` in the document; `timestamp` is Unix seconds."""
    event: Any = Literal[events]  # the document's enum (or const) of `events`
    return create_model(
        name,
        __doc__=doc,
        event=(event, ...),
        timestamp=(int, Field(description="Unix seconds", examples=[1705315870])),
        data=(data, ...),
    )


DISABLED = {"status": "disabled", "disabled_reason": "the endpoint answered 410 Gone"}
# WebhookEndpoint's fields as the event sends them: all but the secret.
SHOWN: dict[str, Any] = {
    n: (f.annotation, f) for n, f in WebhookEndpoint.model_fields.items() if n != "secret"
}
DisabledEndpoint = create_model(
    "DisabledEndpoint",
    __doc__="The endpoint as the API shows it, without its secret.",
    __config__=ConfigDict(json_schema_extra={
        "examples": [{n: v for n, v in ENDPOINT_EXAMPLE.items() if n != "secret"} | DISABLED]
    }),
    **SHOWN | {"status": (Literal["disabled"], ...)},
)  # fmt: skip


PaymentEventBody = _event_body(
    "PaymentEventBody",
    tuple(event for event in EVENT_TYPES if event.startswith("payment.")),
    create_model("PaymentEventData", payment=(Payment, ...)),
    "The body of a payment event: compact JSON, signed byte for byte (docs/webhooks.md#body).",
)
RefundEventBody = _event_body(
    "RefundEventBody",
    tuple(event for event in EVENT_TYPES if event.startswith("refund.")),
    create_model("RefundEventData", refund=(Refund, ...)),
)
EndpointDisabledBody = _event_body(
    "EndpointDisabledBody",
    ("webhook_endpoint.disabled",),
    create_model("EndpointDisabledData", endpoint=(DisabledEndpoint, ...)),
)
TestEventBody = _event_body("TestEventBody", ("webhook.test",), TestEventData)


def _document_webhooks(app: FastAPI) -> None:
    signature = Header(
        alias="X-Webhook-Signature",
        description="Lowercase hex HMAC-SHA256 of the body keyed with the webhook secret "
        "string; comma-separated (current secret first) while a replaced secret still signs",
    )
    webhook_id = Header(
        alias="webhook-id", description="The event id: the same on every endpoint and retry"
    )
    webhook_timestamp = Header(alias="webhook-timestamp", description="Unix seconds of the attempt")
    webhook_signature = Header(
        alias="webhook-signature",
        description="Standard Webhooks `v1,<base64>`; space-separated during secret rotation",
    )
    cases: list[tuple[str, type[BaseModel], str]] = [
        ("payment.created", PaymentEventBody, "A payment was created (status pending)"),
        ("payment.pending", PaymentEventBody, "A payment awaits the bank"),
        ("payment.success", PaymentEventBody, "The bank accepted a payment; its order is paid"),
        ("payment.failed", PaymentEventBody, "The bank declined a payment, or its order was "
         "already paid (ORDER_ALREADY_PAID)"),
        ("refund.created", RefundEventBody, "A refund was created (status pending)"),
        ("refund.processed", RefundEventBody, "A refund was processed"),
        ("webhook.test", TestEventBody, "Sent by POST /api/v1/webhooks/test"),
        ("webhook_endpoint.disabled", EndpointDisabledBody, "Another endpoint of the merchant "
         "was disabled automatically (410 Gone, or every delivery failing for "
         "WEBHOOK_ENDPOINT_DISABLE_AFTER)"),
    ]  # fmt: skip
    for event, body_model, summary in cases:

        def receive(
            body: body_model,  # type: ignore[valid-type]
            x_webhook_signature: str = signature,
            webhook_id_: str = webhook_id,
            webhook_timestamp_: str = webhook_timestamp,
            webhook_signature_: str = webhook_signature,
        ) -> None: ...

        app.webhooks.post(
            event,
            summary=summary,
            operation_id=f"{event.replace('.', '_')}_webhook",
            description="POSTed to each enabled endpoint whose filter takes it; answer 2xx within 5 s. "
            "Retried up to five attempts: 1 min, 5 min, 30 min and 2 h after the one before.",
            status_code=200,
            response_description="Any 2xx acknowledges the delivery",
        )(receive)


def _flatten_payment_create(schemas: dict[str, Any]) -> None:
    """PaymentCreate's oneOf (upi needs vpa, card needs card) makes generators emit two
    anonymous models in place of one request class; the rule stays in words
    (docs/api.md#payment-methods) and in the 400 the API answers."""
    schema = schemas.get("PaymentCreate", {})
    if schema.pop("oneOf", None) is not None:
        schema["description"] = (
            "A UPI payment carries `vpa`, a card payment carries `card`; the other is omitted."
        )


def install_openapi(app: FastAPI, server_url: str) -> None:
    """Tags, servers, webhooks, and the document-wide additions above."""
    app.openapi_tags = TAGS
    app.servers = [{"url": server_url, "description": "This gateway (API_URL)"}]
    _document_webhooks(app)
    generate = app.openapi
    done = False

    def openapi() -> dict[str, Any]:
        nonlocal done
        document = generate()
        if not done:
            schemas = document.get("components", {}).get("schemas", {})
            _flatten_payment_create(schemas)
            for schema in schemas.values():
                if "examples" not in schema and "example" not in schema:
                    schema["examples"] = [_example(schemas, schema)]
            for path_item in [
                *document.get("paths", {}).values(),
                *document.get("webhooks", {}).values(),
            ]:
                for operation in path_item.values():
                    _document_operation(schemas, operation)
            done = True
        return document

    app.openapi = openapi  # type: ignore[method-assign]


# Swagger UI (served from the API itself by fastapi-offline) gives each security scheme its own
# form with its own Authorize button in the Authorize dialog: pressing the first stored only
# X-Api-Key, and every "Try it out" then got 401. The page's plugin (swagger_ui.html) puts the
# header schemes in one form, so one Authorize stores both headers the merchant endpoints
# require together.
SWAGGER_UI_PAGE = Template((Path(__file__).parent / "swagger_ui.html").read_text("utf-8"))


def install_swagger_ui(app: FastAPI, static_url: str = "/static-offline-docs") -> None:
    """`GET /docs`: Swagger UI from the API's own copy of its assets (fastapi-offline's, so it
    works offline), with one Authorize form for the API key and secret together, trying
    requests out against the API that served the page."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = SWAGGER_UI_PAGE.substitute(
            static=f"{root}{static_url}",
            title=app.title,
            openapi_url=json.dumps(f"{root}{app.openapi_url}"),
            root=json.dumps(root),
        )
        return HTMLResponse(page)
