"""Code for the docs page, filled with the merchant's own keys and this gateway's real URLs,
so that every snippet works when pasted."""

import json
import re
import shlex
from dataclasses import dataclass

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


CREATE_ORDER = """
curl -X POST {{api}}/api/v1/orders \\
  -H 'Content-Type: application/json' \\
{{auth}} \\
  -d '{"amount": 50000, "currency": "INR", "receipt": "receipt_123"}'
"""


CREATE_ORDER_RESPONSE = """
{
  "id": "order_NXhj67fGH2jk9mPq",
  "merchant_id": "550e8400-e29b-41d4-a716-446655440000",
  "amount": 50000,
  "currency": "INR",
  "receipt": "receipt_123",
  "notes": {},
  "status": "created",
  "created_at": "2024-01-15T10:30:00.000Z"
}
"""


IDEMPOTENT_ORDER = """
curl -i -X POST {{api}}/api/v1/orders \\
  -H 'Content-Type: application/json' \\
{{auth}} \\
  -H 'Idempotency-Key: order-receipt_124' \\
  -d '{"amount": 50000, "currency": "INR", "receipt": "receipt_124"}'
"""


FETCH_PAYMENT = """
curl {{api}}/api/v1/payments/{{payment}} \\
{{auth}}
"""


CAPTURE_PAYMENT = """
curl -X POST {{api}}/api/v1/payments/{{payment}}/capture \\
  -H 'Content-Type: application/json' \\
{{auth}} \\
  -d '{}'
"""


CREATE_REFUND = """
curl -X POST {{api}}/api/v1/payments/{{payment}}/refunds \\
  -H 'Content-Type: application/json' \\
{{auth}} \\
  -H 'Idempotency-Key: refund-{{payment}}-1' \\
  -d '{"amount": 10000, "reason": "Customer returned one item"}'
"""


SDK = """
<button id="pay-button">Pay ₹500.00</button>

<script src="{{checkout}}/checkout.js"></script>
<script>
  // Create the order on your server (never in the browser: it needs your secret),
  // then pass its id here.
  const checkout = new PaymentGateway({
    key: '{{key}}',
    orderId: '{{order}}',
    onSuccess: (response) => {
      // Before you ship, fetch it on your server (GET /api/v1/payments/:id): its status
      // must be 'success' and its order_id this order's, not only 'success'.
      console.log('Payment succeeded:', response.paymentId);
    },
    onFailure: (error) => {
      console.log('Payment failed:', error);
    },
    onClose: () => {
      console.log('Checkout closed');
    }
  });

  document.getElementById('pay-button')
    .addEventListener('click', () => checkout.open());
</script>
"""


WEBHOOK_NODE = """
// node webhook-server.js  (no dependencies)
const crypto = require('crypto');
const http = require('http');

const WEBHOOK_SECRET = '{{webhook_secret}}';
const TOLERANCE_SECONDS = 5 * 60; // older (or future) timestamps are replays: refuse them
const handled = new Map(); // webhook-id -> when you handled it, kept 10 minutes

// webhook-signature is "v1," + base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`, keyed
// with the base64 part of your secret after "whsec_". For 24 hours after you regenerate
// your secret it lists one signature per secret, space-separated: accept any match.
function signatureIsValid(rawBody, headers) {
  const id = headers['webhook-id'] || '';
  const timestamp = headers['webhook-timestamp'] || '';
  const key = Buffer.from(
    WEBHOOK_SECRET.replace(/^whsec_/, '').replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
  const expected = Buffer.from('v1,' + crypto.createHmac('sha256', key)
    .update(`${id}.${timestamp}.`).update(rawBody).digest('base64'));
  return Boolean(id && timestamp) &&
    String(headers['webhook-signature'] || '').split(' ').some((signature) => {
      const received = Buffer.from(signature);
      return received.length === expected.length &&
        crypto.timingSafeEqual(received, expected);
    });
}

function isFresh(headers) {
  const age = Date.now() / 1000 - Number(headers['webhook-timestamp']);
  return Math.abs(age) <= TOLERANCE_SECONDS;
}

function alreadyHandled(id) {
  for (const [seen, at] of handled) { // oldest first; their replays are stale anyway
    if (Date.now() - at <= 2 * TOLERANCE_SECONDS * 1000) break;
    handled.delete(seen);
  }
  return handled.has(id);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    // Verify the bytes exactly as received, before parsing them.
    const rawBody = Buffer.concat(chunks);
    if (!signatureIsValid(rawBody, req.headers)) {
      res.writeHead(401).end('invalid signature');
      return;
    }
    if (!isFresh(req.headers)) {
      res.writeHead(400).end('stale timestamp');
      return;
    }
    const id = req.headers['webhook-id'];
    if (alreadyHandled(id)) {
      res.writeHead(200).end('duplicate'); // a retry or replay of an event you handled
      return;
    }
    const event = JSON.parse(rawBody);
    console.log('Received', event.event, event.data);
    handled.set(id, Date.now()); // only once handled: a failure is retried by the gateway
    res.writeHead(200).end('ok');
  });
}).listen(5000, () => console.log('Listening on http://localhost:5000/webhook'));
"""


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


CLI = """
# The gateway CLI comes with the client: pip install ./clients/python
{{env}}

gateway trigger payment.success      # an order and a payment; waits for the event
gateway events list --limit 5
gateway payments list --status success --json
"""


CLI_LISTEN = """
{{env}}

# Every event, signed as a webhook delivery is, to an endpoint on your machine:
gateway listen --forward-to {{target}}
"""


LIST_EVENTS = """
curl -G {{api}}/api/v1/events \\
{{auth}} \\
  --data-urlencode 'type=payment.created' \\
  --data-urlencode 'created_from=2020-01-01T00:00:00Z' \\
  --data-urlencode 'limit=5'
"""


CREATE_ENDPOINT = """
curl -X POST {{api}}/api/v1/webhooks/endpoints \\
  -H 'Content-Type: application/json' \\
{{auth}} \\
  -H 'Idempotency-Key: erp-refunds-endpoint' \\
  -d {{endpoint_body}}
"""


ENDPOINT_DELIVERIES = """
curl -G {{api}}/api/v1/webhooks \\
{{auth}} \\
  --data-urlencode 'endpoint_id={{endpoint}}' \\
  --data-urlencode 'limit=5'
"""


RECOVER_ENDPOINT = """
# 1. Send it new events again (your server is back up):
curl -X PATCH {{api}}/api/v1/webhooks/endpoints/{{endpoint}} \\
  -H 'Content-Type: application/json' \\
{{auth}} \\
  -d '{"status": "enabled"}'

# 2. Deliver once more every event since the outage began that it never received:
curl -X POST {{api}}/api/v1/webhooks/endpoints/{{endpoint}}/recover \\
  -H 'Content-Type: application/json' \\
{{auth}} \\
  -H 'Idempotency-Key: recover-{{endpoint}}-{{since}}' \\
  -d {{window}}
"""


CLI_ENDPOINTS = """
{{env}}

gateway webhooks endpoints create {{endpoint_url}} \\
  --events {{endpoint_events}} --description 'ERP refunds'
gateway webhooks endpoints list
gateway webhooks list --endpoint {{endpoint}}
gateway webhooks endpoints recover {{endpoint}} --since {{since}}
"""


# The docs page's snippets, by the name docs.html shows each under.
TEMPLATES = {
    "create_order": CREATE_ORDER,
    "create_order_response": CREATE_ORDER_RESPONSE,
    "idempotency": IDEMPOTENT_ORDER,
    "fetch_payment": FETCH_PAYMENT,
    "capture": CAPTURE_PAYMENT,
    "refund": CREATE_REFUND,
    "sdk": SDK,
    "webhook_node": WEBHOOK_NODE,
    "webhook_python": WEBHOOK_PYTHON,
    "webhook_standard": WEBHOOK_PYTHON_STANDARD,
    "webhook_legacy": WEBHOOK_LEGACY_HEX,
    "python_client": PYTHON_CLIENT,
    "cli": CLI,
    "cli_listen": CLI_LISTEN,
    "events": LIST_EVENTS,
    "create_endpoint": CREATE_ENDPOINT,
    "endpoint_deliveries": ENDPOINT_DELIVERIES,
    "recover_endpoint": RECOVER_ENDPOINT,
    "cli_endpoints": CLI_ENDPOINTS,
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
