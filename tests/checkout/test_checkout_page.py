"""The hosted checkout page (services/checkout/README.md#the-page) in Chromium, against the real API
and payment worker."""

import json
import os
import re
import secrets
import urllib.request
from datetime import UTC, datetime

import httpx
import psycopg
import pytest

from checkout.app import create_app
from checkout.config import CheckoutSettings

pytestmark = pytest.mark.slow  # the session's API and payment worker processes

NEXT_YEAR = f"{(datetime.now(UTC).year + 1) % 100:02d}"
LAST_YEAR = f"{(datetime.now(UTC).year - 1) % 100:02d}"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
SETTLE_MS = 30_000  # the worker's delay plus the page's 2 s polling, with room to spare
RAW_CODES = re.compile(r"\b[A-Z]+_[A-Z_]+\b")  # INVALID_VPA and friends
PAYMENTS_PATH = "/api/v1/payments/public"


# Every data-test-id the checkout page must have (services/checkout/README.md#the-page).
CONTRACT_TEST_IDS = [
    "checkout-container",
    "order-summary",
    "order-amount",
    "order-id",
    "payment-methods",
    "method-upi",
    "method-card",
    "upi-form",
    "vpa-input",
    "pay-button",
    "card-form",
    "card-number-input",
    "expiry-input",
    "cvv-input",
    "cardholder-name-input",
    "processing-state",
    "processing-message",
    "success-state",
    "payment-id",
    "success-message",
    "error-state",
    "error-message",
    "retry-button",
]


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def open_checkout(page, checkout_site: str, order_id: str | None, query: str = "") -> None:
    url = f"{checkout_site}/checkout"
    if order_id is not None:
        url += f"?order_id={order_id}{query}"
    page.goto(url)
    page.locator(f'{tid("checkout-container")}[aria-busy="false"]').wait_for(state="attached")


def pay_with_upi(page, vpa: str) -> None:
    page.click(tid("method-upi"))
    page.fill(tid("vpa-input"), vpa)
    page.click(f"{tid('upi-form')} {tid('pay-button')}")


def fill_card(page, number: str, expiry: str, cvv: str, holder: str = "Asha Rao") -> None:
    page.click(tid("method-card"))
    page.fill(tid("card-number-input"), number)
    page.fill(tid("expiry-input"), expiry)
    page.fill(tid("cvv-input"), cvv)
    page.fill(tid("cardholder-name-input"), holder)


def pay_with_card(page, number: str, expiry: str, cvv: str, holder: str = "Asha Rao") -> None:
    fill_card(page, number, expiry, cvv, holder)
    page.click(f"{tid('card-form')} {tid('pay-button')}")


def error_text(page) -> str:
    page.locator(tid("error-state")).wait_for(state="visible", timeout=SETTLE_MS)
    text = page.locator(tid("error-message")).inner_text()
    assert text, "the error state shows no message"
    assert not RAW_CODES.search(text), f"raw error code shown to the shopper: {text}"
    return text


# Each input's inline message, beside it.
FIELD_ERRORS = {
    "vpa-input": "vpa-error",
    "card-number-input": "card-number-error",
    "expiry-input": "expiry-error",
    "cvv-input": "cvv-error",
    "cardholder-name-input": "cardholder-name-error",
}


def inline_error(page, field: str) -> str:
    """The message beside `field`, with the form on screen."""
    page.locator(f'{tid(field)}[aria-invalid="true"]').wait_for(state="visible", timeout=SETTLE_MS)
    text = page.inner_text(tid(FIELD_ERRORS[field]))
    assert text, f"no message beside {field}"
    assert not RAW_CODES.search(text), f"raw error code shown to the shopper: {text}"
    return text


def refused_then_retried(page, form: str, field: str, typed: dict[str, str]) -> tuple[str, str]:
    """After the API refused the payment: "Payment Failed" with the reason, then "Try again"
    back to `form` with everything typed kept and `field` marked, focused, its reason beside it.
    Returns (the error state's message, the message beside the field)."""
    reason = error_text(page)
    assert page.inner_text(f"{tid('error-state')} h2") == "Payment Failed"
    page.click(tid("retry-button"))
    assert page.locator(tid(form)).is_visible()
    assert page.locator(tid("error-state")).is_hidden()
    for name, value in typed.items():
        assert page.input_value(tid(name)) == value, f"{name} was not kept"
    beside = inline_error(page, field)
    assert page.evaluate("document.activeElement.dataset.testId") == field
    return reason, beside


def form_error(page, form: str) -> str:
    """The form's own message (no single field at fault), with the form still on screen."""
    message = page.locator(f"{tid(form)} {tid('form-error')}")
    message.wait_for(state="visible", timeout=SETTLE_MS)
    text = message.inner_text()
    assert not RAW_CODES.search(text), f"raw error code shown to the shopper: {text}"
    assert page.locator(tid(form)).is_visible()
    assert page.locator(tid("error-state")).is_hidden()
    return text


def wait_for_success(page) -> str:
    """The payment id the success state shows."""
    page.locator(tid("success-state")).wait_for(state="visible", timeout=SETTLE_MS)
    return page.inner_text(tid("payment-id"))


def expect_payment_answer(page):
    """Context manager: `.value` is the API's answer to the page's next payment request."""
    return page.expect_response(
        lambda response: response.url.endswith(PAYMENTS_PATH) and response.request.method == "POST"
    )


def send_instead(page, **changes) -> None:
    """Let the page's payment requests reach the real API with `changes` merged into the body.

    The page's inputs reshape what is typed (digits only, MM/YY); this sends what they would
    not, so a test can show what the page says when the API refuses a payment for it.
    """

    def alter(route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        body = route.request.post_data_json
        for key, value in changes.items():
            body[key] = {**body[key], **value} if isinstance(value, dict) else value
        route.continue_(post_data=json.dumps(body))

    page.route(f"**{PAYMENTS_PATH}", alter)


# --- the page and its configuration -------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("test_mode", [True, False])
def test_test_mode_lists_the_test_values(page, start_server, api_url, test_order, test_mode):
    site = start_server(create_app(CheckoutSettings(api_url=api_url, test_mode=test_mode)))
    open_checkout(page, site, test_order["id"])
    hint = page.locator(tid("test-mode-hint"))
    if not test_mode:
        assert hint.is_hidden()
        return
    assert hint.is_visible()
    text = hint.inner_text()
    for value in (
        "success@razorpay",
        "failure@razorpay",
        "4000 0000 0000 0002",
        "4000 0000 0000 9995",
    ):
        assert value in text


def test_page_is_served_with_the_configured_api_url(checkout_site, api_url):
    with urllib.request.urlopen(f"{checkout_site}/checkout?order_id=x", timeout=10) as response:  # noqa: S310
        html = response.read().decode()
        policy = response.headers["content-security-policy"]
    assert f'<meta name="gateway-api-url" content="{api_url}">' in html
    assert f"connect-src {api_url}" in policy
    assert "frame-ancestors" not in policy  # merchants embed it


@pytest.mark.browser
def test_every_contract_test_id_is_on_the_page(page, checkout_site, test_order):
    open_checkout(page, checkout_site, test_order["id"])
    missing = [test_id for test_id in CONTRACT_TEST_IDS if page.locator(tid(test_id)).count() == 0]
    assert missing == []
    assert page.locator(f"{tid('upi-form')} {tid('pay-button')}").count() == 1
    assert page.locator(f"{tid('card-form')} {tid('pay-button')}").count() == 1
    assert page.get_attribute(tid("method-upi"), "data-method") == "upi"
    assert page.get_attribute(tid("method-card"), "data-method") == "card"
    assert page.get_attribute(tid("vpa-input"), "placeholder") == "username@bank"
    assert page.get_attribute(tid("expiry-input"), "placeholder") == "MM/YY"
    assert page.locator(tid("processing-message")).text_content() == "Processing payment..."
    assert (
        page.locator(tid("success-message")).text_content()
        == "Your payment has been processed successfully"
    )
    assert page.locator(f"{tid('error-state')} h2").text_content() == "Payment Failed"


@pytest.mark.browser
def test_every_input_has_a_label(page, checkout_site, test_order):
    open_checkout(page, checkout_site, test_order["id"])
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input')).filter(
            input => !(input.labels && input.labels.length) && !input.getAttribute('aria-label')
        ).map(input => input.id)"""
    )
    assert unlabelled == []


@pytest.mark.browser
def test_order_summary_shows_amount_order_and_merchant(page, checkout_site, gateway):
    order = gateway.create_order(amount=150050)
    open_checkout(page, checkout_site, order["id"])
    assert page.inner_text(tid("order-amount")) == "₹1,500.50"
    assert page.inner_text(tid("order-id")) == order["id"]
    assert page.inner_text("#merchant-name") == "Test Merchant"
    page.click(tid("method-upi"))
    assert page.inner_text(f"{tid('upi-form')} {tid('pay-button')}") == "Pay ₹1,500.50"


@pytest.mark.browser
def test_choosing_a_method_shows_its_form(page, checkout_site, test_order):
    open_checkout(page, checkout_site, test_order["id"])
    assert page.locator(tid("upi-form")).is_hidden()
    assert page.locator(tid("card-form")).is_hidden()
    page.click(tid("method-card"))
    assert page.locator(tid("card-form")).is_visible()
    assert page.locator(tid("upi-form")).is_hidden()
    assert page.get_attribute(tid("method-card"), "aria-pressed") == "true"
    assert page.evaluate("document.activeElement.dataset.testId") == "card-number-input"
    page.click(tid("method-upi"))
    assert page.locator(tid("upi-form")).is_visible()
    assert page.locator(tid("card-form")).is_hidden()
    assert page.get_attribute(tid("method-card"), "aria-pressed") == "false"


@pytest.mark.browser
def test_layout_does_not_jump_when_the_order_arrives(page, checkout_site, test_order):
    # A slow network: the order request is held in the browser until the test lets it go on.
    held = []
    page.route("**/api/v1/orders/*/public", lambda route: held.append(route))
    page.goto(f"{checkout_site}/checkout?order_id={test_order['id']}")
    page.wait_for_load_state("domcontentloaded")
    for _ in range(250):
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the page never asked for the order"
    before = page.locator(tid("payment-methods")).bounding_box()
    assert page.inner_text(tid("order-amount")) == ""  # still loading
    held[0].continue_()
    page.locator(tid("order-amount")).filter(has_text="₹500.00").wait_for()
    after = page.locator(tid("payment-methods")).bounding_box()
    assert before == after


# --- paying --------------------------------------------------------------------------------------


@pytest.mark.browser
def test_upi_payment_succeeds(page, checkout_site, gateway, test_order, payment_requests):
    open_checkout(page, checkout_site, test_order["id"])
    pay_with_upi(page, "shopper@okbank")
    assert page.locator(tid("processing-state")).is_visible()
    assert page.inner_text(tid("processing-message")) == "Processing payment..."
    payment_id = wait_for_success(page)
    assert page.inner_text(tid("success-message")) == "Your payment has been processed successfully"
    assert re.fullmatch(r"pay_[A-Za-z0-9]{16}", payment_id)
    assert page.locator(tid("payment-methods")).is_hidden()
    assert payment_requests == [
        {"order_id": test_order["id"], "method": "upi", "vpa": "shopper@okbank"}
    ]

    payment = gateway.payment(payment_id)
    assert payment["status"] == "success"
    assert payment["method"] == "upi"
    assert payment["vpa"] == "shopper@okbank"
    assert payment["order_id"] == test_order["id"]
    assert gateway.order(test_order["id"])["status"] == "paid"


@pytest.mark.browser
def test_a_payment_leaves_no_console_error_or_missing_file(page, checkout_site, test_order):
    """Nothing the page asks for is missing, the browser's own favicon request included."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )

    open_checkout(page, checkout_site, test_order["id"])
    pay_with_upi(page, "shopper@okbank")
    wait_for_success(page)
    page.wait_for_load_state("networkidle")

    assert problems == []


@pytest.mark.browser
@pytest.mark.parametrize(
    ("number", "typed_cvv", "shown_network", "network"),
    [
        ("4111 1111 1111 1111", "123", "Visa", "visa"),
        ("5555-5555-5555-4444", "123", "Mastercard", "mastercard"),
        ("378282246310005", "1234", "Amex", "amex"),
        ("6522 0000 0000 0006", "123", "RuPay", "rupay"),
        ("8172-0000-0000-0005", "123", "RuPay", "rupay"),
    ],
)
def test_card_payment_succeeds_for_each_network(
    page,
    checkout_site,
    gateway,
    test_order,
    payment_requests,
    number,
    typed_cvv,
    shown_network,
    network,
):
    open_checkout(page, checkout_site, test_order["id"])
    fill_card(page, number, f"12/{NEXT_YEAR}", typed_cvv)
    assert page.inner_text(tid("card-network")) == shown_network
    page.click(f"{tid('card-form')} {tid('pay-button')}")
    payment_id = wait_for_success(page)
    digits = re.sub(r"\D", "", number)
    assert payment_requests == [
        {
            "order_id": test_order["id"],
            "method": "card",
            "card": {
                "number": digits,
                "expiry_month": "12",
                "expiry_year": NEXT_YEAR,
                "cvv": typed_cvv,
                "holder_name": "Asha Rao",
            },
        }
    ]

    payment = gateway.payment(payment_id)
    assert payment["status"] == "success"
    assert payment["card_network"] == network
    assert payment["card_last4"] == digits[-4:]


@pytest.mark.browser
def test_card_number_is_grouped_and_network_shown_while_typing(page, checkout_site, test_order):
    open_checkout(page, checkout_site, test_order["id"])
    page.click(tid("method-card"))
    page.type(tid("card-number-input"), "3782822463")
    assert page.input_value(tid("card-number-input")) == "3782 822463"
    assert page.inner_text(tid("card-network")) == "Amex"
    page.fill(tid("card-number-input"), "")
    page.type(tid("card-number-input"), "51")
    assert page.inner_text(tid("card-network")) == "Mastercard"
    page.type(tid("expiry-input"), "1230")
    assert page.input_value(tid("expiry-input")) == "12/30"


@pytest.mark.browser
def test_failed_payment_shows_the_error_and_retry_pays_again(
    page, failing_checkout_site, failing_gateway, payment_requests
):
    order = failing_gateway.create_order()
    open_checkout(page, failing_checkout_site, order["id"])
    pay_with_upi(page, "shopper@okbank")
    assert "declined" in error_text(page)
    assert page.inner_text(f"{tid('error-state')} h2") == "Payment Failed"
    assert page.locator(tid("retry-button")).is_visible()

    page.click(tid("retry-button"))
    assert page.locator(tid("upi-form")).is_visible()
    assert page.locator(tid("error-state")).is_hidden()
    assert page.input_value(tid("vpa-input")) == "shopper@okbank"
    page.fill(tid("vpa-input"), "other@okbank")
    with expect_payment_answer(page) as answer:
        page.click(f"{tid('upi-form')} {tid('pay-button')}")
    assert page.locator(tid("processing-state")).is_visible()
    assert "declined" in error_text(page)
    assert [body["vpa"] for body in payment_requests] == ["shopper@okbank", "other@okbank"]
    second = failing_gateway.payment(answer.value.json()["id"])
    assert (second["status"], second["error_code"]) == ("failed", "PAYMENT_FAILED")


@pytest.mark.browser
@pytest.mark.parametrize(
    ("number", "says", "never"),
    [("4000 0000 0000 9995", "not enough money", "declined"),
     ("4000 0000 0000 0002", "declined this card", "enough money")],
)  # fmt: skip
def test_a_failed_card_payment_says_why_it_failed(
    page, checkout_site, test_order, number, says, never
):
    # The payment's error_code is the reason (docs/api.md's test values): a shopper short of
    # funds is told so, not that the bank declined, and can choose what to do next.
    open_checkout(page, checkout_site, test_order["id"])
    pay_with_card(page, number, f"12/{NEXT_YEAR}", "123")
    text = error_text(page)
    assert says in text and never not in text
    assert page.inner_text(f"{tid('error-state')} h2") == "Payment Failed"


# --- mistakes: the page advises, the API decides --------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(
    "vpa", ["invalid-vpa", "shopper", "shop per@okbank", "shopper@ok.bank", ""]
)
def test_a_vpa_the_api_refuses_shows_payment_failed_then_the_marked_field(
    page, checkout_site, test_order, payment_requests, vpa
):
    open_checkout(page, checkout_site, test_order["id"])
    with expect_payment_answer(page) as answer:
        pay_with_upi(page, vpa)
    assert answer.value.status == 400
    assert answer.value.json()["error"]["code"] == "INVALID_VPA"
    assert [body["vpa"] for body in payment_requests] == [vpa]
    reason, beside = refused_then_retried(page, "upi-form", "vpa-input", {"vpa-input": vpa})
    assert "UPI ID" in reason
    assert "UPI ID" in beside


@pytest.mark.browser
@pytest.mark.parametrize(
    ("number", "expiry", "cvv", "field", "words"),
    [
        ("4111 1111 1111 1112", "12/{next}", "123", "card-number-input", "card number"),
        ("4111 1111 1111", "12/{next}", "123", "card-number-input", "card number"),
        ("4111 1111 1111 1111", "12/{last}", "123", "expiry-input", "expired"),
        ("4111 1111 1111 1111", "13/{next}", "123", "expiry-input", "MM/YY"),
        ("4111 1111 1111 1111", "12/{next}", "12", "cvv-input", "3-digit"),
        ("3782 822463 10005", "12/{next}", "12", "cvv-input", "4-digit"),
    ],
)
def test_card_details_the_api_refuses_show_payment_failed_then_the_marked_field(
    page, checkout_site, test_order, payment_requests, number, expiry, cvv, field, words
):
    open_checkout(page, checkout_site, test_order["id"])
    expiry = expiry.format(next=NEXT_YEAR, last=LAST_YEAR)
    with expect_payment_answer(page) as answer:
        pay_with_card(page, number, expiry, cvv)
    assert answer.value.status == 400
    assert len(payment_requests) == 1
    typed = {
        "card-number-input": number,
        "expiry-input": expiry,
        "cvv-input": cvv,
        "cardholder-name-input": "Asha Rao",
    }
    reason, beside = refused_then_retried(page, "card-form", field, typed)
    assert words in reason
    assert words in beside


@pytest.mark.browser
def test_an_empty_card_form_is_sent_and_the_refusal_points_at_the_card_number(
    page, checkout_site, test_order, payment_requests
):
    open_checkout(page, checkout_site, test_order["id"])
    page.click(tid("method-card"))
    with expect_payment_answer(page) as answer:
        page.click(f"{tid('card-form')} {tid('pay-button')}")
    assert answer.value.status == 400
    assert len(payment_requests) == 1
    refused_then_retried(page, "card-form", "card-number-input", {"card-number-input": ""})


@pytest.mark.browser
def test_the_pages_own_checks_never_keep_a_payment_from_being_sent(
    page, checkout_site, gateway, test_order, payment_requests
):
    """A field marked while typed (here a name the page wants and the API does not need) does
    not stop the form: the API takes the payment."""
    open_checkout(page, checkout_site, test_order["id"])
    fill_card(page, "4111 1111 1111 1111", f"12/{NEXT_YEAR}", "123", holder="")
    page.focus(tid("cardholder-name-input"))
    page.focus(tid("cvv-input"))
    with expect_payment_answer(page) as answer:
        page.click(f"{tid('card-form')} {tid('pay-button')}")
    assert answer.value.status == 201
    wait_for_success(page)
    assert gateway.payment(answer.value.json()["id"])["status"] == "success"


@pytest.mark.browser
@pytest.mark.parametrize(
    ("method", "details", "code", "words", "field"),
    [
        ("upi", {"vpa": "shopper@ok.axis"}, "INVALID_VPA", "UPI ID", "vpa-input"),
        ("upi", {"vpa": "asha okaxis"}, "INVALID_VPA", "UPI ID", "vpa-input"),
        (
            "card",
            {"number": "4111111111111112", "expiry": f"12/{NEXT_YEAR}", "cvv": "123"},
            "INVALID_CARD",
            "card number",
            "card-number-input",
        ),
        (
            "card",
            {"number": "4111111111111111", "expiry": f"01/{LAST_YEAR}", "cvv": "123"},
            "EXPIRED_CARD",
            "expired",
            "expiry-input",
        ),
    ],
)
def test_page_and_api_refuse_the_same_mistakes(
    page, checkout_site, gateway, test_order, method, details, code, words, field
):
    """What the page refuses in words, the API refuses with the matching code."""
    open_checkout(page, checkout_site, test_order["id"])
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
    assert words in refused_then_retried(page, f"{method}-form", field, {})[1]

    status, answer = gateway.call("POST", PAYMENTS_PATH, body)
    assert status == 400
    assert answer["error"]["code"] == code


@pytest.mark.browser
def test_a_field_is_checked_when_the_shopper_leaves_it(page, checkout_site, test_order):
    open_checkout(page, checkout_site, test_order["id"])
    page.click(tid("method-card"))
    page.fill(tid("card-number-input"), "4111 1111 1111 1112")
    page.focus(tid("expiry-input"))
    assert "isn't valid" in page.inner_text(tid("card-number-error"))
    page.fill(tid("card-number-input"), "4111 1111 1111 1111")
    assert page.inner_text(tid("card-number-error")) == ""
    assert page.get_attribute(tid("card-number-input"), "aria-invalid") is None


# --- what the server says, in words --------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        ("INVALID_VPA", 400, "UPI ID"),
        ("NOT_FOUND_ERROR", 404, "couldn't find this order"),
    ],
)
def test_api_refusals_are_shown_in_words(
    page, checkout_site, test_order, random_order_id, code, status, words
):
    open_checkout(page, checkout_site, test_order["id"])
    # What the API refuses and the page never sends: a malformed VPA, an order it does not know.
    send_instead(
        page,
        **{
            "INVALID_VPA": {"vpa": "shopper@ok.bank"},
            "NOT_FOUND_ERROR": {"order_id": random_order_id},
        }[code],
    )
    with expect_payment_answer(page) as answer:
        pay_with_upi(page, "shopper@okbank")
    assert answer.value.status == status
    assert answer.value.json()["error"]["code"] == code
    if code == "INVALID_VPA":  # refused: "Payment Failed", then the field to fix
        message = refused_then_retried(page, "upi-form", "vpa-input", {})[0]
    else:  # no order to pay: nothing the shopper can fix here
        page.locator(tid("order-unavailable")).wait_for(state="visible")
        message = page.inner_text(tid("order-unavailable-message"))
    assert words in message
    assert code not in message


@pytest.mark.browser
@pytest.mark.parametrize(
    ("sent", "code", "words", "field"),
    [
        ({"number": "4111111111111112"}, "INVALID_CARD", "card number", "card-number-input"),
        ({"cvv": "1"}, "INVALID_CARD", "security code", "cvv-input"),
        ({"expiry_year": LAST_YEAR}, "EXPIRED_CARD", "expiry date", "expiry-input"),
    ],
)
def test_card_errors_from_the_api_point_back_to_the_field(
    page, checkout_site, test_order, sent, code, words, field
):
    open_checkout(page, checkout_site, test_order["id"])
    send_instead(page, card=sent)
    with expect_payment_answer(page) as answer:
        pay_with_card(page, "4111 1111 1111 1111", f"12/{NEXT_YEAR}", "123")
    assert answer.value.json()["error"]["code"] == code
    reason, beside = refused_then_retried(page, "card-form", field, {"cvv-input": "123"})
    assert words in reason
    assert words in beside


@pytest.mark.browser
def test_an_order_paid_elsewhere_meanwhile_is_refused_in_words(
    page, checkout_site, gateway, test_order, save_screenshots
):
    """A refusal like any other (services/checkout/README.md#the-page): "Payment Failed" with
    the reason in words, and "Try again" back to the same form."""
    open_checkout(page, checkout_site, test_order["id"])
    assert gateway.pay(test_order["id"])["status"] == "success"

    with expect_payment_answer(page) as answer:
        pay_with_upi(page, "a@b")
    assert answer.value.status == 400
    assert answer.value.json()["error"] == {
        "code": "BAD_REQUEST_ERROR",
        "description": "Order already paid",
    }
    message = error_text(page)
    assert "already been paid" in message
    assert "not been charged again" in message
    assert page.inner_text(f"{tid('error-state')} h2") == "Payment Failed"
    assert page.locator(tid("order-unavailable")).is_hidden()
    if os.environ.get("CHECKOUT_SCREENSHOTS"):
        save_screenshots(page, "checkout-order-paid-meanwhile")  # to look at by eye

    page.click(tid("retry-button"))
    assert page.locator(tid("upi-form")).is_visible()
    assert page.input_value(tid("vpa-input")) == "a@b"
    assert page.evaluate("document.activeElement.dataset.testId") == "vpa-input"

    # Loaded again, the order is paid: nothing to pay, so no form (not a refused payment).
    page.reload()
    page.locator(tid("order-unavailable")).wait_for(state="visible")
    assert "already been paid" in page.inner_text(tid("order-unavailable-message"))
    assert page.locator(tid("payment-methods")).is_hidden()
    assert page.locator(tid("error-state")).is_hidden()


@pytest.mark.browser
def test_embedded_an_order_paid_elsewhere_meanwhile_is_posted_as_paid(
    page, merchant_site, checkout_site, gateway, test_order
):
    """The merchant's page learns the order is paid, as for a payment that lost the race:
    payment_failed with error.code ORDER_ALREADY_PAID (no paymentId: none was created)."""
    page.goto(merchant_site(checkout_site, "order_unused"))
    parent = page.evaluate("location.origin")
    order_id = test_order["id"]
    src = f"{checkout_site}/checkout?order_id={order_id}&embedded=true&parent_origin={parent}"
    page.set_content(EMBEDDING_PAGE.replace("SRC", src))
    frame = page.frame_locator("#checkout")
    frame.locator(tid("method-upi")).wait_for(state="visible")
    assert gateway.pay(order_id)["status"] == "success"

    frame.locator(tid("method-upi")).click()
    frame.locator(tid("vpa-input")).fill("a@b")
    frame.locator(f"{tid('upi-form')} {tid('pay-button')}").click()
    frame.locator(tid("error-state")).wait_for(state="visible", timeout=SETTLE_MS)
    assert "already been paid" in frame.locator(tid("error-message")).inner_text()
    assert frame.locator(tid("retry-button")).is_visible()
    page.wait_for_timeout(300)

    assert page.evaluate("received") == [
        {
            "origin": checkout_site,
            "data": {
                "type": "payment_failed",
                "data": {
                    "orderId": order_id,
                    "error": {"code": "ORDER_ALREADY_PAID", "description": "Order already paid"},
                },
            },
        }
    ]


@pytest.mark.browser
def test_an_api_that_lost_its_database_is_shown_in_words(page, checkout_with_cuttable_database):
    site = checkout_with_cuttable_database
    order = site.gateway.create_order()
    open_checkout(page, site.url, order["id"])
    site.cut_database()
    with expect_payment_answer(page) as answer:
        pay_with_upi(page, "shopper@okbank")
    assert answer.value.status == 503
    assert answer.value.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert "couldn't reach the payment service" in form_error(page, "upi-form")


@pytest.mark.browser
def test_a_shopper_who_went_offline_is_told_in_words(page, checkout_site, test_order):
    open_checkout(page, checkout_site, test_order["id"])
    page.context.set_offline(True)
    pay_with_upi(page, "shopper@okbank")
    assert "couldn't reach the payment service" in form_error(page, "upi-form")


# --- orders that cannot be paid ------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(
    ("order", "words"),
    [
        ("unknown", "couldn't find this order"),
        ("paid", "already been paid"),
        ("missing", "missing its order"),
    ],
)
def test_an_order_that_cannot_be_paid_shows_a_message_instead_of_a_form(
    page, checkout_site, gateway, random_order_id, order, words
):
    order_id = None
    if order == "unknown":
        order_id = random_order_id
    elif order == "paid":
        order_id = gateway.create_order()["id"]
        assert gateway.pay(order_id)["status"] == "success"
    open_checkout(page, checkout_site, order_id)
    unavailable = page.locator(tid("order-unavailable"))
    unavailable.wait_for(state="visible")
    assert words in page.inner_text(tid("order-unavailable-message"))
    assert page.locator(tid("payment-methods")).is_hidden()
    assert page.locator(tid("upi-form")).is_hidden()
    assert page.locator(tid("card-form")).is_hidden()


@pytest.mark.browser
@pytest.mark.parametrize(
    "order_id", ["order_AAAA%2FAAAAAAAAAAA", "order_%3Cscript%3E1234567", "order_short", "12345"]
)
def test_a_malformed_link_says_it_is_not_valid(page, checkout_site, order_id):
    """No request can find such an order, so there is nothing to retry and nothing to check
    in the shopper's connection."""
    open_checkout(page, checkout_site, order_id)
    page.locator(tid("order-unavailable")).wait_for(state="visible")
    assert page.inner_text("#unavailable-title") == "This payment link isn't valid"
    message = page.inner_text(tid("order-unavailable-message"))
    assert "connection" not in message
    assert page.locator(tid("reload-order-button")).is_hidden()
    assert page.locator(tid("payment-methods")).is_hidden()


def order_of_new_merchant(gateway, name: str) -> str:
    """The id of an order of a merchant signed up as `name`, with an address of its own."""
    email = f"owner-{secrets.token_hex(4)}@names.test"
    status, merchant = gateway.call(
        "POST", "/api/v1/merchants", {"name": name, "email": email, "password": "long enough 1"}
    )
    assert status == 201, merchant
    headers = {"X-Api-Key": merchant["api_key"], "X-Api-Secret": merchant["api_secret"]}
    order = httpx.post(f"{gateway.url}/api/v1/orders", json={"amount": 50000}, headers=headers)
    return order.json()["id"]


@pytest.mark.browser
@pytest.mark.parametrize(
    ("name", "avatar"),
    [("😀 Smile Store", "😀"), ("🇮🇳 Chai Stall", "🇮🇳"), ("E\u0301mile Books", "E\u0301")],
)
def test_the_merchant_avatar_is_a_whole_character(page, checkout_site, gateway, name, avatar):
    """The first grapheme, never half an emoji or a letter without its accent."""
    open_checkout(page, checkout_site, order_of_new_merchant(gateway, name))
    page.locator("#merchant-name").filter(has_text=name).wait_for()
    assert page.text_content("#merchant-avatar") == avatar


@pytest.mark.browser
def test_a_merchant_name_cannot_disguise_itself_with_direction_controls(
    page, checkout_site, gateway, live_database_url
):
    """A right-to-left override makes "\u202eyaP nozamA" read "Amazon Pay": the shopper must see
    the name's characters in their own order, here "yaP nozamA". The API refuses such a name at
    sign-up (docs/api.md#shown-text); one stored before it did is written here directly."""
    order_id = order_of_new_merchant(gateway, "yaP nozamA")
    with psycopg.connect(live_database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE merchants SET name = %s"
            " WHERE id = (SELECT merchant_id FROM orders WHERE id = %s)",
            ("\u202eyaP nozamA", order_id),
        )
    open_checkout(page, checkout_site, order_id)
    page.locator("#merchant-name").filter(has_text="nozamA").wait_for()
    assert page.text_content("#merchant-name") == "yaP nozamA"
    assert page.text_content("#merchant-avatar") == "Y"
    assert page.title().endswith("to yaP nozamA")


@pytest.mark.browser
def test_the_sdks_frame_url_opened_in_a_tab_is_the_hosted_page(
    page, checkout_site, test_order, random_order_id
):
    """Opened with "Open frame in new tab", or the iframe's URL shared as a link: no merchant's
    page is there to return to, so no "Return to merchant" button that does nothing."""
    query = "&embedded=true&parent_origin=http://127.0.0.1:9"
    open_checkout(page, checkout_site, random_order_id, query)
    page.locator(tid("order-unavailable")).wait_for(state="visible")
    assert page.locator(tid("return-button")).is_hidden()
    assert page.evaluate("document.documentElement.classList.contains('is-embedded')") is False
    open_checkout(page, checkout_site, test_order["id"], query)
    page.keyboard.press("Escape")
    pay_with_upi(page, "shopper@okbank")
    wait_for_success(page)


@pytest.mark.browser
def test_an_unreachable_api_offers_to_try_again(page, checkout_site_without_api, random_order_id):
    open_checkout(page, checkout_site_without_api, random_order_id)
    page.locator(tid("order-unavailable")).wait_for(state="visible")
    assert "couldn't load this order" in page.inner_text(tid("order-unavailable-message"))
    assert page.locator(tid("reload-order-button")).is_visible()


# --- embedded mode --------------------------------------------------------------------------------

EMBEDDING_PAGE = """<!doctype html><html><body><script>
window.received = [];
window.addEventListener('message', function (event) {
  received.push({origin: event.origin, data: event.data});
});
</script><iframe id="checkout" src="SRC" style="width:420px;height:700px"></iframe></body></html>"""


@pytest.mark.browser
@pytest.mark.parametrize("parent_origin", ["match", "other", "none", "wildcard"])
def test_embedded_page_posts_only_to_the_parent_origin_it_was_given(
    page, merchant_site, checkout_site, test_order, parent_origin
):
    # Any loopback page of a different origin will do as the parent.
    page.goto(merchant_site(checkout_site, "order_unused"))
    parent = page.evaluate("location.origin")
    order_id = test_order["id"]
    query = {
        "match": f"&embedded=true&parent_origin={parent}",
        "other": "&embedded=true&parent_origin=http://127.0.0.1:9",
        "none": "&embedded=true",
        "wildcard": "&embedded=true&parent_origin=*",
    }[parent_origin]
    src = f"{checkout_site}/checkout?order_id={order_id}{query}"
    page.set_content(EMBEDDING_PAGE.replace("SRC", src))
    frame = page.frame_locator("#checkout")
    frame.locator(tid("method-upi")).click()
    frame.locator(tid("vpa-input")).fill("shopper@okbank")
    frame.locator(f"{tid('upi-form')} {tid('pay-button')}").click()
    frame.locator(tid("success-state")).wait_for(state="visible", timeout=SETTLE_MS)
    page.wait_for_timeout(300)

    received = page.evaluate("received")
    if parent_origin == "match":
        payment_id = frame.locator(tid("payment-id")).inner_text()
        assert received == [
            {
                "origin": checkout_site,
                "data": {
                    "type": "payment_success",
                    "data": {"paymentId": payment_id, "orderId": order_id, "status": "success"},
                },
            }
        ]
    else:
        assert received == []


# --- how it looks -----------------------------------------------------------------------------------


def reach_state(page, request, state: str) -> None:
    checkout_site = request.getfixturevalue("checkout_site")
    if state == "unavailable":
        open_checkout(page, checkout_site, request.getfixturevalue("random_order_id"))
        page.locator(tid("order-unavailable")).wait_for(state="visible")
        return
    if state == "error":
        site = request.getfixturevalue("failing_checkout_site")
        order = request.getfixturevalue("failing_gateway").create_order()
        open_checkout(page, site, order["id"])
        pay_with_upi(page, "shopper@okbank")
        page.locator(tid("error-state")).wait_for(state="visible", timeout=SETTLE_MS)
        return
    open_checkout(page, checkout_site, request.getfixturevalue("test_order")["id"])
    if state == "methods":
        return
    if state == "upi-form":
        page.click(tid("method-upi"))
    elif state == "card-form":
        fill_card(page, "4111 1111 1111 1111", f"12/{NEXT_YEAR}", "123")
    elif state == "processing":
        page.route(f"**{PAYMENTS_PATH}", lambda route: None)  # a network that never answers
        pay_with_upi(page, "shopper@okbank")
    elif state == "success":
        pay_with_upi(page, "shopper@okbank")
        wait_for_success(page)


@pytest.mark.browser
@pytest.mark.parametrize(
    "state",
    ["methods", "upi-form", "card-form", "processing", "success", "error", "unavailable"],
)
def test_each_state_fits_a_360px_screen(page, request, save_screenshots, state):
    page.set_viewport_size(PHONE)
    reach_state(page, request, state)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    overflowing = page.evaluate(
        """() => Array.from(document.querySelectorAll('main *')).filter(node => {
            const box = node.getBoundingClientRect();
            return box.width > 0 && (box.right > window.innerWidth + 0.5 || box.left < -0.5);
        }).map(node => node.dataset.testId || node.className || node.tagName)"""
    )
    assert overflowing == []
    if os.environ.get("CHECKOUT_SCREENSHOTS"):
        save_screenshots(page, f"checkout-{state}")  # to look at by eye
        page.set_viewport_size(DESKTOP)


@pytest.mark.browser
def test_keyboard_focus_is_visible(page, checkout_site, test_order):
    open_checkout(page, checkout_site, test_order["id"])
    page.focus(tid("method-upi"))
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    outline = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    assert outline[0] != "none"
    assert outline[1] != "0px"
    page.keyboard.press("Enter")
    focused = page.evaluate("document.activeElement.dataset.testId")
    assert focused == "vpa-input"
    shadow = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert shadow != "none"


# --- the gateway's own refusals: too many attempts, a payment that lost the race ------------------


@pytest.fixture
def own_api(start_service, start_server):
    """start(**env) -> (API url, checkout site url): an API of its own (no payment worker:
    payments stay pending unless a test finalises them in SQL) and a checkout page on it."""

    def start(**env: str) -> tuple[str, str]:
        api = start_service("api", **env)
        settings = CheckoutSettings(api_url=api.url)
        return api.url, start_server(create_app(settings))

    return start


def create_order_on(api: str) -> dict:
    headers = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
    response = httpx.post(f"{api}/api/v1/orders", json={"amount": 50000}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.browser
def test_too_many_attempts_keep_the_shopper_on_the_form_with_a_wait(page, own_api):
    api, site = own_api(RATE_LIMIT_PUBLIC_PAYMENTS_PER_ORDER="1/minute")
    order = create_order_on(api)
    open_checkout(page, site, order["id"])
    with expect_payment_answer(page):
        pay_with_upi(page, "shopper@okbank")
    page.locator(tid("processing-state")).wait_for(state="visible")

    page.reload()  # the shopper tries again while the first payment is pending
    page.locator(f'{tid("checkout-container")}[aria-busy="false"]').wait_for(state="attached")
    with expect_payment_answer(page) as answer:
        pay_with_upi(page, "shopper@okbank")

    assert answer.value.status == 429
    message = form_error(page, "upi-form")
    assert "Too many payment attempts" in message
    assert re.search(r"wait (\d+ seconds|\d+ minutes)", message), message


@pytest.mark.browser
def test_a_payment_that_lost_to_another_fails_saying_the_order_is_paid(page, own_api, db):
    """As when the API refuses a payment for an order paid meanwhile: "Payment Failed" with
    the reason in words, not a panel of its own."""
    api, site = own_api()
    order = create_order_on(api)
    open_checkout(page, site, order["id"])
    with expect_payment_answer(page) as answer:
        pay_with_upi(page, "shopper@okbank")
    page.locator(tid("processing-state")).wait_for(state="visible")

    # As the payment worker leaves it when another payment of the order succeeded first.
    db.execute("UPDATE orders SET status = 'paid' WHERE id = %s", (order["id"],))
    db.execute(
        "UPDATE payments SET status = 'failed', error_code = 'ORDER_ALREADY_PAID',"
        " error_description = 'Order already paid' WHERE id = %s",
        (answer.value.json()["id"],),
    )

    message = error_text(page)
    assert "already been paid" in message
    assert "not been charged again" in message
    assert page.inner_text(f"{tid('error-state')} h2") == "Payment Failed"
    assert page.locator(tid("retry-button")).is_visible()
    assert page.locator(tid("order-unavailable")).is_hidden()
