"""/docs and /redoc render with no network at all: their assets come from the API itself."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture
def offline_page(browser):
    """A page that may reach only loopback; every other request is aborted and recorded."""
    context = browser.new_context()
    refused: list[str] = []

    def only_loopback(route):
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(f"{route.request.resource_type} {route.request.url}")
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    page = context.new_page()
    yield page, refused
    context.close()


def test_swagger_ui_shows_the_operations_offline(offline_page, api_url: str):
    page, refused = offline_page
    page.goto(f"{api_url}/docs")
    page.locator(".opblock").first.wait_for(timeout=20_000)
    assert page.locator(".opblock").count() >= 20
    assert page.locator(".opblock-summary-path", has_text="/api/v1/payments").count() >= 1
    assert refused == []


def test_redoc_shows_the_operations_offline(offline_page, api_url: str):
    page, refused = offline_page
    page.goto(f"{api_url}/redoc")
    page.get_by_role("heading", name="Payment Gateway API").first.wait_for(timeout=30_000)
    assert page.get_by_text("/api/v1/payments").count() >= 1
    # Only ReDoc's own "powered by" logo points outside; a missing image changes nothing.
    assert refused in ([], ["image https://cdn.redoc.ly/redoc/logo-mini.svg"])


def test_one_authorize_in_swagger_ui_is_enough_for_try_it_out(offline_page, api_url: str):
    """The key and the secret are asked for in one form with one Authorize button; pressing
    it stores both headers, and an authenticated GET tried out gets 200, not 401."""
    page, _ = offline_page
    page.goto(f"{api_url}/docs")
    page.locator("button.btn.authorize").first.click()
    dialog = page.locator(".modal-ux")
    inputs = dialog.locator("input")
    assert inputs.count() == 2
    inputs.nth(0).fill("key_test_abc123")
    inputs.nth(1).fill("secret_test_xyz789")
    authorize = dialog.locator("button.authorize", has_text="Authorize")
    assert authorize.count() == 1
    authorize.first.click()
    dialog.locator("button.btn-done").first.click()

    operation = page.locator("#operations-orders-list_orders")
    operation.locator(".opblock-summary").click()
    operation.locator(".try-out__btn").click()
    operation.locator(".execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=20_000)
    assert status.inner_text().strip() == "200"
