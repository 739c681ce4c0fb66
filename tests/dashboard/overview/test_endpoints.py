"""The home page: credentials and totals equal what the API reports."""

import re

import pytest

from dashboard.rendering import duration
from shared.core.money import format_inr


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


def test_the_open_test_merchant_sees_a_banner(stack, logged_in_client, login_over_http):
    html = logged_in_client.get("/dashboard").text
    assert 'data-test-id="open-test-merchant-banner"' in html
    assert "accepts any password" in html

    stack.sign_up(email="own@shop.test", password="own merchant")
    own = login_over_http("own@shop.test", "own merchant").get("/dashboard").text
    assert 'data-test-id="open-test-merchant-banner"' not in own


def test_rotating_the_api_secret_shows_the_new_one_and_keeps_the_old_working(
    stack, logged_in_client, csrf_token
):
    page = logged_in_client.get("/dashboard").text
    assert text_of(page, "api-secret") == "secret_test_xyz789"

    rotated = logged_in_client.post(
        "/dashboard/rotate-api-secret", data={"csrf_token": csrf_token(page)}
    )
    assert rotated.status_code == 303
    shown = logged_in_client.get(rotated.headers["location"]).text

    new_secret = text_of(shown, "api-secret")
    assert new_secret.startswith("secret_test_") and new_secret != "secret_test_xyz789"
    assert 'data-test-id="new-api-secret-note"' in shown
    assert "New API secret generated" in shown
    # The API agrees, the old secret is in its grace period, and the session uses the new one.
    for secret in (new_secret, "secret_test_xyz789"):
        headers = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": secret}
        assert stack.api("GET", "/api/v1/orders", headers).status_code == 200
    again = logged_in_client.get("/dashboard").text
    assert text_of(again, "api-secret") == new_secret
    assert 'data-test-id="new-api-secret-note"' not in again  # shown once


def test_a_resent_rotation_form_rotates_the_api_secret_once(stack, logged_in_client, csrf_token):
    """A double click on "Rotate secret" (or the browser resending the form) rotated twice:
    the secret shown first was replaced at once. The form carries one Idempotency-Key, so the
    second send replays the first new secret (docs/idempotency.md)."""
    question = logged_in_client.get("/dashboard/rotate-api-secret").text
    form = question[question.index('action="/dashboard/rotate-api-secret"') :]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key, "the rotation form carries no idempotency key"
    data = {"csrf_token": csrf_token(question), "idempotency_key": key.group(1)}

    secrets_shown = []
    for _ in range(2):
        rotated = logged_in_client.post("/dashboard/rotate-api-secret", data=data)
        assert rotated.status_code == 303
        shown = logged_in_client.get(rotated.headers["location"]).text
        secrets_shown.append(text_of(shown, "api-secret"))

    assert secrets_shown[0] == secrets_shown[1] != "secret_test_xyz789"
    assert stack.db.execute("SELECT count(*) AS n FROM retired_api_secrets").fetchone()["n"] == 1
    # A new question is a new rotation.
    assert key.group(1) not in logged_in_client.get("/dashboard/rotate-api-secret").text


def test_rotating_without_the_csrf_token_is_refused(stack, logged_in_client):
    refused = logged_in_client.post("/dashboard/rotate-api-secret", data={})

    assert refused.status_code in (400, 403)
    headers = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
    assert stack.api("GET", "/api/v1/webhooks/config", headers).json()  # still the secret
    assert stack.db.execute("SELECT count(*) AS n FROM retired_api_secrets").fetchone()["n"] == 0


def test_rotating_asks_first_and_says_what_stops_working_when(stack, logged_in_client, csrf_token):
    # One click once rotated the secret with no question: after the grace, the demo shop and
    # every copied curl got 401 with no warning. A page, so it works without JavaScript.
    overview = logged_in_client.get("/dashboard").text
    link = re.search(
        r'<a [^>]*href="([^"]+)"[^>]*data-test-id="rotate-api-secret-button"', overview
    )
    assert link and link.group(1) == "/dashboard/rotate-api-secret"
    assert "keeps working for 24 hours" in overview

    question = logged_in_client.get(link.group(1))
    assert question.status_code == 200
    page = question.text
    assert text_of(page, "rotation-grace") == "24 hours"
    assert "401 AUTHENTICATION_ERROR" in page
    assert "key_test_abc123" in page  # the key id stays
    assert "demo shop switches to it by itself" in page  # the seeded merchant's make run
    assert 'data-test-id="confirm-rotate-api-secret-button"' in page
    assert 'href="/dashboard#api-credentials" data-test-id="cancel-rotate-api-secret"' in page
    # Asking changed nothing.
    assert stack.db.execute("SELECT count(*) AS n FROM retired_api_secrets").fetchone()["n"] == 0
    assert text_of(logged_in_client.get("/dashboard").text, "api-secret") == "secret_test_xyz789"

    forms = re.findall(r'<form method="post" action="([^"]+)"', page)
    assert forms == ["/logout", "/dashboard/rotate-api-secret"]
    rotated = logged_in_client.post(forms[1], data={"csrf_token": csrf_token(page)})
    assert rotated.status_code == 303
    assert text_of(logged_in_client.get("/dashboard").text, "api-secret") != "secret_test_xyz789"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(86400, "24 hours"), (3600, "1 hour"), (172800, "2 days"), (1800, "30 minutes"),
     (90, "90 seconds"), (1, "1 second")],
)  # fmt: skip
def test_the_grace_is_said_in_words(seconds, words):
    assert duration(seconds) == words


def test_a_merchant_on_test_keys_wears_a_test_keys_badge(stack, logged_in_client, login_over_http):
    # It said "Test mode" while make run's banner said "TEST_MODE: off" (the simulated bank).
    html = logged_in_client.get("/dashboard").text
    assert text_of(html, "test-keys-badge") == "Test keys"
    assert "Test mode" not in html

    stack.sign_up(email="live@shop.test", password="live merchant")
    live = login_over_http("live@shop.test", "live merchant").get("/dashboard").text
    assert 'data-test-id="test-keys-badge"' not in live


@pytest.mark.browser
def test_the_rotate_button_asks_then_replaces_the_secret_on_screen(stack, logged_in_page):
    page = logged_in_page
    assert page.locator(tid("open-test-merchant-banner")).is_visible()
    before = page.inner_text(tid("api-secret"))

    page.click(tid("rotate-api-secret-button"))
    page.locator(tid("rotate-api-secret-confirm")).wait_for(state="visible")
    page.click(tid("cancel-rotate-api-secret"))
    assert page.inner_text(tid("api-secret")) == before

    page.click(tid("rotate-api-secret-button"))
    assert "24 hours" in page.inner_text(tid("rotation-consequences"))
    page.click(tid("confirm-rotate-api-secret-button"))
    page.locator(tid("new-api-secret-note")).wait_for(state="visible")

    after = page.inner_text(tid("api-secret"))
    assert after != before and after.startswith("secret_test_")
