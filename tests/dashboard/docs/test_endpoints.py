"""The docs page: every snippet carries the merchant's own keys and works when pasted."""

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import WebhookVerificationError

from shared.core.signing import signature_headers

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


def _signed_delivery(
    secret: str, body: bytes, webhook_id: str = "msg_2a7b2c", age_s: int = 0
) -> dict[str, str]:
    """Headers exactly as the dispatcher signs a delivery (shared.core.signing), `age_s` ago."""
    return signature_headers([secret], webhook_id, int(time.time()) - age_s, body)


def test_python_snippets_verify_real_signatures_and_refuse_forged_or_stale_ones(
    logged_in_client,
):
    page = logged_in_client.get("/dashboard/docs").text
    body = b'{"event":"webhook.test","timestamp":1705315870,"data":{"note":"\xe2\x82\xb9"}}'
    headers = _signed_delivery("whsec_test_abc123", body)
    stale = _signed_delivery("whsec_test_abc123", body, age_s=600)
    hex_only = {"X-Webhook-Signature": headers["X-Webhook-Signature"]}

    plain: dict = {"__name__": "webhook_snippet"}  # not __main__: the server does not start
    exec(snippet(page, "code-snippet-webhook-python"), plain)  # noqa: S102 - our own snippet
    assert plain["WEBHOOK_SECRET"] == "whsec_test_abc123"
    assert plain["signature_is_valid"](body, headers) and plain["is_fresh"](headers)
    assert not plain["signature_is_valid"](body + b" ", headers)
    assert not plain["signature_is_valid"](body, hex_only)
    assert plain["signature_is_valid"](body, stale) and not plain["is_fresh"](stale)

    standard: dict = {"__name__": "webhook_snippet"}
    exec(snippet(page, "code-snippet-webhook-standard"), standard)  # noqa: S102
    assert standard["verify_webhook"](body, headers)["event"] == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        standard["verify_webhook"](body.replace(b"test", b"tost"), headers)
    with pytest.raises(WebhookVerificationError, match="too old"):
        standard["verify_webhook"](body, stale)

    legacy: dict = {"__name__": "webhook_snippet"}
    exec(snippet(page, "code-snippet-webhook-legacy"), legacy)  # noqa: S102
    assert legacy["legacy_signature_is_valid"](body, headers["X-Webhook-Signature"])
    assert not legacy["legacy_signature_is_valid"](body + b" ", headers["X-Webhook-Signature"])


def test_the_standard_check_comes_first_and_the_hex_one_is_legacy(logged_in_client):
    page = logged_in_client.get("/dashboard/docs").text
    section = page[page.index('id="section-webhook-verification"') :]
    order = [section.index(f'data-test-id="{name}"') for name in (
        "code-snippet-webhook", "code-snippet-webhook-python", "code-snippet-webhook-standard",
        "code-snippet-webhook-legacy")]  # fmt: skip
    assert order == sorted(order)
    for name in ("code-snippet-webhook", "code-snippet-webhook-python"):
        code = snippet(page, name)
        assert "webhook-timestamp" in code and "5 * 60" in code and "handled" in code
        assert "x-webhook-signature" not in code.lower()
    assert "Legacy" in snippet(page, "code-snippet-webhook-legacy")


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


def _snippet_program(tmp_path, page: str, language: str) -> list[str]:
    """The Node.js or Python receiver snippet, saved as pasted with only its port moved;
    the command that runs it, then its URL."""
    port = _free_port()
    if language == "node":
        node = shutil.which("node")
        if node is None:
            pytest.skip("node is not installed")
        program = tmp_path / "webhook-server.js"
        code = snippet(page, "code-snippet-webhook").replace(".listen(5000,", f".listen({port},")
        command = [node, str(program)]
    else:
        program = tmp_path / "webhook_server.py"
        code = snippet(page, "code-snippet-webhook-python").replace(
            '("127.0.0.1", 5000)', f'("127.0.0.1", {port})'
        )
        command = [sys.executable, str(program)]
    assert str(port) in code
    program.write_text(code)
    return [*command, f"http://127.0.0.1:{port}/webhook"]


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.mark.parametrize("language", ["node", "python"])
@pytest.mark.parametrize(
    "secret", ["whsec_test_abc123", "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY+/8x"]
)
def test_receiver_snippet_runs_and_refuses_replays(tmp_path, language, secret):
    """Pasted into a file and run, it serves: a delivery gets 200 and is handled once; the same
    request again is acknowledged (200) without being handled; a recording re-sent 10 minutes
    later is refused (400); the hex header alone or a forged signature gets 401."""
    import httpx

    from dashboard.docs.snippets import SnippetValues, all_snippets

    snippets = all_snippets(SnippetValues("http://a", "http://b", "k", "s", secret))
    page = (
        '<code id="a" data-test-id="code-snippet-webhook">'
        + html.escape(snippets["webhook_node"])
        + '</code><code id="b" data-test-id="code-snippet-webhook-python">'
        + html.escape(snippets["webhook_python"])
        + "</code>"
    )
    *command, url = _snippet_program(tmp_path, page, language)
    server = _start(command)
    try:
        body = b'{"event":"webhook.test","data":{"note":"\xe2\x82\xb9"}}'
        headers = _signed_delivery(secret, body, webhook_id="evt_first")
        first = _post_when_listening(httpx, url, body, headers)
        replayed = httpx.post(url, content=body, headers=headers)
        recorded_later = httpx.post(
            url, content=body, headers=_signed_delivery(secret, body, "evt_first", age_s=600)
        )
        other_later = httpx.post(
            url, content=body, headers=_signed_delivery(secret, body, "evt_other", age_s=600)
        )
        hex_only = httpx.post(
            url, content=body, headers={"X-Webhook-Signature": headers["X-Webhook-Signature"]}
        )
        forged = httpx.post(
            url, content=body + b" ", headers=_signed_delivery(secret, body, "evt_forged")
        )
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)

    assert first.status_code == 200 and replayed.status_code == 200, output
    assert recorded_later.status_code == 400 and other_later.status_code == 400
    assert hex_only.status_code == 401 and forged.status_code == 401
    assert output.count("Received webhook.test") == 1, output


def test_the_docs_python_receiver_takes_a_real_delivery(
    tmp_path, stack, logged_in_client, start_service
):
    """The dispatcher's own delivery of a test webhook, to the snippet as copied from the
    page with the seeded merchant's secret."""
    import httpx

    page = logged_in_client.get("/dashboard/docs").text
    *command, url = _snippet_program(tmp_path, page, "python")
    server = _start(command)
    try:
        stack.db.execute(
            "SELECT set_default_webhook_url(id, %s) FROM merchants WHERE is_test", (url,)
        )
        start_service("webhook_dispatcher", API_URL=stack.api_url)
        sent = httpx.post(
            f"{stack.api_url}/api/v1/webhooks/test",
            headers={"X-Api-Key": "key_test_abc123", "X-Api-Secret": "secret_test_xyz789"},
        )
        assert sent.status_code == 201, sent.text
        deadline = time.monotonic() + 30
        while True:
            log = stack.db.execute(
                "SELECT status, response_code FROM webhook_logs WHERE id = %s",
                (sent.json()["id"],),
            ).fetchone()
            if log["status"] != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert (log["status"], log["response_code"]) == ("success", 200), output
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


@pytest.mark.browser
def test_docs_fit_a_375px_phone_with_a_new_merchants_long_keys(
    stack, chromium, login_in_browser, save_screenshots
):
    """A phone widens its layout to whatever overflows, so the page then pans sideways: only
    code blocks may be wider than the screen, and they scroll inside themselves."""
    stack.sign_up(email="owner@acme.test", password="correct horse")  # key_live_/secret_live_
    context = chromium.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    try:
        login_in_browser(page, email="owner@acme.test", password="correct horse")
        page.goto(f"{stack.dashboard_url}/dashboard/docs")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width == [375, 375]
        outside = page.evaluate(
            """() => [...document.querySelectorAll('main *')]
                .filter((el) => !el.closest('pre'))
                .filter((el) => el.getBoundingClientRect().right > 375 + 1)
                .map((el) => el.outerHTML.slice(0, 120))"""
        )
        assert outside == []
        if os.environ.get("DASHBOARD_SCREENSHOTS"):
            save_screenshots(page, "docs-375px-new-merchant")
    finally:
        context.close()


def test_docs_list_the_test_values_the_bank_answers(logged_in_client):
    from shared.domain.simulation import TEST_CARDS, TEST_OUTCOMES, TEST_VPAS

    page = logged_in_client.get("/dashboard/docs").text
    table = page[page.index('data-test-id="test-values"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(
        r"<tr><td>(?:UPI|Card) <code>([^<]+)</code></td><td>([^<]+)(?:<code>(\w+)</code>)?", table
    )
    listed = {value.replace(" ", ""): code or "success" for value, _, code in rows}
    assert listed == TEST_VPAS | TEST_CARDS
    assert set(listed.values()) == set(TEST_OUTCOMES)


def test_the_sdk_section_says_to_match_the_payment_to_its_order(logged_in_client):
    """A shopper can hand the merchant's page the id of any successful payment of that merchant
    (one for a cheaper order): checking only that it succeeded would ship the dearer order."""
    page = logged_in_client.get("/dashboard/docs").text
    section = page[page.index('id="section-sdk-integration"') :]
    section = section[: section.index("</section>")]
    code = snippet(page, "code-snippet-sdk")
    assert "order_id" in code and "success" in code
    advice = html.unescape(
        re.sub(r"<[^>]+>", "", section[section.index("onSuccess({paymentId})") :])
    )
    advice = advice[: advice.index("onFailure")]
    assert "order_id is the order you created" in advice
