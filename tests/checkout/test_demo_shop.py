"""The demo shop as a newcomer sees it: the name it shows is the one the checkout says they pay,
and a declined payment is reported as declined, also after the checkout is closed."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from checkout.app import SDK_FILE
from checkout.config import DemoSettings
from checkout.demo import create_demo_app

MODAL = '[data-test-id="payment-modal"]'
IFRAME = '[data-test-id="payment-iframe"]'
SETTLE_MS = 30_000  # the worker's delay plus the page's 2 s polling, with room to spare
MERCHANT_HEADERS = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def declining_demo_site(start_server, failing_api_url: str, failing_checkout_site: str) -> str:
    """The demo shop on the API whose payments are all declined."""
    settings = DemoSettings(
        api_url=failing_api_url,
        checkout_url=failing_checkout_site,
        test_api_key=MERCHANT_HEADERS["X-Api-Key"],
        test_api_secret=MERCHANT_HEADERS["X-Api-Secret"],
    )
    return start_server(create_demo_app(settings))


def pay_by_upi(page) -> None:
    page.click('[data-test-id="demo-pay-button"]')
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="method-upi"]').click()
    frame.locator('[data-test-id="vpa-input"]').fill("shopper@okbank")
    frame.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()


def test_the_shop_and_the_checkout_name_the_same_merchant(page, demo_site):
    page.goto(demo_site)
    shop_name = page.locator(".shop-name").inner_text()
    page.click('[data-test-id="demo-pay-button"]')
    checkout_name = page.frame_locator(IFRAME).locator("#merchant-name")
    checkout_name.filter(has_text=shop_name).wait_for()
    assert shop_name == "Test Merchant"
    assert shop_name in page.title()


def test_a_declined_payment_is_reported_as_declined(page, declining_demo_site):
    page.goto(declining_demo_site)
    pay_by_upi(page)
    result = page.locator('[data-test-id="demo-result"]')
    result.filter(has_text="declined").wait_for(timeout=SETTLE_MS)
    assert page.frame_locator(IFRAME).locator('[data-test-id="error-state"]').is_visible()

    page.keyboard.press("Escape")
    page.locator(MODAL).wait_for(state="detached")
    text = result.inner_text()
    assert text.startswith("Your payment was declined")
    assert "closed before" not in text
    assert result.get_attribute("data-tone") == "error"
    assert page.locator('[data-test-id="demo-pay-button"]').is_enabled()


@pytest.mark.parametrize("how", ["close button", "Escape"])
def test_closing_the_checkout_gives_focus_back_to_the_pay_button(page, demo_site, how):
    """The demo disables its button while it creates the order, as many shops do: focus still
    comes back to it, not to the top of the page."""
    page.goto(demo_site)
    page.click('[data-test-id="demo-pay-button"]')
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="order-amount"]').filter(has_text="₹500.00").wait_for()
    if how == "Escape":
        page.keyboard.press("Escape")
    else:
        page.click('[data-test-id="close-modal-button"]')
    page.locator(MODAL).wait_for(state="detached")
    assert page.evaluate("document.activeElement.dataset.testId") == "demo-pay-button"


def test_try_again_after_a_declined_card_keeps_what_the_shopper_typed(page, declining_demo_site):
    """The CVV too: it lives only in the page's field, never stored, and retyping a whole card
    after a decline is what makes a shopper give up."""
    page.goto(declining_demo_site)
    page.click('[data-test-id="demo-pay-button"]')
    frame = page.frame_locator(IFRAME)
    typed = {
        "card-number-input": "4111 1111 1111 1111",
        "expiry-input": "12/39",
        "cvv-input": "123",
        "cardholder-name-input": "Asha Rao",
    }
    frame.locator('[data-test-id="method-card"]').click()
    for field, value in typed.items():
        frame.locator(f'[data-test-id="{field}"]').fill(value)
    frame.locator('[data-test-id="card-form"] [data-test-id="pay-button"]').click()
    frame.locator('[data-test-id="error-state"]').wait_for(timeout=SETTLE_MS)

    frame.locator('[data-test-id="retry-button"]').click()
    assert frame.locator('[data-test-id="card-form"]').is_visible()
    for field, value in typed.items():
        assert frame.locator(f'[data-test-id="{field}"]').input_value() == value, field


def order_in_checkout(page) -> str:
    src = page.locator(IFRAME).get_attribute("src")
    return parse_qs(urlsplit(src).query)["order_id"][0]


def test_closing_the_checkout_while_paying_never_charges_twice(page, demo_site, gateway):
    """A shopper who closes the checkout while the payment is processing, then presses Pay
    again, goes back to the same order: the payment they left may still succeed, and a new
    order would take their money a second time."""
    page.goto(demo_site)
    pay_by_upi(page)
    first = order_in_checkout(page)
    page.frame_locator(IFRAME).locator('[data-test-id="processing-state"]').wait_for()
    page.click('[data-test-id="close-modal-button"]')
    page.locator(MODAL).wait_for(state="detached")
    deadline = time.monotonic() + SETTLE_MS / 1000
    while gateway.order(first)["status"] != "paid" and time.monotonic() < deadline:
        time.sleep(0.2)

    page.click('[data-test-id="demo-pay-button"]')
    assert order_in_checkout(page) == first
    unavailable = page.frame_locator(IFRAME).locator('[data-test-id="order-unavailable"]')
    unavailable.filter(has_text="already been paid").wait_for()


# A checkout whose payment lost to an earlier one of the same order (the worker failed it
# ORDER_ALREADY_PAID), as the real page posts it.
LOST_RACE_CHECKOUT = """<!doctype html><script>
var params = new URLSearchParams(location.search);
window.parent.postMessage({type: 'payment_failed', data: {
  paymentId: 'pay_Second0000000001', orderId: params.get('order_id'),
  error: {code: 'ORDER_ALREADY_PAID', description: 'Order already paid'}
}}, params.get('parent_origin'));
</script>"""


def test_a_payment_that_lost_to_an_earlier_one_is_reported_paid(page, start_server, api_url):
    """A shopper who paid, closed the checkout while it processed and paid again sees the second
    payment fail ORDER_ALREADY_PAID: their order is paid, and they must not be told they were
    declined and should try again."""

    async def sdk(request: Request) -> Response:
        return Response(SDK_FILE.read_bytes(), media_type="text/javascript")

    async def checkout(request: Request) -> Response:
        return HTMLResponse(LOST_RACE_CHECKOUT)

    checkout_url = start_server(
        Starlette(routes=[Route("/checkout.js", sdk), Route("/checkout", checkout)])
    )
    settings = DemoSettings(
        api_url=api_url,
        checkout_url=checkout_url,
        test_api_key=MERCHANT_HEADERS["X-Api-Key"],
        test_api_secret=MERCHANT_HEADERS["X-Api-Secret"],
    )
    page.goto(start_server(create_demo_app(settings)))
    page.click('[data-test-id="demo-pay-button"]')
    result = page.locator('[data-test-id="demo-result"]')
    result.filter(has_text="already paid").wait_for()
    assert "declined" not in result.inner_text()
    assert "try again" not in result.inner_text().lower()
    first = order_in_checkout(page)

    # The next purchase is a new order.
    page.click('[data-test-id="close-modal-button"]')
    page.locator(MODAL).wait_for(state="detached")
    assert "already paid" in result.inner_text()
    page.click('[data-test-id="demo-pay-button"]')
    page.locator(IFRAME).wait_for(state="attached")
    assert order_in_checkout(page) != first
