"""The home page: credentials and totals equal what the API reports."""

import re

import pytest

from shared.money import format_inr


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def text_of(html: str, test_id: str) -> str:
    match = re.search(rf'data-test-id="{test_id}"[^>]*>([^<]*)<', html)
    assert match, f"no {test_id} on the page"
    return match.group(1).strip()


def make_payments(stack) -> None:
    """3 successful (₹500, ₹250, ₹1,234), 1 failed, 2 pending."""
    for amount in (50000, 25000, 123400):
        stack.create_payment(amount=amount, status="success")
    stack.create_payment(amount=99900, status="failed")
    stack.create_payment(amount=10000)
    stack.create_payment(amount=20000, method="card")


def test_stats_equal_what_the_api_reports(stack, logged_in_client):
    make_payments(stack)
    reported = stack.api(
        "GET", "/api/v1/payments/stats", {"X-Api-Key": "key_test_abc123",
                                          "X-Api-Secret": "secret_test_xyz789"}
    ).json()  # fmt: skip
    assert reported["total_transactions"] == 6
    assert reported["total_amount"] == 198400

    html = logged_in_client.get("/dashboard").text
    assert text_of(html, "total-transactions") == "6"
    assert text_of(html, "total-amount") == format_inr(198400) == "₹1,984.00"
    assert text_of(html, "success-rate") == f"{reported['success_rate']:.2f}%" == "50.00%"


def test_stats_are_zero_for_a_new_merchant(stack, login_over_http):
    make_payments(stack)
    stack.sign_up(email="new@shop.test", password="new merchant")
    html = login_over_http("new@shop.test", "new merchant").get("/dashboard").text
    assert text_of(html, "total-transactions") == "0"
    assert text_of(html, "total-amount") == "₹0.00"
    assert text_of(html, "success-rate") == "0.00%"
    assert "pay_" not in html


@pytest.mark.browser
def test_dashboard_shows_credentials_and_live_stats(stack, logged_in_page, expect):
    page = logged_in_page
    make_payments(stack)
    page.reload()
    assert page.locator(tid("dashboard")).is_visible()
    credentials = page.locator(tid("api-credentials"))
    assert credentials.locator(tid("api-key")).inner_text() == "key_test_abc123"
    assert credentials.locator(tid("api-secret")).inner_text() == "secret_test_xyz789"
    stats = page.locator(tid("stats-container"))
    assert stats.locator(tid("total-transactions")).inner_text() == "6"
    assert stats.locator(tid("total-amount")).inner_text() == "₹1,984.00"
    assert stats.locator(tid("success-rate")).inner_text() == "50.00%"
    expect(page.locator(tid("recent-payment-row"))).to_have_count(5)


@pytest.mark.browser
def test_copy_button_copies_the_key(stack, chromium, login_in_browser, expect):
    context = chromium.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        login_in_browser(page)
        page.click(tid("copy-api-secret"))
        expect(page.locator(tid("copy-api-secret"))).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == "secret_test_xyz789"
    finally:
        context.close()
