"""Every page at desktop width and at 360 px: nothing runs off the side, every input has a
label, axe-core finds no WCAG 2.1 AA violation, focus is visible. With DASHBOARD_SCREENSHOTS=1 each page is kept in test-artifacts/."""

import os

import pytest
from accessibility import axe_violations

pytestmark = pytest.mark.browser

KEEP_SCREENSHOTS = os.environ.get("DASHBOARD_SCREENSHOTS") == "1"

UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter((el) => el.type !== 'hidden')
  .filter((el) => el.labels.length === 0 && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby'))
  .map((el) => el.outerHTML)"""

OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const offenders = [...document.querySelectorAll('body *')].filter((el) => {
    if (el.closest('pre, .table-wrap')) return false;  // these scroll inside themselves
    const box = el.getBoundingClientRect();
    return box.width > 0 && (box.right > width + 1 || box.left < -1);
  });
  return {scroll: document.documentElement.scrollWidth, width,
          offenders: offenders.slice(0, 5).map((el) => el.outerHTML.slice(0, 160))};
}"""


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def populate(stack) -> dict[str, str]:
    """Enough data for every page to look as it does for a busy merchant."""
    payments = [stack.create_payment(amount=amount, status="success")
                for amount in (49900, 125000, 7500, 1999900)]  # fmt: skip
    stack.create_payment(amount=24900, status="failed", method="card")
    stack.create_payment(amount=310000)
    for amount in range(11):
        stack.create_payment(amount=10000 + amount * 1234, status="success", method="card")
    headers = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}
    stack.api("POST", f"/api/v1/payments/{payments[1]['id']}/refunds", headers,
              json={"amount": 25000, "reason": "Size exchange"})  # fmt: skip
    log_id = None
    stack.db.execute(
        "SELECT set_default_webhook_url(id, 'http://127.0.0.1:9/hook') FROM merchants WHERE is_test"
    )
    for outcome in ("success", "failed", "pending"):
        response = stack.api("POST", "/api/v1/webhooks/test", headers)
        if response.status_code != 201:
            break
        log_id = response.json()["id"]
        stack.db.execute(
            "UPDATE webhook_logs SET status = %(status)s,"
            " attempts = CASE WHEN %(status)s = 'failed' THEN 5 ELSE 1 END,"
            " response_code = CASE WHEN %(status)s = 'success' THEN 200 ELSE 503 END,"
            " last_attempt_at = now(),"
            " next_retry_at = CASE WHEN %(status)s = 'pending' THEN now() + interval '1 minute' END"
            " WHERE id = %(id)s",
            {"status": outcome, "id": log_id},
        )
    return {"payment_id": payments[1]["id"], "log_id": log_id or "none"}


def check_page(page, name: str, save_screenshots) -> None:
    assert page.evaluate(UNLABELLED_CONTROLS) == [], name
    assert axe_violations(page) == [], name  # WCAG 2.1 AA, as axe-core checks it
    page.set_viewport_size({"width": 360, "height": 740})
    assert axe_violations(page) == [], f"{name} at 360 px"  # narrow: more regions scroll
    overflow = page.evaluate(OVERFLOWING)
    assert overflow["scroll"] <= overflow["width"], (name, overflow)
    assert overflow["offenders"] == [], (name, overflow)
    page.set_viewport_size({"width": 1280, "height": 900})
    if KEEP_SCREENSHOTS:
        save_screenshots(page, f"page-{name}")


def test_every_page_fits_360px_and_labels_its_inputs(
    stack, page, login_in_browser, save_screenshots
):
    ids = populate(stack)
    base = stack.dashboard_url
    page.goto(f"{base}/login")
    check_page(page, "login", save_screenshots)
    page.goto(f"{base}/signup")
    check_page(page, "signup", save_screenshots)
    page.click(tid("signup-button"))  # empty form: the errors must fit too
    check_page(page, "signup-errors", save_screenshots)
    login_in_browser(page)
    for name, path in [
        ("overview", "/dashboard"),
        ("transactions", "/dashboard/transactions"),
        ("transactions-page-2", "/dashboard/transactions?offset=10"),
        ("payment", f"/dashboard/transactions/{ids['payment_id']}"),
        ("webhooks", "/dashboard/webhooks"),
        ("webhook-log", f"/dashboard/webhooks/logs/{ids['log_id']}"),
        ("docs", "/dashboard/docs"),
        ("not-found", "/dashboard/nothing-here"),
    ]:
        if name == "webhook-log" and ids["log_id"] == "none":
            continue
        page.goto(f"{base}{path}")
        check_page(page, name, save_screenshots)
    page.goto(f"{base}/dashboard/transactions/{ids['payment_id']}")
    page.fill(tid("refund-amount-input"), "99999")
    page.click(tid("refund-button"))
    check_page(page, "payment-refund-error", save_screenshots)


def test_keyboard_focus_is_visible(stack, page):
    page.goto(f"{stack.dashboard_url}/login")
    page.wait_for_function("document.activeElement.id === 'email'")  # autofocus
    first_focusable = page.evaluate(
        "document.querySelector('a[href], button, input:not([type=hidden])').className"
    )
    assert first_focusable == "skip-link"
    page.focus(".skip-link")
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # shown when focused
    for selector in (tid("email-input"), tid("password-input"), tid("login-button"), ".skip-link"):
        page.locator(selector).focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focus by keyboard, so :focus-visible applies
        outline = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, s.outlineWidth]; })()"
        )
        assert outline[0] != "none" and outline[1] != "0px", (selector, outline)


def test_login_page_uses_the_contracts_ids(stack, page):
    page.goto(f"{stack.dashboard_url}/login")
    form = page.locator(tid("login-form"))
    assert form.locator(tid("email-input")).get_attribute("placeholder") == "Email"
    assert form.locator(tid("password-input")).get_attribute("type") == "password"
    assert form.locator(tid("login-button")).is_visible()


def test_wrong_password_in_the_browser(stack, page, login_in_browser, expect):
    stack.sign_up(email="owner@acme.test", password="correct horse")
    page.goto(f"{stack.dashboard_url}/login")
    page.fill(tid("email-input"), "owner@acme.test")
    page.fill(tid("password-input"), "wrong horse")
    page.click(tid("login-button"))
    expect(page.locator(tid("login-error"))).to_contain_text("do not match")
    assert page.url == f"{stack.dashboard_url}/login"
    login_in_browser(page, email="owner@acme.test", password="correct horse")
    assert page.locator(tid("merchant-name")).inner_text() == "Acme Stores"


def test_sign_up_in_the_browser_then_log_in_again(stack, page, login_in_browser):
    page.goto(f"{stack.dashboard_url}/login")
    page.click(tid("signup-link"))
    page.fill(tid("name-input"), "Kulfi Corner")
    page.fill(tid("email-input"), "hello@kulfi.test")
    page.fill(tid("password-input"), "pista kulfi 7")
    page.click(tid("signup-button"))
    page.wait_for_url(f"{stack.dashboard_url}/dashboard")
    assert page.locator(tid("api-key")).inner_text().startswith("key_live_")
    page.click(tid("logout-button"))
    page.wait_for_url(f"{stack.dashboard_url}/login")
    assert page.locator(tid("flash-message")).inner_text() == "You have logged out."
    page.goto(f"{stack.dashboard_url}/dashboard")
    assert page.url == f"{stack.dashboard_url}/login"
    login_in_browser(page, email="hello@kulfi.test", password="pista kulfi 7")
    assert page.locator(tid("merchant-name")).inner_text() == "Kulfi Corner"


def test_session_cookie_as_the_browser_holds_it(stack, logged_in_page):
    cookies = logged_in_page.context.cookies()
    assert [cookie["name"] for cookie in cookies] == ["gw_session"]
    cookie = cookies[0]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert "secret" not in cookie["value"]
    assert logged_in_page.evaluate("document.cookie") == ""
