"""The embeddable SDK, /checkout.js (services/checkout/README.md#embedded-mode-and-the-sdk)."""

import gzip
import subprocess
import urllib.request
from urllib.parse import quote, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from checkout.app import SDK_FILE

MODAL = '[data-test-id="payment-modal"]'
IFRAME = '[data-test-id="payment-iframe"]'
CLOSE = '[data-test-id="close-modal-button"]'


def fetch(url: str) -> tuple[bytes, dict]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test server
        return response.read(), dict(response.headers)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- the file ----------------------------------------------------------------------------------


def test_sdk_is_served_as_javascript_under_4_kb_gzipped(checkout_site):
    body, headers = fetch(f"{checkout_site}/checkout.js")
    assert body == SDK_FILE.read_bytes()
    assert headers["content-type"].startswith("text/javascript")
    assert len(gzip.compress(body, compresslevel=9)) < 4096


def test_commonjs_require_exports_the_class_without_a_global(node):
    script = (
        "const PaymentGateway = require(process.argv[1]);"
        "if (typeof PaymentGateway !== 'function') throw new Error('no class exported');"
        "if (PaymentGateway.name !== 'PaymentGateway') throw new Error('wrong export');"
        "if (typeof globalThis.PaymentGateway !== 'undefined') throw new Error('leaked a global');"
        "const gateway = new PaymentGateway({key: 'key_test_abc123', orderId: 'order_x'});"
        "if (typeof gateway.open !== 'function' || typeof gateway.close !== 'function')"
        "  throw new Error('open/close missing');"
        "console.log('ok');"
    )
    completed = subprocess.run(
        [node, "-e", script, str(SDK_FILE)], capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "ok"


def test_amd_define_receives_the_class_without_a_global(node):
    script = (
        "const vm = require('vm');"
        "const fs = require('fs');"
        "let defined = null;"
        "const sandbox = {define: function (deps, factory) { defined = {deps, value: factory()}; }};"
        "sandbox.define.amd = {};"
        "sandbox.self = sandbox;"
        "vm.createContext(sandbox);"
        "vm.runInContext(fs.readFileSync(process.argv[1], 'utf8'), sandbox);"
        "if (!defined || typeof defined.value !== 'function') throw new Error('define not called');"
        "if (!Array.isArray(defined.deps) || defined.deps.length) throw new Error('bad deps');"
        "if ('PaymentGateway' in sandbox) throw new Error('leaked a global');"
        "console.log(defined.value.name);"
    )
    completed = subprocess.run(
        [node, "-e", script, str(SDK_FILE)], capture_output=True, text=True, timeout=30
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "PaymentGateway"


@pytest.mark.parametrize(
    ("options", "mentions"),
    [
        ("{orderId: 'order_x'}", "key"),
        ("{key: '', orderId: 'order_x'}", "key"),
        ("{key: 'key_test_abc123'}", "orderId"),
        ("{key: 'key_test_abc123', orderId: ''}", "orderId"),
        ("undefined", "key"),
    ],
)
def test_missing_key_or_order_id_throws_a_clear_error(node, options, mentions):
    script = (
        "const PaymentGateway = require(process.argv[1]);"
        f"try {{ new PaymentGateway({options}); console.log('no error'); }}"
        "catch (error) { console.log((error instanceof Error) + ' ' + error.message); }"
    )
    completed = subprocess.run(
        [node, "-e", script, str(SDK_FILE)], capture_output=True, text=True, timeout=30
    )
    output = completed.stdout.strip()
    assert output.startswith("true "), output
    assert f'"{mentions}"' in output
    assert "required" in output


# --- the modal, against a scripted checkout ---------------------------------------------------


def open_merchant(page, merchant_site, checkout_origin: str, order_id: str):
    page.goto(merchant_site(checkout_origin, order_id))
    page.wait_for_function("typeof window.gateway === 'object'")


@pytest.mark.browser
def test_open_builds_the_contract_modal(page, merchant_site, scripted_origins):
    checkout = scripted_origins.checkout
    open_merchant(page, merchant_site, checkout, "order_quiet")
    merchant_origin = page.evaluate("location.origin")
    page.click("#opener")

    modal = page.locator(MODAL)
    assert modal.count() == 1
    assert modal.get_attribute("id") == "payment-gateway-modal"
    src = page.locator(f"{MODAL} {IFRAME}").get_attribute("src")
    assert src == (
        f"{checkout}/checkout?order_id=order_quiet&embedded=true"
        f"&parent_origin={quote(merchant_origin, safe='')}&key=key_test_abc123"
    )
    assert page.locator(f"{MODAL} {CLOSE}").is_visible()
    # Focus moved into the dialog.
    assert page.evaluate(
        "document.getElementById('payment-gateway-modal').contains(document.activeElement)"
    )
    assert page.evaluate("window.__globalsAdded") == ["PaymentGateway"]


@pytest.mark.browser
def test_keyboard_focus_stays_in_the_dialog(page, merchant_site, scripted_origins):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    page.click("#opener")
    assert page.evaluate("document.activeElement.dataset.testId") == "close-modal-button"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.testId") == "payment-iframe"
    # Leaving the checkout's last control lands on the wrap-around stop, back to the button.
    page.evaluate("document.querySelector('#payment-gateway-modal span[tabindex]').focus()")
    assert page.evaluate("document.activeElement.dataset.testId") == "close-modal-button"


@pytest.mark.browser
def test_order_id_is_encoded_into_the_iframe_src(page, merchant_site, scripted_origins):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_a&b=c")
    page.evaluate("gateway.open()")
    src = page.locator(IFRAME).get_attribute("src")
    assert "order_id=order_a%26b%3Dc&embedded=true" in src


@pytest.mark.browser
def test_second_open_adds_no_second_modal(page, merchant_site, scripted_origins):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    page.evaluate("gateway.open(); gateway.open(); makeGateway('order_quiet').open();")
    assert page.locator(MODAL).count() == 1
    assert page.locator(IFRAME).count() == 1


@pytest.mark.browser
def test_close_button_removes_modal_calls_on_close_and_returns_focus(
    page, merchant_site, scripted_origins
):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    page.focus("#opener")
    page.keyboard.press("Enter")
    assert page.locator(MODAL).count() == 1
    page.click(CLOSE)
    assert page.locator(MODAL).count() == 0
    assert page.evaluate("calls") == [["close"]]
    assert page.evaluate("document.activeElement.id") == "opener"
    assert page.evaluate("document.body.style.overflow") == ""


@pytest.mark.browser
def test_escape_closes_and_calls_on_close(page, merchant_site, scripted_origins):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    page.click("#opener")
    page.keyboard.press("Escape")
    assert page.locator(MODAL).count() == 0
    assert page.evaluate("calls") == [["close"]]


@pytest.mark.browser
def test_close_method_closes_once(page, merchant_site, scripted_origins):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    page.evaluate("gateway.open(); gateway.close(); gateway.close();")
    assert page.locator(MODAL).count() == 0
    assert page.evaluate("calls") == [["close"]]
    # It can be opened again afterwards.
    page.evaluate("gateway.open()")
    assert page.locator(MODAL).count() == 1


@pytest.mark.browser
def test_payment_success_message_calls_on_success_then_closes(
    page, merchant_site, scripted_origins
):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_success")
    page.evaluate("gateway.open()")
    page.wait_for_function("calls.length >= 2")
    assert page.evaluate("calls") == [
        ["success", {"paymentId": "pay_Scripted00000001"}],
        ["close"],
    ]
    assert page.locator(MODAL).count() == 0


@pytest.mark.browser
def test_payment_failed_message_calls_on_failure_and_keeps_the_modal(
    page, merchant_site, scripted_origins
):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_failed")
    page.evaluate("gateway.open()")
    page.wait_for_function("calls.length >= 1")
    page.wait_for_timeout(200)
    assert page.evaluate("calls") == [
        ["failure", {"error": {"code": "PAYMENT_FAILED", "description": "Declined"}}]
    ]
    assert page.locator(MODAL).count() == 1


@pytest.mark.browser
def test_close_modal_message_closes(page, merchant_site, scripted_origins):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_close")
    page.evaluate("gateway.open()")
    page.wait_for_function("calls.length >= 1")
    assert page.evaluate("calls") == [["close"]]
    assert page.locator(MODAL).count() == 0


@pytest.mark.browser
def test_forged_messages_are_ignored(page, merchant_site, scripted_origins):
    checkout, impostor = scripted_origins.checkout, scripted_origins.impostor
    open_merchant(page, merchant_site, checkout, "order_quiet")
    page.evaluate("gateway.open()")

    # 1. The merchant page's own window (any script on it) pretending to be the checkout.
    page.evaluate(
        "window.postMessage({type: 'payment_success', data: {paymentId: 'pay_Forged000000001'}}, '*')"
    )
    # 2. Another frame from another origin.
    # 3. Another frame from the checkout's own origin that is not the SDK's iframe.
    for url in (f"{impostor}/impostor", f"{checkout}/impostor"):
        with page.expect_event("framenavigated", lambda frame, url=url: frame.url == url):
            page.evaluate(
                "url => { const f = document.createElement('iframe'); f.src = url;"
                " document.body.appendChild(f); }",
                url,
            )
    page.wait_for_timeout(500)
    assert page.evaluate("calls") == []
    assert page.locator(MODAL).count() == 1
    page.evaluate("gateway.close()")

    # 4. The SDK's own iframe after it was navigated away to another origin.
    redirected = f"{impostor}/impostor"
    with page.expect_event("framenavigated", lambda frame: frame.url == redirected):
        page.evaluate("window.gateway = makeGateway('order_redirect'); gateway.open();")
    page.wait_for_timeout(500)
    assert page.evaluate("calls") == [["close"]]  # only the close() above
    assert page.locator(MODAL).count() == 1

    # The genuine checkout is still heard.
    page.evaluate("gateway.close(); window.gateway = makeGateway('order_success'); gateway.open();")
    page.wait_for_function("calls.length >= 4")
    assert page.evaluate("calls")[2:] == [
        ["success", {"paymentId": "pay_Scripted00000001"}],
        ["close"],
    ]


@pytest.mark.browser
def test_missing_options_throw_in_the_browser(page, merchant_site, scripted_origins):
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    messages = page.evaluate(
        """() => [{orderId: 'order_x'}, {key: 'key_test_abc123'}].map(options => {
            try { new PaymentGateway(options); return 'no error'; }
            catch (error) { return error.message; }
        })"""
    )
    assert '"key"' in messages[0]
    assert '"orderId"' in messages[1]


HEAD_OPENER = """<!doctype html><html><head>
<script src="{checkout}/checkout.js"></script>
<script>
window.calls = [];
function headGateway(orderId) {{
  return new PaymentGateway({{key: 'key_test_abc123', orderId: orderId,
    onClose: function () {{ calls.push(['close']); }}}});
}}
headGateway('order_quiet').open();
headGateway('order_never').open().close();
</script></head><body><p>shop</p></body></html>"""


@pytest.mark.browser
def test_open_called_from_the_head_opens_once_the_body_exists(page, start_server, scripted_origins):
    # A shop that opens the checkout as its page loads, from a script in <head>.
    html = HEAD_OPENER.format(checkout=scripted_origins.checkout)

    async def shop(request: Request) -> Response:
        return HTMLResponse(html)

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(start_server(Starlette(routes=[Route("/", shop)])))
    page.locator(MODAL).wait_for()
    assert errors == []
    assert page.locator(MODAL).count() == 1
    assert "order_id=order_quiet&" in page.locator(IFRAME).get_attribute("src")
    # The one closed before it could open never shows, and had nothing to close.
    assert page.evaluate("calls") == []


CONSTRUCT = """() => {
    try { new PaymentGateway({key: 'key_test_abc123', orderId: 'order_success'}); return 'built'; }
    catch (error) { return error.message; }
}"""


@pytest.mark.browser
def test_a_page_the_checkout_cannot_answer_is_refused_at_once(
    page, merchant_site, scripted_origins, tmp_path
):
    # A merchant's first try: the shop page opened from disk. The checkout would take the
    # payment and could post its outcome to no origin, so onSuccess would never run.
    shop = tmp_path / "shop.html"
    shop.write_text(
        f'<!doctype html><script src="{scripted_origins.checkout}/checkout.js"></script>',
        encoding="utf-8",
    )
    page.goto(shop.as_uri())
    page.wait_for_function("typeof PaymentGateway === 'function'")
    assert "web server" in page.evaluate(CONSTRUCT)

    # The same for a sandboxed frame, whose origin is opaque ("null").
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    with page.expect_event("frameattached") as attached:
        page.evaluate(
            """src => { const f = document.createElement('iframe');
            f.setAttribute('sandbox', 'allow-scripts');
            f.srcdoc = '<script src="' + src + '"></' + 'script>';
            document.body.appendChild(f); }""",
            f"{scripted_origins.checkout}/checkout.js",
        )
    sandboxed = attached.value
    sandboxed.wait_for_function("typeof PaymentGateway === 'function'")
    assert "web server" in sandboxed.evaluate(CONSTRUCT)
    # An http(s) page still builds it.
    assert page.evaluate(CONSTRUCT) == "built"


def relative_luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2.1's relative luminance of an sRGB colour given as 0-255 channels."""

    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: tuple[float, float, float], other: tuple[float, float, float]) -> float:
    light, dark = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.browser
def test_the_close_button_shows_on_the_checkouts_white_body(page, merchant_site, scripted_origins):
    # On a short screen (a phone held sideways) the checkout scrolls to its state, and the
    # close button floats over its white body rather than its blue header.
    page.set_viewport_size({"width": 740, "height": 360})
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    page.evaluate("gateway.open()")
    colours = page.evaluate(
        """() => { const style = getComputedStyle(document.querySelector('[data-test-id="close-modal-button"]'));
        const channels = value => value.match(/[\\d.]+/g).map(Number);
        return {background: channels(style.backgroundColor), text: channels(style.color)}; }"""
    )
    r, g, b, *alpha = colours["background"]
    a = alpha[0] if alpha else 1.0
    # The button's own background over white, as the shopper sees it there.
    face = tuple(channel * a + 255 * (1 - a) for channel in (r, g, b))
    text = tuple(colours["text"][:3])
    assert contrast(face, text) >= 4.5, (face, text)  # WCAG 1.4.3, as for any text
    assert contrast(face, (255, 255, 255)) >= 3, face  # WCAG 1.4.11: the disc against white


@pytest.mark.browser
def test_modal_fills_a_360px_screen(page, merchant_site, scripted_origins):
    page.set_viewport_size({"width": 360, "height": 740})
    open_merchant(page, merchant_site, scripted_origins.checkout, "order_quiet")
    page.evaluate("gateway.open()")
    box = page.locator(IFRAME).bounding_box()
    assert box is not None
    assert box["width"] == 360
    assert box["height"] == 740
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


# --- the SDK with the real checkout page inside, against the real API ---------------------------

SETTLE_MS = 30_000  # the worker's delay plus the page's 2 s polling, with room to spare


@pytest.mark.browser
@pytest.mark.slow
def test_paying_inside_the_modal_calls_on_success_with_the_payment_id(
    page, merchant_site, checkout_site, gateway, test_order
):
    open_merchant(page, merchant_site, checkout_site, test_order["id"])
    page.evaluate("gateway.open()")
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="order-amount"]').filter(has_text="₹500.00").wait_for()
    frame.locator('[data-test-id="method-upi"]').click()
    frame.locator('[data-test-id="vpa-input"]').fill("shopper@okbank")
    frame.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()
    page.wait_for_function("calls.length >= 2", timeout=SETTLE_MS)

    calls = page.evaluate("calls")
    assert calls[0][0] == "success"
    assert calls[1] == ["close"]
    assert page.locator(MODAL).count() == 0
    payment = gateway.payment(calls[0][1]["paymentId"])
    assert payment["status"] == "success"
    assert payment["order_id"] == test_order["id"]


@pytest.mark.browser
@pytest.mark.slow
def test_a_failed_payment_inside_the_modal_calls_on_failure(
    page, merchant_site, failing_checkout_site, failing_gateway
):
    order = failing_gateway.create_order()
    open_merchant(page, merchant_site, failing_checkout_site, order["id"])
    page.evaluate("gateway.open()")
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="method-upi"]').click()
    frame.locator('[data-test-id="vpa-input"]').fill("shopper@okbank")
    frame.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()
    page.wait_for_function("calls.length >= 1", timeout=SETTLE_MS)

    kind, data = page.evaluate("calls")[0]
    assert kind == "failure"
    assert data["error"]["code"] == "PAYMENT_FAILED"
    assert data["orderId"] == order["id"]
    payment = failing_gateway.payment(data["paymentId"])
    assert (payment["status"], payment["error_code"]) == ("failed", "PAYMENT_FAILED")
    assert page.locator(MODAL).count() == 1
    assert frame.locator('[data-test-id="error-state"]').is_visible()


@pytest.mark.browser
@pytest.mark.slow
def test_escape_inside_the_checkout_closes_the_modal(
    page, merchant_site, checkout_site, test_order
):
    open_merchant(page, merchant_site, checkout_site, test_order["id"])
    page.evaluate("gateway.open()")
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="method-card"]').click()  # focus is now inside the iframe
    page.keyboard.press("Escape")
    page.wait_for_function("calls.length >= 1")
    assert page.evaluate("calls") == [["close"]]
    assert page.locator(MODAL).count() == 0


@pytest.mark.browser
@pytest.mark.slow
def test_escape_that_cancels_an_input_methods_word_keeps_the_modal(
    page, merchant_site, checkout_site, test_order
):
    """A shopper typing their name with an input method (Japanese, Chinese, Hindi
    transliteration) presses Escape to drop the word being composed, not the checkout."""
    open_merchant(page, merchant_site, checkout_site, test_order["id"])
    page.evaluate("gateway.open()")
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="method-card"]').click()
    name = frame.locator('[data-test-id="cardholder-name-input"]')
    name.fill("Asha")
    name.dispatch_event("keydown", {"key": "Escape", "isComposing": True, "bubbles": True})
    page.wait_for_timeout(300)
    assert page.evaluate("calls") == []
    assert page.locator(MODAL).count() == 1
    assert name.input_value() == "Asha"


@pytest.mark.browser
@pytest.mark.slow
def test_demo_shop_sells_through_the_sdk(page, demo_site, checkout_site, gateway):
    page.goto(demo_site)
    assert origin_of(demo_site) != origin_of(checkout_site)
    page.click('[data-test-id="demo-pay-button"]')
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="order-amount"]').filter(has_text="₹500.00").wait_for()
    # The demo sends a strict Content-Security-Policy; the modal must still be laid out.
    assert page.locator(MODAL).bounding_box() == {"x": 0, "y": 0, "width": 1280, "height": 860}
    dialog = page.locator(IFRAME).bounding_box()
    assert dialog["width"] == 440
    assert dialog["x"] == (1280 - 440) / 2
    frame.locator('[data-test-id="method-upi"]').click()
    frame.locator('[data-test-id="vpa-input"]').fill("shopper@okbank")
    frame.locator('[data-test-id="upi-form"] [data-test-id="pay-button"]').click()

    result = page.locator('[data-test-id="demo-result"]')
    result.filter(has_text="Payment successful").wait_for(timeout=SETTLE_MS)
    assert page.locator(MODAL).count() == 0
    payment = gateway.payment(result.inner_text().rsplit(" ", 1)[-1])
    assert payment["status"] == "success"
    assert payment["amount"] == 50000
    # The order is the one the demo's server created with the merchant's secret key.
    assert gateway.order(payment["order_id"])["notes"] == {"source": "checkout demo"}
