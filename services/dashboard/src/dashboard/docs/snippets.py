"""Code for the docs page, filled with the merchant's own keys and this gateway's real URLs,
so that every snippet works when pasted."""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

PLACEHOLDER_ORDER_ID = "order_REPLACE_WITH_ORDER_ID"
PLACEHOLDER_PAYMENT_ID = "pay_REPLACE_WITH_PAYMENT_ID"
PLACEHOLDER_WEBHOOK_SECRET = "whsec_REPLACE_WITH_YOUR_WEBHOOK_SECRET"  # noqa: S105 - shown in docs
PLACEHOLDER_ENDPOINT_ID = "we_REPLACE_WITH_ENDPOINT_ID"
# The second endpoint of the docs' example: a receiver on the merchant's own machine.
SECOND_ENDPOINT_URL = "http://localhost:5001/erp-webhooks"
SECOND_ENDPOINT_EVENTS = ("refund.created", "refund.processed")


@dataclass(frozen=True)
class SnippetValues:
    api_url: str
    checkout_url: str
    api_key: str
    api_secret: str
    webhook_secret: str = PLACEHOLDER_WEBHOOK_SECRET
    order_id: str = PLACEHOLDER_ORDER_ID
    payment_id: str = PLACEHOLDER_PAYMENT_ID
    endpoint_id: str = PLACEHOLDER_ENDPOINT_ID
    # The start of the recovery example's window (ISO-8601 UTC): an hour before the page was
    # rendered, so the pasted command stays inside the 30 days a recovery may reach back.
    recover_since: str = "2026-01-15T09:00:00Z"


def fill(template: str, **values: str) -> str:
    """Replace {{name}} markers; code braces and dollar signs stay as they are."""

    def value_of(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return re.sub(r"\{\{(\w+)\}\}", value_of, template).strip("\n") + "\n"


def _auth_headers(values: SnippetValues) -> str:
    return (
        f"  -H {shlex.quote('X-Api-Key: ' + values.api_key)} \\\n"
        f"  -H {shlex.quote('X-Api-Secret: ' + values.api_secret)}"
    )


WEBHOOK_PYTHON = """
# python3 webhook_server.py  (standard library only)
import base64
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

WEBHOOK_SECRET = "{{webhook_secret}}"
TOLERANCE_SECONDS = 5 * 60  # older (or future) timestamps are replays: refuse them
handled = {}  # webhook-id -> when you handled it, kept 10 minutes


def signature_is_valid(raw_body: bytes, headers) -> bool:
    \"\"\"webhook-signature is "v1," + base64 HMAC-SHA256 of "{id}.{timestamp}." + body,
    keyed with the base64 part of your secret after "whsec_". For 24 hours after you
    regenerate your secret it lists one signature per secret, space-separated: accept
    any match.\"\"\"
    webhook_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    key = base64.b64decode(WEBHOOK_SECRET.removeprefix("whsec_") + "==")
    signed = f"{webhook_id}.{timestamp}.".encode() + raw_body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    expected = b"v1," + base64.b64encode(digest)
    offered = headers.get("webhook-signature", "").split()
    return bool(webhook_id and timestamp) and any(
        hmac.compare_digest(expected, signature.encode()) for signature in offered
    )


def is_fresh(headers) -> bool:
    timestamp = headers.get("webhook-timestamp", "")
    return timestamp.isdigit() and abs(time.time() - int(timestamp)) <= TOLERANCE_SECONDS


def already_handled(webhook_id: str) -> bool:
    for seen, at in list(handled.items()):  # their replays are stale anyway
        if time.time() - at > 2 * TOLERANCE_SECONDS:
            del handled[seen]
    return webhook_id in handled


class WebhookHandler(BaseHTTPRequestHandler):
    def answer(self, status: int) -> None:
        self.send_response(status)
        self.end_headers()

    def do_POST(self):
        # Verify the bytes exactly as received, before parsing them.
        raw_body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not signature_is_valid(raw_body, self.headers):
            return self.answer(401)
        if not is_fresh(self.headers):
            return self.answer(400)  # a recorded delivery sent again
        webhook_id = self.headers["webhook-id"]
        if already_handled(webhook_id):
            return self.answer(200)  # a retry or replay of an event you handled
        event = json.loads(raw_body)
        print("Received", event["event"], event["data"])
        handled[webhook_id] = time.time()  # only once handled: failures are retried
        return self.answer(200)


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", 5000), WebhookHandler).serve_forever()
"""


WEBHOOK_PYTHON_STANDARD = """
# pip install standardwebhooks
from standardwebhooks import Webhook, WebhookVerificationError

webhook = Webhook("{{webhook_secret}}")
handled_ids = set()  # with several processes: a table with a unique webhook_id column


def verify_webhook(raw_body: bytes, headers: dict) -> dict:
    \"\"\"The parsed event; raises WebhookVerificationError if the signature is wrong or
    webhook-timestamp is more than 5 minutes from now (a replay).\"\"\"
    return webhook.verify(raw_body, headers)


# In Flask, for example:
#   try:
#       event = verify_webhook(request.get_data(), dict(request.headers))
#   except WebhookVerificationError:
#       return "invalid or stale", 400
#   if request.headers["webhook-id"] in handled_ids:
#       return "duplicate", 200  # handled already: acknowledge, do not handle again
#   handle(event)
#   handled_ids.add(request.headers["webhook-id"])
#   return "ok", 200
"""


WEBHOOK_LEGACY_HEX = """
# Legacy: X-Webhook-Signature signs the body alone (no timestamp, no id), so a
# delivery recorded once verifies forever. Prefer the checks above.
import hashlib
import hmac

WEBHOOK_SECRET = "{{webhook_secret}}"


def legacy_signature_is_valid(raw_body: bytes, header: str) -> bool:
    \"\"\"X-Webhook-Signature: lowercase hex HMAC-SHA256 of the raw body, keyed with the
    secret string; during a rotation, one per secret, comma-separated.\"\"\"
    expected = hmac.new(WEBHOOK_SECRET.encode(), raw_body, hashlib.sha256).hexdigest()
    return any(
        hmac.compare_digest(expected.encode(), signature.strip().encode())
        for signature in (header or "").split(",")
    )
"""


LISTEN_TARGET = "http://localhost:5000/hook"


PYTHON_CLIENT = """
# pip install ./clients/python   (from the gateway's repository)
from payment_gateway import Gateway, NotFoundError

gateway = Gateway("{{key}}", "{{api_secret}}", base_url="{{api}}")

order = gateway.orders.create(amount=50000, receipt="receipt_123")
payment = gateway.payments.create(order.id, "upi", vpa="user@paytm")
print(order.id, payment.id, payment.status)

# Every event, newest first; iter() fetches the pages for you.
for event in gateway.events.iter(type="payment.created"):
    print(event.id, event.type, event.data["payment"]["id"])
    break

try:
    gateway.payments.get("pay_AAAAAAAAAAAAAAAA")
except NotFoundError as error:
    print(error.code, error.description, error.request_id)
"""


def _cli_environment(values: SnippetValues) -> str:
    return (
        f"export GATEWAY_API_URL={shlex.quote(values.api_url)}\n"
        f"export GATEWAY_API_KEY={shlex.quote(values.api_key)}\n"
        f"export GATEWAY_API_SECRET={shlex.quote(values.api_secret)}"
    )


# The docs page's snippets, by the name docs.html shows each under: the Python ones above, and
# those in shell, JavaScript, HTML and JSON as files of snippets/ (named `<name>.<language>`),
# written as the merchant pastes them, with no Python escaping of their backslashes and quotes.
TEMPLATES = {
    path.name.split(".")[0]: path.read_text("utf-8")
    for path in sorted((Path(__file__).parent / "snippets").iterdir())
} | {
    "webhook_python": WEBHOOK_PYTHON,
    "webhook_standard": WEBHOOK_PYTHON_STANDARD,
    "webhook_legacy": WEBHOOK_LEGACY_HEX,
    "python_client": PYTHON_CLIENT,
}


def all_snippets(values: SnippetValues) -> dict[str, str]:
    """Every snippet of TEMPLATES by its name, its {{markers}} filled from `values`."""
    second_endpoint = {
        "url": SECOND_ENDPOINT_URL,
        "events": list(SECOND_ENDPOINT_EVENTS),
        "description": "ERP refunds",
    }
    markers = {
        "api": values.api_url,
        "auth": _auth_headers(values),
        "env": _cli_environment(values),
        "checkout": values.checkout_url,
        "key": values.api_key,
        "api_secret": values.api_secret,
        "webhook_secret": values.webhook_secret,
        "order": values.order_id,
        "payment": values.payment_id,
        "endpoint": values.endpoint_id,
        "since": values.recover_since,
        "window": shlex.quote(json.dumps({"since": values.recover_since})),
        "target": LISTEN_TARGET,
        "endpoint_url": SECOND_ENDPOINT_URL,
        "endpoint_events": ",".join(SECOND_ENDPOINT_EVENTS),
        "endpoint_body": shlex.quote(json.dumps(second_endpoint)),
    }
    return {name: fill(template, **markers) for name, template in TEMPLATES.items()}
