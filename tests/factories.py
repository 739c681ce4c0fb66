"""Factories: plain functions with keyword defaults that create things through the API, over
HTTP (a TestClient) or by calling its services directly (an ApiRuntime)."""

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from fastapi.testclient import TestClient

from api.merchants import service as merchants_service
from api.merchants.schemas import MerchantSignup
from api.orders import service as orders_service
from api.orders.schemas import OrderCreate
from api.payments import service as payments_service
from api.payments.schemas import PaymentCreate
from shared.backends.due import due_channel
from shared.domain.seed import TEST_MERCHANT_ID

if TYPE_CHECKING:
    from fixtures.in_process import LoopRuntime

T = TypeVar("T")


# Every invisible control that reorders text (bidi marks, embeddings, overrides, isolates),
# which no text the API stores to show people may hold, and text that must still pass: right-
# to-left scripts, and an emoji held together by zero-width joiners (U+200D).
DIRECTION_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
TEXTS_WITHOUT_CONTROLS = ("متجر آشا", "חנות ספרים", "👩🏽\u200d💻 Dev")


def shown_text_refusal(field: str, subject: str | None = None) -> dict:
    """The error body for shown text `field` holding one of DIRECTION_CONTROLS; `subject` is
    what the description names when it is not the field ("notes keys")."""
    return {
        "code": "BAD_REQUEST_ERROR",
        "description": f"{subject or field} must not contain NUL (\\u0000) or the invisible controls"
        " that reorder text (\\u061c, \\u200e-\\u200f, \\u202a-\\u202e, \\u2066-\\u2069)",
        "field": field,
    }


# The seeded test merchant's webhook URL: its default endpoint's (None without one).
DEFAULT_URL_OF_TEST_MERCHANT = """
    SELECT (SELECT e.url FROM webhook_endpoints e
            WHERE e.merchant_id = m.id AND e.is_default) AS webhook_url
    FROM merchants m WHERE m.is_test
"""

# The seeded test merchant's credentials (the TEST_API_KEY and TEST_API_SECRET defaults).
TEST_MERCHANT_HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}


def luhn_complete(prefix: str, length: int) -> str:
    """A Luhn-valid number starting with `prefix`."""
    body = prefix + "0" * (length - len(prefix) - 1)
    for check in "0123456789":
        candidate = body + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            digit = int(char) * (2 if position % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


TEST_CARDS = {
    "visa": "4111111111111111",
    "mastercard": "5555555555554444",
    "amex": "378282246310005",
    "rupay": "6074820000000009",
    "unknown": luhn_complete("9", 16),
}


def create_order(client: TestClient, headers: dict[str, str], **overrides: Any) -> dict:
    body = {"amount": 50000, "currency": "INR", "receipt": "receipt_1", "notes": {}} | overrides
    response = client.post("/api/v1/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def upi_payment_body(order_id: str, vpa: str = "user@paytm") -> dict:
    return {"order_id": order_id, "method": "upi", "vpa": vpa}


def card_payment_body(
    order_id: str,
    number: str = TEST_CARDS["visa"],
    expiry_month: int | str = "12",
    expiry_year: int | str = "2035",
    cvv: str = "123",
    holder_name: str = "Asha Rao",
) -> dict:
    card = {
        "number": number,
        "expiry_month": expiry_month,
        "expiry_year": expiry_year,
        "cvv": cvv,
        "holder_name": holder_name,
    }
    return {"order_id": order_id, "method": "card", "card": card}


def create_payment(client: TestClient, headers: dict[str, str], body: dict) -> dict:
    response = client.post("/api/v1/payments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def sign_up(client: TestClient, **overrides: Any) -> dict:
    body = {"name": "Acme Stores", "email": "owner@acme.test", "password": "correct horse"}
    response = client.post("/api/v1/merchants", json=body | overrides)
    assert response.status_code == 201, response.text
    return response.json()


def headers_for(merchant: dict) -> dict[str, str]:
    return {"X-Api-Key": merchant["api_key"], "X-Api-Secret": merchant["api_secret"]}


def successful_payment(client: TestClient, headers: dict[str, str], db, **order: Any) -> dict:
    """A payment already finalised as success (as the payment worker would leave it)."""
    created = create_order(client, headers, **order)
    payment = create_payment(client, headers, upi_payment_body(created["id"]))
    db.execute("UPDATE payments SET status = 'success' WHERE id = %s", (payment["id"],))
    db.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (created["id"],))
    return payment | {"status": "success"}


def events_of(db, event: str | None = None) -> list[dict]:
    """Logged webhook events, oldest first, with their payload parsed."""
    import json

    rows = db.execute(
        "SELECT event, payload FROM webhook_logs"
        " WHERE %(event)s::text IS NULL OR event = %(event)s ORDER BY created_at, event",
        {"event": event},
    ).fetchall()
    return [{"event": row["event"], "body": json.loads(row["payload"])} for row in rows]


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` (API service code) to completion on a new event loop, in a thread of
    its own: a Playwright fixture may already run a loop in the test's thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# --- the same through the API's services, without HTTP ------------------------------------------


async def without_key(db, call):
    """`call(tx)` in what a merchant POST without an Idempotency-Key hands its service: an
    autocommit connection (`api.idempotency.dependency.request_transaction`)."""
    async with db.autocommit() as tx:
        return await call(tx)


def service_order(
    runtime: "LoopRuntime", merchant_id: str = TEST_MERCHANT_ID, amount: int = 50000
) -> dict:
    """An order created by the orders service, as POST /api/v1/orders would."""
    body = OrderCreate(amount=amount)
    return runtime.run(
        without_key(runtime.db, lambda tx: orders_service.create_order(tx, merchant_id, body))
    ).model_dump()


def service_payment(
    runtime: "LoopRuntime", order_id: str, merchant_id: str | None = TEST_MERCHANT_ID
) -> dict:
    """A pending UPI payment made by the payments service (merchant_id None: the checkout)."""
    body = PaymentCreate.model_validate(upi_payment_body(order_id))
    return runtime.run(
        without_key(
            runtime.db, lambda tx: payments_service.create_payment(runtime, tx, merchant_id, body)
        )
    ).model_dump()


def settle(db, payment: dict, status: str = "success") -> dict:
    """Finalise a payment as the payment worker would: `success` also pays its order."""
    db.execute("UPDATE payments SET status = %s WHERE id = %s", (status, payment["id"]))
    if status == "success":
        db.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (payment["order_id"],))
    return payment | {"status": status}


def other_merchant_id(runtime: "LoopRuntime") -> str:
    """A second merchant, signed up through the merchants service; returns its id."""
    body = MerchantSignup(name="Other Stores", email="owner@other.test", password="correct horse")
    return runtime.run(merchants_service.sign_up(runtime.db, body)).id


@contextmanager
def listening(database_url: str, *queues: str) -> Iterator[Callable[[float], set[str]]]:
    """LISTEN on the due-work channels of `queues` (migration 007); yields `heard(seconds)`,
    the channels notified while it waited that long."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for queue in queues:
            conn.execute(f'LISTEN "{due_channel(queue)}"')

        def heard(seconds: float) -> set[str]:
            return {notify.channel for notify in conn.notifies(timeout=seconds)}

        yield heard
