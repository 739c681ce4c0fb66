"""The SDK's key reaches the checkout page, which refuses (through the SDK's onFailure) an
order that belongs to another merchant; /checkout.d.ts types the SDK."""

import shutil
import subprocess
import urllib.request
import uuid

import httpx
import pytest

from checkout.app import SDK_TYPES_FILE

IFRAME = '[data-test-id="payment-iframe"]'
MERCHANT = {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"}


def order_of_another_merchant(api_url: str) -> str:
    signed_up = httpx.post(
        f"{api_url}/api/v1/merchants",
        json={"name": "Other Shop", "email": f"other-{uuid.uuid4().hex[:10]}@example.test",
              "password": "correct horse"},
    ).json()  # fmt: skip
    headers = {"X-Api-Key": signed_up["api_key"], "X-Api-Secret": signed_up["api_secret"]}
    return httpx.post(f"{api_url}/api/v1/orders", json={"amount": 777}, headers=headers).json()[
        "id"
    ]


def test_public_order_with_another_merchants_key_is_not_found(api_url, test_order):
    foreign = order_of_another_merchant(api_url)
    url = f"{api_url}/api/v1/orders/{{}}/public"

    own = httpx.get(url.format(test_order["id"]), params={"key_id": "key_test_abc123"})
    refused = httpx.get(url.format(foreign), params={"key_id": "key_test_abc123"})
    unknown = httpx.get(url.format("order_AAAAAAAAAAAAAAAA"), params={"key_id": "key_test_abc123"})
    without_key = httpx.get(url.format(foreign))

    assert own.status_code == 200 and own.json()["id"] == test_order["id"]
    assert refused.status_code == 404 and refused.content == unknown.content
    assert without_key.status_code == 200  # the key check is additive


@pytest.mark.browser
@pytest.mark.slow
def test_sdk_refuses_another_merchants_order(page, merchant_site, checkout_site, api_url):
    foreign = order_of_another_merchant(api_url)
    page.goto(merchant_site(checkout_site, foreign))
    page.wait_for_function("typeof window.gateway === 'object'")
    page.evaluate("gateway.open()")

    assert "key=key_test_abc123" in page.locator(IFRAME).get_attribute("src")
    frame = page.frame_locator(IFRAME)
    frame.get_by_text("Order not found").first.wait_for(timeout=15_000)
    page.wait_for_function("calls.some(function (c) { return c[0] === 'failure'; })")
    failure = page.evaluate("calls.find(function (c) { return c[0] === 'failure'; })[1]")
    assert failure["error"]["code"] == "NOT_FOUND_ERROR"
    assert failure["orderId"] == foreign


@pytest.mark.browser
@pytest.mark.slow
def test_sdk_shows_its_own_merchants_order(page, merchant_site, checkout_site, test_order):
    page.goto(merchant_site(checkout_site, test_order["id"]))
    page.wait_for_function("typeof window.gateway === 'object'")
    page.evaluate("gateway.open()")
    frame = page.frame_locator(IFRAME)
    frame.locator('[data-test-id="order-amount"]').filter(has_text="₹500.00").wait_for()
    assert page.evaluate("calls") == []


def test_type_declarations_are_served_beside_the_sdk(checkout_site):
    with urllib.request.urlopen(f"{checkout_site}/checkout.d.ts", timeout=10) as response:  # noqa: S310
        body = response.read()
        content_type = response.headers["content-type"]
    assert body == SDK_TYPES_FILE.read_bytes()
    assert content_type.startswith("application/typescript")
    assert b"declare class PaymentGateway" in body and b"onFailure?:" in body


@pytest.mark.skipif(shutil.which("tsc") is None, reason="the TypeScript compiler is not installed")
def test_type_declarations_compile(tmp_path):
    (tmp_path / "checkout.d.ts").write_bytes(SDK_TYPES_FILE.read_bytes())
    (tmp_path / "use.ts").write_text(
        "import PaymentGateway from './checkout';\n"
        "const gateway = new PaymentGateway({key: 'key_test_abc123', orderId: 'order_x',\n"
        "  onFailure: (f) => console.log(f.error.code)});\n"
        "gateway.open().close();\n"
    )
    completed = subprocess.run(
        ["tsc", "--noEmit", "--strict", str(tmp_path / "use.ts")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout
