"""The Python client against the live API (a real API process and payment worker)."""

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from payment_gateway import (
    AsyncGateway,
    AuthenticationError,
    BadRequestError,
    Event,
    Gateway,
    NotFoundError,
    Order,
    Page,
    Payment,
    Refund,
)

pytestmark = pytest.mark.slow


def settled(gateway: Gateway, payment_id: str, timeout: float = 20.0) -> Payment:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payment = gateway.payments.get(payment_id)
        if payment.status != "pending":
            return payment
        time.sleep(0.1)
    raise AssertionError(f"{payment_id} still pending after {timeout} s")


def test_order_to_captured_payment_to_refund(gateway):
    order = gateway.orders.create(amount=50000, receipt="client-1", notes={"k": "v"})
    assert isinstance(order, Order) and order.status == "created" and order.notes == {"k": "v"}
    assert gateway.orders.get(order.id).amount == 50000
    assert gateway.orders.get_public(order.id).merchant_name == "Test Merchant"

    card = {"number": "4111 1111 1111 1111", "expiry_month": 12, "expiry_year": 2035,
            "cvv": "123", "holder_name": "Asha Rao"}  # fmt: skip
    payment = gateway.payments.create(order.id, "card", card=card)
    assert payment.status == "pending" and payment.card_network == "visa"
    assert settled(gateway, payment.id).status == "success"

    captured = gateway.payments.capture(payment.id)
    refund = gateway.refunds.create(payment.id, amount=1000, reason="damaged")

    assert captured.captured is True
    assert isinstance(refund, Refund) and (refund.amount, refund.status) == (1000, "pending")
    assert gateway.refunds.get(refund.id).payment_id == payment.id
    assert [r.id for r in gateway.refunds.list(payment.id)] == [refund.id]
    assert gateway.payments.get_public(payment.id).status == "success"


def test_typed_errors_carry_code_description_status_and_request_id(gateway, api_url):
    with pytest.raises(NotFoundError) as missing:
        gateway.orders.get("order_AAAAAAAAAAAAAAAA")
    with pytest.raises(BadRequestError) as small:
        gateway.orders.create(amount=99)
    with pytest.raises(BadRequestError) as vpa:
        gateway.payments.create(gateway.orders.create(amount=100).id, "upi", vpa="nope")
    with (
        Gateway("key_test_abc123", "wrong", base_url=api_url) as wrong,
        pytest.raises(AuthenticationError) as unauthenticated,
    ):
        wrong.orders.list()

    error = missing.value
    assert (error.status_code, error.code, error.description) == (
        404, "NOT_FOUND_ERROR", "Order not found",
    )  # fmt: skip
    assert error.request_id and len(error.request_id) >= 8
    assert (small.value.code, small.value.description) == (
        "BAD_REQUEST_ERROR", "amount must be at least 100",
    )  # fmt: skip
    assert (vpa.value.code, vpa.value.description) == ("INVALID_VPA", "VPA format invalid")
    assert unauthenticated.value.status_code == 401
    assert unauthenticated.value.description == "Invalid API credentials"


def test_auto_paging_iterates_every_page_newest_first(fresh_merchant):
    created = [fresh_merchant.orders.create(amount=100 + i).id for i in range(5)]

    first = fresh_merchant.orders.list(limit=2)
    everything = list(fresh_merchant.orders.iter(page_size=2))

    assert isinstance(first, Page) and (first.total, len(first), first.has_more) == (5, 2, True)
    assert [o.id for o in everything] == list(reversed(created))


def test_events_of_a_payment(fresh_merchant):
    order = fresh_merchant.orders.create(amount=2500)
    payment = fresh_merchant.payments.create(order.id, "upi", vpa="user@paytm")
    settled(fresh_merchant, payment.id)

    deadline = time.monotonic() + 10
    while not fresh_merchant.events.list(type="payment.success").data:
        assert time.monotonic() < deadline, "no payment.success event"
        time.sleep(0.1)
    events = list(fresh_merchant.events.iter(page_size=2))
    detail = fresh_merchant.events.get(events[0].id)

    assert [e.type for e in events] == ["payment.success", "payment.pending", "payment.created"]
    assert isinstance(detail, Event) and detail.data["payment"]["id"] == payment.id
    assert detail.body and detail.deliveries == []  # no webhook URL: stored, never sent
    assert not fresh_merchant.events.list(created_to="2000-01-01T00:00:00Z").data


def test_merchants_never_see_each_other(fresh_merchant, gateway):
    order = gateway.orders.create(amount=100)
    with pytest.raises(NotFoundError):
        fresh_merchant.orders.get(order.id)


def test_webhook_config_and_test_delivery(fresh_merchant):
    config = fresh_merchant.webhooks.update_config("http://127.0.0.1:9/hook")
    sent = fresh_merchant.webhooks.send_test()
    log = fresh_merchant.webhooks.get(sent.id)
    event = fresh_merchant.events.get(sent.id)
    retried = fresh_merchant.webhooks.retry(sent.id)
    rotated = fresh_merchant.webhooks.rotate_secret()

    assert config.webhook_url == "http://127.0.0.1:9/hook"
    assert "secret" not in repr(config).replace("webhook_secret=<redacted>", "")
    assert log.event == "webhook.test" and log.payload["event"] == "webhook.test"
    assert event.deliveries[0].id == sent.id  # the event id is the log id
    assert retried.status == "pending"
    assert rotated.webhook_secret != config.webhook_secret
    assert [w.id for w in fresh_merchant.webhooks.iter()] == [sent.id]


def test_async_client(api_url):
    async def scenario() -> tuple[Order, Payment, list[Order], int]:
        async with AsyncGateway(base_url=api_url) as anonymous:
            merchant = await anonymous.merchants.sign_up(
                "Async", f"async-{uuid.uuid4().hex[:12]}@example.test", "correct horse"
            )
            client = anonymous.with_credentials(merchant.api_key, merchant.api_secret)
            orders = await asyncio.gather(*(client.orders.create(amount=300) for _ in range(3)))
            payment = await client.payments.create(orders[0].id, "upi", vpa="a@okaxis")
            listed = [order async for order in client.orders.iter(page_size=2)]
            with pytest.raises(NotFoundError):
                await client.payments.get("pay_AAAAAAAAAAAAAAAA")
            health = await client.health()
            return orders[0], payment, listed, health["status_code"]

    # In a thread of its own: the session's Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        order, payment, listed, health = pool.submit(asyncio.run, scenario()).result()

    assert payment.order_id == order.id and payment.vpa == "a@okaxis"
    assert len(listed) == 3 and order.id in {o.id for o in listed}
    assert health == 200


def test_credentials_from_the_environment(api_url, monkeypatch):
    monkeypatch.setenv("GATEWAY_API_KEY", "key_test_abc123")
    monkeypatch.setenv("GATEWAY_API_SECRET", "secret_test_xyz789")
    monkeypatch.setenv("GATEWAY_API_URL", api_url)
    with Gateway() as client:
        assert client.orders.list(limit=1).limit == 1
