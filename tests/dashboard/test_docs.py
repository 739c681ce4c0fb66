"""The docs page: every snippet carries the merchant's own keys and works when pasted."""

import hashlib
import hmac
import html
import json
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import WebhookVerificationError

from shared.signing import signature_headers

SECTIONS = [
    "section-create-order",
    "section-sdk-integration",
    "section-webhook-verification",
    "section-refunds",
    "section-idempotency",
    "section-retries",
    "section-errors",
]


def tid(name: str) -> str:
    return f'[data-test-id="{name}"]'


def snippet(page_html: str, test_id: str) -> str:
    """The text a merchant copies: the code element's content, unescaped."""
    match = re.search(rf'<code id="[^"]+" data-test-id="{test_id}">(.*?)</code>', page_html, re.S)
    assert match, f"no {test_id} on the page"
    return html.unescape(match.group(1))


def test_docs_page_has_every_section(logged_in_client):
    page = logged_in_client.get("/dashboard/docs").text
    assert 'data-test-id="api-docs"' in page
    for section in SECTIONS:
        assert f'data-test-id="{section}"' in page, section
    for code in (
        "INVALID_VPA",
        "IDEMPOTENCY_KEY_MISMATCH",
        "SERVICE_UNAVAILABLE",
        "CONFLICT_ERROR",
        "RATE_LIMIT_ERROR",
    ):
        assert code in page
    for interval in ("After 1 minute", "After 5 minutes", "After 30 minutes", "After 2 hours"):
        assert interval in page


def test_curl_snippet_creates_an_order_when_pasted(stack, logged_in_client):
    command = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-create-order")
    assert stack.api_url in command
    assert "key_test_abc123" in command and "secret_test_xyz789" in command
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    order = json.loads(result.stdout)
    assert re.fullmatch(r"order_[A-Za-z0-9]{16}", order["id"])
    assert order["amount"] == 50000 and order["status"] == "created"
    stored = stack.db.execute("SELECT merchant_id FROM orders WHERE id = %s", (order["id"],))
    assert str(stored.fetchone()["merchant_id"]) == "550e8400-e29b-41d4-a716-446655440000"


def test_snippets_use_a_new_merchants_own_keys(stack, login_over_http):
    merchant = stack.sign_up(email="new@shop.test", password="new merchant")
    page = login_over_http("new@shop.test", "new merchant").get("/dashboard/docs").text
    command = snippet(page, "code-snippet-create-order")
    assert merchant["api_key"] in command and merchant["api_secret"] in command
    assert "key_test_abc123" not in page
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=False
    )
    order = json.loads(result.stdout)
    assert str(order["merchant_id"]) == merchant["id"]


def test_idempotency_snippet_replays_when_run_twice(stack, logged_in_client):
    command = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-idempotency")
    first, second = (
        subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
        for _ in range(2)
    )
    assert "HTTP/1.1 201" in first.stdout
    assert "idempotent-replayed: true" in second.stdout.lower()
    assert stack.db.execute("SELECT count(*) AS n FROM orders").fetchone()["n"] == 1


def test_refund_and_sdk_snippets_use_real_ids_when_there_are_some(stack, logged_in_client):
    paid = stack.create_payment(amount=50000, status="success")
    order = stack.api(
        "POST",
        "/api/v1/orders",
        {"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"},
        json={"amount": 12300},
    ).json()
    page = logged_in_client.get("/dashboard/docs").text
    sdk = snippet(page, "code-snippet-sdk")
    assert '<script src="http://127.0.0.1:3001/checkout.js"></script>' in sdk
    assert "new PaymentGateway({" in sdk
    assert f"orderId: '{order['id']}'" in sdk
    assert "key: 'key_test_abc123'" in sdk
    assert "secret_test" not in sdk  # the secret never goes into a web page

    command = snippet(page, "code-snippet-refund")
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)
    refund = json.loads(result.stdout)
    assert refund["payment_id"] == paid["id"] and refund["amount"] == 10000


def run_snippet(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=30)


def test_the_endpoints_section_shows_a_second_endpoint_with_a_filter(logged_in_client):
    page = logged_in_client.get("/dashboard/docs").text
    assert 'data-test-id="section-webhook-endpoints"' in page
    create = snippet(page, "code-snippet-create-endpoint")
    assert "key_test_abc123" in create and "Idempotency-Key:" in create
    assert '"events": ["refund.created", "refund.processed"]' in create
    recover = snippet(page, "code-snippet-recover-endpoint")
    since = re.search(r'"since": "([^"]+)"', recover).group(1)
    age = datetime.now(UTC) - datetime.fromisoformat(since.replace("Z", "+00:00"))
    assert timedelta(minutes=59) < age < timedelta(minutes=61)  # inside the 30 days, always
    assert "we_REPLACE_WITH_ENDPOINT_ID" in recover  # no endpoint yet: a placeholder, said so


def test_endpoint_snippets_create_deliver_and_recover_when_pasted(stack, logged_in_client):
    create = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-create-endpoint")
    first, again = run_snippet(create), run_snippet(create)
    endpoint = json.loads(first.stdout)
    assert re.fullmatch(r"we_[A-Za-z0-9]{16}", endpoint["id"]), first.stdout
    assert endpoint["events"] == ["refund.created", "refund.processed"]
    assert json.loads(again.stdout)["id"] == endpoint["id"]  # the key makes a re-paste safe

    paid = stack.create_payment(amount=50000, status="success")
    page = logged_in_client.get("/dashboard/docs").text
    refund = json.loads(run_snippet(snippet(page, "code-snippet-refund")).stdout)
    assert refund["payment_id"] == paid["id"]

    deliveries = snippet(page, "code-snippet-endpoint-deliveries")
    assert endpoint["id"] in deliveries  # the page fills in the merchant's own endpoint
    logs = json.loads(run_snippet(deliveries).stdout)["data"]
    assert [(log["event"], log["object_id"]) for log in logs] == [("refund.created", refund["id"])]
    assert all(log["endpoint_id"] == endpoint["id"] for log in logs)

    recover = run_snippet(snippet(page, "code-snippet-recover-endpoint"))
    answers = [json.loads(line) for line in recover.stdout.replace("}{", "}\n{").splitlines()]
    assert answers[0]["status"] == "enabled"
    assert set(answers[-1]) == {"queued"} and isinstance(answers[-1]["queued"], int)


def _signed_delivery(secret: str, body: bytes) -> dict[str, str]:
    return signature_headers([secret], "msg_2a7b2c", int(time.time()), body)


def test_python_snippets_verify_real_signatures_and_refuse_forged_ones(logged_in_client):
    page = logged_in_client.get("/dashboard/docs").text
    body = b'{"event":"webhook.test","timestamp":1705315870,"data":{"note":"\xe2\x82\xb9"}}'
    headers = _signed_delivery("whsec_test_abc123", body)

    plain: dict = {"__name__": "webhook_snippet"}  # not __main__: the server does not start
    exec(snippet(page, "code-snippet-webhook-python"), plain)  # noqa: S102 - our own snippet
    assert plain["WEBHOOK_SECRET"] == "whsec_test_abc123"
    assert plain["signature_is_valid"](body, headers["X-Webhook-Signature"])
    assert not plain["signature_is_valid"](body + b" ", headers["X-Webhook-Signature"])
    assert not plain["signature_is_valid"](body, "")

    standard: dict = {"__name__": "webhook_snippet"}
    exec(snippet(page, "code-snippet-webhook-standard"), standard)  # noqa: S102
    assert standard["verify_webhook"](body, headers)["event"] == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        standard["verify_webhook"](body.replace(b"test", b"tost"), headers)


def test_node_snippet_computes_the_same_signature():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    from dashboard.docs.snippets import SnippetValues, webhook_node

    code = webhook_node(SnippetValues("http://a", "http://b", "k", "s", "whsec_test_abc123"))
    body = '{"event":"payment.success","data":{"amount":50000}}'
    # Keep the verification function, not the server, and call it on a signed body.
    verifier = code.split("http.createServer")[0] + (
        "const body = Buffer.from(process.argv[1]);"
        "console.log(signatureIsValid(body, process.argv[2]),"
        " signatureIsValid(Buffer.concat([body, Buffer.from(' ')]), process.argv[2]));"
    )
    signature = hmac.new(b"whsec_test_abc123", body.encode(), hashlib.sha256).hexdigest()
    result = subprocess.run(
        [node, "-e", verifier, body, signature], capture_output=True, text=True, timeout=30
    )
    assert result.stdout.split() == ["true", "false"], result.stderr


@pytest.mark.browser
def test_docs_in_the_browser(stack, logged_in_page):
    page = logged_in_page
    page.click(tid("nav-api-docs"))
    docs = page.locator(tid("api-docs"))
    for section in ("section-create-order", "section-sdk-integration",
                    "section-webhook-verification"):  # fmt: skip
        assert docs.locator(tid(section)).is_visible()
    create_order = docs.locator(tid("section-create-order")).locator(
        tid("code-snippet-create-order")
    )
    assert "curl -X POST" in create_order.inner_text()
    assert "PaymentGateway" in docs.locator(tid("code-snippet-sdk")).inner_text()
    assert "createHmac('sha256'" in docs.locator(tid("code-snippet-webhook")).inner_text()


@pytest.mark.browser
def test_the_copied_curl_command_creates_an_order(stack, chromium, login_in_browser):
    context = chromium.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        login_in_browser(page)
        page.goto(f"{stack.dashboard_url}/dashboard/docs")
        page.click('[data-copy-target="snippet-create-order"]')
        copied = page.evaluate("navigator.clipboard.readText()")
    finally:
        context.close()
    result = subprocess.run(["bash", "-c", copied], capture_output=True, text=True, timeout=30)
    assert json.loads(result.stdout)["status"] == "created", result.stderr


def test_python_snippet_runs_as_a_program(tmp_path, logged_in_client):
    """Pasted into a file and run, it serves: a signed POST gets 200, an unsigned one 401."""
    import httpx

    code = snippet(logged_in_client.get("/dashboard/docs").text, "code-snippet-webhook-python")
    port = _free_port()
    program = tmp_path / "webhook_server.py"
    program.write_text(code.replace('("127.0.0.1", 5000)', f'("127.0.0.1", {port})'))
    server = subprocess.Popen(
        [sys.executable, str(program)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"},
    )
    try:
        body = b'{"event":"webhook.test","data":{}}'
        headers = _signed_delivery("whsec_test_abc123", body)
        url = f"http://127.0.0.1:{port}/webhook"
        response = _post_when_listening(httpx, url, body, headers)
        assert response.status_code == 200
        forged = httpx.post(url, content=body, headers={"X-Webhook-Signature": "0" * 64})
        assert forged.status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert "Received webhook.test" in output


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post_when_listening(httpx, url: str, body: bytes, headers: dict[str, str]):
    deadline = time.monotonic() + 10
    while True:
        try:
            return httpx.post(url, content=body, headers=headers, timeout=5)
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.browser
def test_every_code_block_is_reached_by_the_keyboard_and_named(stack, logged_in_page):
    page = logged_in_page
    page.set_viewport_size({"width": 360, "height": 740})  # the blocks scroll sideways here
    page.goto(f"{stack.dashboard_url}/dashboard/docs")
    blocks = page.locator("pre.code")
    names = [blocks.nth(i).get_attribute("aria-label") for i in range(blocks.count())]
    assert len(names) >= 8 and all(name and name.endswith(" code") for name in names)
    reached = []
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "document.activeElement.tagName === 'PRE' ? document.activeElement.id ||"
            " document.activeElement.querySelector('code').id : null"
        )
        if focused:
            reached.append(focused)
    assert len(set(reached)) == len(names)
    # Focused, the arrow keys scroll a block that is wider than the screen.
    wide = next(
        blocks.nth(i)
        for i in range(blocks.count())
        if blocks.nth(i).evaluate("el => el.scrollWidth > el.clientWidth")
    )
    wide.focus()
    page.keyboard.press("ArrowRight")
    # Chromium may scroll smoothly: the position moves over a few frames.
    page.wait_for_function("el => el.scrollLeft > 0", arg=wide.element_handle(), timeout=5000)
