"""axe-core's WCAG 2.1 AA rules find nothing on the hosted checkout and the demo shop, in every
state a shopper sees, at desktop width and at 360 px."""

import os

import pytest
from accessibility import axe_violations

from checkout.app import create_app
from checkout.config import CheckoutSettings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SETTLE_MS = 30_000
PHONE = {"width": 360, "height": 740}


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def check(page, state: str) -> None:
    assert axe_violations(page) == [], state
    desktop = page.viewport_size
    page.set_viewport_size(PHONE)
    assert axe_violations(page) == [], f"{state} at 360 px"
    page.set_viewport_size(desktop)


def test_the_hosted_checkout_in_every_state(page, checkout_site, gateway):
    order = gateway.create_order()
    page.goto(f"{checkout_site}/checkout?order_id={order['id']}")
    page.locator(tid("order-amount")).filter(has_text="₹500.00").wait_for()
    check(page, "checkout, UPI")
    page.click(tid("method-card"))
    check(page, "checkout, card")
    page.fill(tid("card-number-input"), "4111 1111 1111 1112")
    page.focus(tid("expiry-input"))  # leaving the field checks it
    page.wait_for_function(
        "document.querySelector('[data-test-id=\"card-number-error\"]').textContent !== ''"
    )
    check(page, "checkout, card errors")
    page.click(tid("method-upi"))
    page.fill(tid("vpa-input"), "shopper@okbank")
    page.locator(f"{tid('upi-form')} {tid('pay-button')}").click()
    page.locator(tid("success-state")).wait_for(timeout=SETTLE_MS)
    check(page, "checkout, paid")
    page.goto(f"{checkout_site}/checkout?order_id=order_AAAAAAAAAAAAAAAA")
    page.get_by_text("Order not found").wait_for()
    check(page, "checkout, unknown order")


def test_a_declined_payment_on_the_checkout(page, failing_checkout_site, failing_gateway):
    order = failing_gateway.create_order()
    page.goto(f"{failing_checkout_site}/checkout?order_id={order['id']}")
    page.click(tid("method-upi"))
    page.fill(tid("vpa-input"), "shopper@okbank")
    page.locator(f"{tid('upi-form')} {tid('pay-button')}").click()
    page.locator(tid("error-state")).wait_for(timeout=SETTLE_MS)
    check(page, "checkout, declined")


def test_the_demo_shop(page, demo_site):
    page.goto(demo_site)
    page.locator(tid("demo-pay-button")).wait_for()
    check(page, "demo shop")
    page.click(tid("demo-pay-button"))
    page.frame_locator(tid("payment-iframe")).locator(tid("order-amount")).wait_for()
    check(page, "demo shop, checkout open")
    page.keyboard.press("Escape")
    page.locator(tid("demo-result")).filter(has_text="closed").wait_for()
    check(page, "demo shop, checkout closed")


def test_a_refused_payment_a_bad_link_and_the_test_mode_hint(
    page, start_server, api_url, gateway, save_screenshots
):
    """The states this page gained: the test values' hint, "Payment Failed" for a payment the
    API refuses, the form it leads back to with the field marked, and a link that is not valid."""
    site = start_server(create_app(CheckoutSettings(api_url=api_url, test_mode=True)))
    order = gateway.create_order()
    page.goto(f"{site}/checkout?order_id={order['id']}")
    page.locator(tid("order-amount")).filter(has_text="₹500.00").wait_for()
    page.click(tid("method-upi"))
    check(page, "checkout, test mode hint")
    keep = os.environ.get("CHECKOUT_SCREENSHOTS")
    if keep:
        save_screenshots(page, "a11y-test-mode-hint")
    page.fill(tid("vpa-input"), "invalid-vpa")
    page.locator(f"{tid('upi-form')} {tid('pay-button')}").click()
    page.locator(tid("error-state")).wait_for(timeout=SETTLE_MS)
    check(page, "checkout, refused by the API")
    if keep:
        save_screenshots(page, "a11y-refused")
    page.click(tid("retry-button"))
    page.locator(f'{tid("vpa-input")}[aria-invalid="true"]').wait_for()
    check(page, "checkout, back to the marked field")
    if keep:
        save_screenshots(page, "a11y-retry-marked")
    page.goto(f"{site}/checkout?order_id=order_%3Cscript%3E")
    page.get_by_text("This payment link isn't valid").wait_for()
    check(page, "checkout, link not valid")
    if keep:
        save_screenshots(page, "a11y-invalid-link")
