"""The checkout page and SDK against the real API and payment worker.

Needs two fixtures from the root conftest:
- `api_url`: base URL (no trailing slash) of a running API whose payment worker is running in
  TEST_MODE with TEST_PAYMENT_SUCCESS=true and a short TEST_PROCESSING_DELAY, and whose public
  endpoints answer CORS requests from any origin (the checkout runs on a random loopback port);
- `test_order`: a fresh order of the seeded test merchant, the 201 body of
  `POST /api/v1/orders` (`{"id", "amount", "currency", "status": "created", ...}`).
The failed-payment test also uses `failing_api_url` (the same, with TEST_PAYMENT_SUCCESS=false)
when the root conftest provides it, and is skipped otherwise.
"""

import json
import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from checkout.app import create_app
from checkout.demo import create_demo_app
from checkout.settings import CheckoutSettings, DemoSettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MERCHANT_HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
NEXT_YEAR = f"{(datetime.now(UTC).year + 1) % 100:02d}"
LAST_YEAR = f"{(datetime.now(UTC).year - 1) % 100:02d}"
SETTLE_SECONDS = 30  # worker delay plus the page's 2 s polling, with room to spare
RAW_CODES = re.compile(r"\b[A-Z]+_[A-Z_]+\b")


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def call_api(method: str, url: str, body: dict | None = None, headers: dict | None = None):
    """(status, parsed JSON body) of one request to the real API."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback API under test
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def wait_for_payment(api_url: str, payment_id: str) -> dict:
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        status, payment = call_api("GET", f"{api_url}/api/v1/payments/{payment_id}/public")
        assert status == 200, payment
        if payment["status"] != "pending" or time.monotonic() > deadline:
            return payment
        time.sleep(0.25)


def rupees(paise: int) -> str:
    whole, fraction = divmod(paise, 100)
    digits = str(whole)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        head = ",".join(re.findall(r"\d{1,2}", head[::-1]))[::-1]
        digits = f"{head},{tail}"
    return f"₹{digits}.{fraction:02d}"


@pytest.fixture(scope="session")
def live_checkout_site(api_url: str, start_server) -> str:
    return start_server(create_app(CheckoutSettings(host="127.0.0.1", port=0, api_url=api_url)))


def open_checkout(page, site: str, order_id: str) -> None:
    page.goto(f"{site}/checkout?order_id={order_id}")
    page.locator(f'{tid("checkout-container")}[aria-busy="false"]').wait_for(state="attached")


def pay_with_upi(page, vpa: str) -> None:
    page.click(tid("method-upi"))
    page.fill(tid("vpa-input"), vpa)
    page.click(f"{tid('upi-form')} {tid('pay-button')}")


def pay_with_card(page, number: str, expiry: str, cvv: str) -> None:
    page.click(tid("method-card"))
    page.fill(tid("card-number-input"), number)
    page.fill(tid("expiry-input"), expiry)
    page.fill(tid("cvv-input"), cvv)
    page.fill(tid("cardholder-name-input"), "Asha Rao")
    page.click(f"{tid('card-form')} {tid('pay-button')}")


def shown_error(page) -> str:
    page.locator(tid("error-state")).wait_for(state="visible", timeout=SETTLE_SECONDS * 1000)
    text = page.inner_text(tid("error-message"))
    assert text
    assert not RAW_CODES.search(text), f"raw error code shown to the shopper: {text}"
    return text


def test_order_summary_shows_the_real_order(page, live_checkout_site, test_order):
    open_checkout(page, live_checkout_site, test_order["id"])
    assert page.inner_text(tid("order-amount")) == rupees(test_order["amount"])
    assert page.inner_text(tid("order-id")) == test_order["id"]
    assert page.inner_text("#merchant-name") == "Test Merchant"


def test_upi_payment_succeeds(page, live_checkout_site, api_url, test_order):
    open_checkout(page, live_checkout_site, test_order["id"])
    pay_with_upi(page, "shopper@okaxis")
    assert page.inner_text(tid("processing-message")) == "Processing payment..."
    page.locator(tid("success-state")).wait_for(state="visible", timeout=SETTLE_SECONDS * 1000)
    payment_id = page.inner_text(tid("payment-id"))
    assert re.fullmatch(r"pay_[A-Za-z0-9]{16}", payment_id)

    payment = wait_for_payment(api_url, payment_id)
    assert payment["status"] == "success"
    assert payment["method"] == "upi"
    assert payment["order_id"] == test_order["id"]
    _, order = call_api("GET", f"{api_url}/api/v1/orders/{test_order['id']}/public")
    assert order["status"] == "paid"


@pytest.mark.parametrize(
    ("number", "cvv", "network"),
    [
        ("4111 1111 1111 1111", "123", "visa"),
        ("5555 5555 5555 4444", "123", "mastercard"),
        ("3782 822463 10005", "1234", "amex"),
        ("6522 0000 0000 0006", "123", "rupay"),
    ],
)
def test_card_payment_succeeds_for_each_network(
    page, live_checkout_site, api_url, test_order, number, cvv, network
):
    open_checkout(page, live_checkout_site, test_order["id"])
    pay_with_card(page, number, f"12/{NEXT_YEAR}", cvv)
    page.locator(tid("success-state")).wait_for(state="visible", timeout=SETTLE_SECONDS * 1000)
    payment_id = page.inner_text(tid("payment-id"))

    status, payment = call_api(
        "GET", f"{api_url}/api/v1/payments/{payment_id}", headers=MERCHANT_HEADERS
    )
    assert status == 200
    assert payment["status"] == "success"
    assert payment["card_network"] == network
    assert payment["card_last4"] == re.sub(r"\D", "", number)[-4:]


@pytest.mark.parametrize(
    ("method", "details", "code", "words"),
    [
        ("upi", {"vpa": "shopper@ok.axis"}, "INVALID_VPA", "UPI ID"),
        (
            "card",
            {"number": "4111111111111112", "expiry": f"12/{NEXT_YEAR}", "cvv": "123"},
            "INVALID_CARD",
            "card number",
        ),
        (
            "card",
            {"number": "4111111111111111", "expiry": f"01/{LAST_YEAR}", "cvv": "123"},
            "EXPIRED_CARD",
            "expired",
        ),
    ],
)
def test_page_and_api_refuse_the_same_mistakes(
    page, live_checkout_site, api_url, test_order, method, details, code, words
):
    """What the page refuses in words, the API refuses with the matching code."""
    open_checkout(page, live_checkout_site, test_order["id"])
    if method == "upi":
        pay_with_upi(page, details["vpa"])
        body = {"order_id": test_order["id"], "method": "upi", "vpa": details["vpa"]}
    else:
        pay_with_card(page, details["number"], details["expiry"], details["cvv"])
        month, year = details["expiry"].split("/")
        body = {
            "order_id": test_order["id"],
            "method": "card",
            "card": {
                "number": details["number"],
                "expiry_month": month,
                "expiry_year": year,
                "cvv": details["cvv"],
                "holder_name": "Asha Rao",
            },
        }
    assert words in shown_error(page)

    status, answer = call_api("POST", f"{api_url}/api/v1/payments/public", body)
    assert status == 400
    assert answer["error"]["code"] == code


def test_an_order_paid_elsewhere_meanwhile_is_refused_in_words(
    page, live_checkout_site, api_url, test_order
):
    open_checkout(page, live_checkout_site, test_order["id"])
    status, other = call_api(
        "POST",
        f"{api_url}/api/v1/payments/public",
        {"order_id": test_order["id"], "method": "upi", "vpa": "other@okaxis"},
    )
    assert status == 201
    assert wait_for_payment(api_url, other["id"])["status"] == "success"

    pay_with_upi(page, "shopper@okaxis")
    assert "already been paid" in shown_error(page)

    page.reload()
    page.locator(tid("order-unavailable")).wait_for(state="visible")
    assert "already been paid" in page.inner_text(tid("order-unavailable-message"))
    assert page.locator(tid("payment-methods")).is_hidden()


def test_an_unknown_order_shows_a_message(page, live_checkout_site):
    open_checkout(page, live_checkout_site, "order_NoSuchOrder00000")
    page.locator(tid("order-unavailable")).wait_for(state="visible")
    assert "couldn't find this order" in page.inner_text(tid("order-unavailable-message"))
    assert page.locator(tid("payment-methods")).is_hidden()


def test_a_failed_payment_can_be_retried(page, request, start_server):
    try:
        failing_api_url = request.getfixturevalue("failing_api_url")
    except pytest.FixtureLookupError:
        pytest.skip("needs the root conftest's failing_api_url (TEST_PAYMENT_SUCCESS=false)")
    site = start_server(
        create_app(CheckoutSettings(host="127.0.0.1", port=0, api_url=failing_api_url))
    )
    status, order = call_api(
        "POST", f"{failing_api_url}/api/v1/orders", {"amount": 50000}, MERCHANT_HEADERS
    )
    assert status == 201
    open_checkout(page, site, order["id"])
    pay_with_upi(page, "shopper@okaxis")
    assert "declined" in shown_error(page)
    assert page.inner_text(f"{tid('error-state')} h2") == "Payment Failed"

    page.click(tid("retry-button"))
    assert page.locator(tid("upi-form")).is_visible()
    assert page.input_value(tid("vpa-input")) == "shopper@okaxis"
    page.click(f"{tid('upi-form')} {tid('pay-button')}")
    assert "declined" in shown_error(page)


def test_paying_inside_the_sdk_calls_on_success_with_the_real_payment_id(
    page, merchant_site, live_checkout_site, api_url, test_order
):
    page.goto(merchant_site(live_checkout_site, test_order["id"]))
    page.evaluate("gateway.open()")
    frame = page.frame_locator(tid("payment-iframe"))
    frame.locator(tid("method-upi")).click()
    frame.locator(tid("vpa-input")).fill("shopper@okaxis")
    frame.locator(f"{tid('upi-form')} {tid('pay-button')}").click()
    page.wait_for_function("calls.length >= 2", timeout=SETTLE_SECONDS * 1000)

    calls = page.evaluate("calls")
    assert calls[0][0] == "success"
    assert calls[1] == ["close"]
    payment = wait_for_payment(api_url, calls[0][1]["paymentId"])
    assert payment["status"] == "success"
    assert payment["order_id"] == test_order["id"]
    assert page.locator(tid("payment-modal")).count() == 0


def test_demo_shop_creates_a_real_order_and_is_paid(
    page, api_url, live_checkout_site, start_server
):
    demo = start_server(
        create_demo_app(
            DemoSettings(
                host="127.0.0.1",
                port=0,
                api_url=api_url,
                checkout_url=live_checkout_site,
                api_key=MERCHANT_HEADERS["X-Api-Key"],
                api_secret=MERCHANT_HEADERS["X-Api-Secret"],
            )
        )
    )
    page.goto(demo)
    page.click(tid("demo-pay-button"))
    frame = page.frame_locator(tid("payment-iframe"))
    frame.locator(tid("order-amount")).filter(has_text="₹500.00").wait_for()
    frame.locator(tid("method-upi")).click()
    frame.locator(tid("vpa-input")).fill("shopper@okaxis")
    frame.locator(f"{tid('upi-form')} {tid('pay-button')}").click()

    result = page.locator(tid("demo-result"))
    result.filter(has_text="Payment successful").wait_for(timeout=SETTLE_SECONDS * 1000)
    payment_id = result.inner_text().rsplit(" ", 1)[-1]
    status, payment = call_api(
        "GET", f"{api_url}/api/v1/payments/{payment_id}", headers=MERCHANT_HEADERS
    )
    assert status == 200
    assert payment["status"] == "success"
    assert payment["amount"] == 50000
