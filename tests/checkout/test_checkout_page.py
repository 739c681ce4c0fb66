"""The hosted checkout page (CONTRACT §9) in Chromium, against the fake gateway."""

import os
import re
import urllib.request
from datetime import UTC, datetime

import pytest

NEXT_YEAR = f"{(datetime.now(UTC).year + 1) % 100:02d}"
LAST_YEAR = f"{(datetime.now(UTC).year - 1) % 100:02d}"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
RAW_CODES = re.compile(r"\b[A-Z]+_[A-Z_]+\b")  # INVALID_VPA and friends


# Every data-test-id CONTRACT §9 requires on the checkout page.
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
    page.locator(tid("error-state")).wait_for(state="visible")
    text = page.locator(tid("error-message")).inner_text()
    assert text, "the error state shows no message"
    assert not RAW_CODES.search(text), f"raw error code shown to the shopper: {text}"
    return text


# --- the page and its configuration -------------------------------------------------------------


def test_page_is_served_with_the_configured_api_url(checkout_site, fake_gateway):
    with urllib.request.urlopen(f"{checkout_site}/checkout?order_id=x", timeout=10) as response:  # noqa: S310
        html = response.read().decode()
        policy = response.headers["content-security-policy"]
    assert f'<meta name="gateway-api-url" content="{fake_gateway.url}">' in html
    assert f"connect-src {fake_gateway.url}" in policy
    assert "frame-ancestors" not in policy  # merchants embed it


@pytest.mark.browser
def test_every_contract_test_id_is_on_the_page(page, checkout_site, fake_gateway):
    open_checkout(page, checkout_site, fake_gateway.add_order())
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
def test_every_input_has_a_label(page, checkout_site, fake_gateway):
    open_checkout(page, checkout_site, fake_gateway.add_order())
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input')).filter(
            input => !(input.labels && input.labels.length) && !input.getAttribute('aria-label')
        ).map(input => input.id)"""
    )
    assert unlabelled == []


@pytest.mark.browser
def test_order_summary_shows_amount_order_and_merchant(page, checkout_site, fake_gateway):
    order_id = fake_gateway.add_order(amount=150050)
    open_checkout(page, checkout_site, order_id)
    assert page.inner_text(tid("order-amount")) == "₹1,500.50"
    assert page.inner_text(tid("order-id")) == order_id
    assert page.inner_text("#merchant-name") == "Test Merchant"
    page.click(tid("method-upi"))
    assert page.inner_text(f"{tid('upi-form')} {tid('pay-button')}") == "Pay ₹1,500.50"


@pytest.mark.browser
def test_choosing_a_method_shows_its_form(page, checkout_site, fake_gateway):
    open_checkout(page, checkout_site, fake_gateway.add_order())
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
def test_layout_does_not_jump_when_the_order_arrives(page, checkout_site, fake_gateway):
    fake_gateway.slow_order_seconds = 0.8
    order_id = fake_gateway.add_order()
    page.goto(f"{checkout_site}/checkout?order_id={order_id}")
    page.wait_for_load_state("domcontentloaded")
    before = page.locator(tid("payment-methods")).bounding_box()
    assert page.inner_text(tid("order-amount")) == ""  # still loading
    page.locator(tid("order-amount")).filter(has_text="₹500.00").wait_for()
    after = page.locator(tid("payment-methods")).bounding_box()
    assert before == after


# --- paying --------------------------------------------------------------------------------------


@pytest.mark.browser
def test_upi_payment_succeeds(page, checkout_site, fake_gateway):
    order_id = fake_gateway.add_order()
    open_checkout(page, checkout_site, order_id)
    pay_with_upi(page, "shopper@okbank")
    assert page.locator(tid("processing-state")).is_visible()
    assert page.inner_text(tid("processing-message")) == "Processing payment..."
    page.locator(tid("success-state")).wait_for(state="visible")
    assert page.inner_text(tid("success-message")) == "Your payment has been processed successfully"
    payment_id = page.inner_text(tid("payment-id"))
    assert re.fullmatch(r"pay_[A-Za-z0-9]{16}", payment_id)
    assert payment_id in fake_gateway.payments
    assert fake_gateway.payment_requests == [
        {"order_id": order_id, "method": "upi", "vpa": "shopper@okbank"}
    ]
    assert page.locator(tid("payment-methods")).is_hidden()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("number", "typed_cvv", "network"),
    [
        ("4111 1111 1111 1111", "123", "Visa"),
        ("5555-5555-5555-4444", "123", "Mastercard"),
        ("378282246310005", "1234", "Amex"),
        ("6522 0000 0000 0006", "123", "RuPay"),
        ("8172-0000-0000-0005", "123", "RuPay"),
    ],
)
def test_card_payment_succeeds_for_each_network(
    page, checkout_site, fake_gateway, number, typed_cvv, network
):
    order_id = fake_gateway.add_order()
    open_checkout(page, checkout_site, order_id)
    fill_card(page, number, f"12/{NEXT_YEAR}", typed_cvv)
    assert page.inner_text(tid("card-network")) == network
    page.click(f"{tid('card-form')} {tid('pay-button')}")
    page.locator(tid("success-state")).wait_for(state="visible")
    assert fake_gateway.payment_requests == [
        {
            "order_id": order_id,
            "method": "card",
            "card": {
                "number": re.sub(r"\D", "", number),
                "expiry_month": "12",
                "expiry_year": NEXT_YEAR,
                "cvv": typed_cvv,
                "holder_name": "Asha Rao",
            },
        }
    ]


@pytest.mark.browser
def test_card_number_is_grouped_and_network_shown_while_typing(page, checkout_site, fake_gateway):
    open_checkout(page, checkout_site, fake_gateway.add_order())
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
def test_failed_payment_shows_the_error_and_retry_returns_to_the_form(
    page, checkout_site, fake_gateway
):
    open_checkout(page, checkout_site, fake_gateway.add_order())
    pay_with_upi(page, "fail@okbank")
    message = error_text(page)
    assert "declined" in message
    assert page.locator(tid("retry-button")).is_visible()

    page.click(tid("retry-button"))
    assert page.locator(tid("upi-form")).is_visible()
    assert page.locator(tid("error-state")).is_hidden()
    assert page.input_value(tid("vpa-input")) == "fail@okbank"
    page.fill(tid("vpa-input"), "shopper@okbank")
    page.click(f"{tid('upi-form')} {tid('pay-button')}")
    page.locator(tid("success-state")).wait_for(state="visible")
    assert len(fake_gateway.payment_requests) == 2


# --- mistakes caught before the request ---------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("vpa", ["shopper", "shop per@okbank", "shopper@ok.bank", ""])
def test_invalid_vpa_is_caught_in_the_page(page, checkout_site, fake_gateway, vpa):
    open_checkout(page, checkout_site, fake_gateway.add_order())
    pay_with_upi(page, vpa)
    assert "UPI ID" in error_text(page)
    assert fake_gateway.payment_requests == []
    page.click(tid("retry-button"))
    assert page.evaluate("document.activeElement.dataset.testId") == "vpa-input"
    assert page.get_attribute(tid("vpa-input"), "aria-invalid") == "true"
    assert page.inner_text(tid("vpa-error"))


@pytest.mark.browser
@pytest.mark.parametrize(
    ("number", "expiry", "cvv", "holder", "field", "words"),
    [
        ("4111 1111 1111 1112", "12/{next}", "123", "Asha Rao", "card-number-input", "card number"),
        ("4111 1111 1111", "12/{next}", "123", "Asha Rao", "card-number-input", "card number"),
        ("4111 1111 1111 1111", "12/{last}", "123", "Asha Rao", "expiry-input", "expired"),
        ("4111 1111 1111 1111", "13/{next}", "123", "Asha Rao", "expiry-input", "MM/YY"),
        ("378282246310005", "12/{next}", "123", "Asha Rao", "cvv-input", "4-digit"),
        ("4111 1111 1111 1111", "12/{next}", "12", "Asha Rao", "cvv-input", "3-digit"),
        ("4111 1111 1111 1111", "12/{next}", "123", " ", "cardholder-name-input", "name"),
    ],
)
def test_invalid_card_details_are_caught_in_the_page(
    page, checkout_site, fake_gateway, number, expiry, cvv, holder, field, words
):
    open_checkout(page, checkout_site, fake_gateway.add_order())
    pay_with_card(page, number, expiry.format(next=NEXT_YEAR, last=LAST_YEAR), cvv, holder)
    assert words in error_text(page)
    assert fake_gateway.payment_requests == []
    page.click(tid("retry-button"))
    assert page.locator(tid("card-form")).is_visible()
    assert page.evaluate("document.activeElement.dataset.testId") == field
    assert page.get_attribute(tid(field), "aria-invalid") == "true"


@pytest.mark.browser
def test_a_field_is_checked_when_the_shopper_leaves_it(page, checkout_site, fake_gateway):
    open_checkout(page, checkout_site, fake_gateway.add_order())
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
    ("status", "code", "description", "words"),
    [
        (400, "INVALID_VPA", "VPA format invalid", "UPI ID"),
        (400, "BAD_REQUEST_ERROR", "Order already paid", "already been paid"),
        (404, "NOT_FOUND_ERROR", "Order not found", "couldn't find this order"),
        (503, "SERVICE_UNAVAILABLE", "Database unavailable", "couldn't reach"),
        (500, "SOMETHING_NEW", "Unexpected", "Something went wrong"),
    ],
)
def test_api_errors_are_shown_in_words(
    page, checkout_site, fake_gateway, status, code, description, words
):
    open_checkout(page, checkout_site, fake_gateway.add_order())
    fake_gateway.forced_error = (status, code, description)
    pay_with_upi(page, "shopper@okbank")
    message = error_text(page)
    assert words in message
    assert code not in message


@pytest.mark.browser
@pytest.mark.parametrize(
    ("code", "description", "words", "field"),
    [
        ("INVALID_CARD", "Card validation failed", "card number", "card-number-input"),
        ("EXPIRED_CARD", "Card expiry date invalid", "expiry date", "expiry-input"),
    ],
)
def test_card_errors_from_the_api_point_back_to_the_field(
    page, checkout_site, fake_gateway, code, description, words, field
):
    open_checkout(page, checkout_site, fake_gateway.add_order())
    fake_gateway.forced_error = (400, code, description)
    pay_with_card(page, "4111 1111 1111 1111", f"12/{NEXT_YEAR}", "123")
    assert words in error_text(page)
    page.click(tid("retry-button"))
    assert page.evaluate("document.activeElement.dataset.testId") == field


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
    page, checkout_site, fake_gateway, order, words
):
    order_id = {
        "unknown": "order_DoesNotExist0000",
        "paid": fake_gateway.add_order(status="paid"),
        "missing": None,
    }[order]
    open_checkout(page, checkout_site, order_id)
    unavailable = page.locator(tid("order-unavailable"))
    unavailable.wait_for(state="visible")
    assert words in page.inner_text(tid("order-unavailable-message"))
    assert page.locator(tid("payment-methods")).is_hidden()
    assert page.locator(tid("upi-form")).is_hidden()
    assert page.locator(tid("card-form")).is_hidden()


@pytest.mark.browser
def test_an_unreachable_api_offers_to_try_again(page, checkout_site_without_api):
    open_checkout(page, checkout_site_without_api, "order_AnyOrder00000000")
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
    page, merchant_site, checkout_site, fake_gateway, parent_origin
):
    # Any loopback page of a different origin will do as the parent.
    page.goto(merchant_site(checkout_site, "order_unused"))
    parent = page.evaluate("location.origin")
    order_id = fake_gateway.add_order()
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
    frame.locator(tid("success-state")).wait_for(state="visible")
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


def reach_state(page, checkout_site, fake_gateway, state: str) -> None:
    if state == "unavailable":
        open_checkout(page, checkout_site, "order_DoesNotExist0000")
        page.locator(tid("order-unavailable")).wait_for(state="visible")
        return
    open_checkout(page, checkout_site, fake_gateway.add_order())
    if state == "methods":
        return
    if state == "upi-form":
        page.click(tid("method-upi"))
    elif state == "card-form":
        fill_card(page, "4111 1111 1111 1111", f"12/{NEXT_YEAR}", "123")
    elif state == "processing":
        page.route("**/api/v1/payments/public", lambda route: None)  # never answers
        pay_with_upi(page, "shopper@okbank")
    elif state == "success":
        pay_with_upi(page, "shopper@okbank")
        page.locator(tid("success-state")).wait_for(state="visible")
    elif state == "error":
        pay_with_upi(page, "fail@okbank")
        page.locator(tid("error-state")).wait_for(state="visible")


@pytest.mark.browser
@pytest.mark.parametrize(
    "state",
    ["methods", "upi-form", "card-form", "processing", "success", "error", "unavailable"],
)
def test_each_state_fits_a_360px_screen(page, checkout_site, fake_gateway, save_screenshots, state):
    page.set_viewport_size(PHONE)
    reach_state(page, checkout_site, fake_gateway, state)
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
def test_keyboard_focus_is_visible(page, checkout_site, fake_gateway):
    open_checkout(page, checkout_site, fake_gateway.add_order())
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
