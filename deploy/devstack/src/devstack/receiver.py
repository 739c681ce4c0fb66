"""A test merchant's webhook receiver: `python -m devstack.receiver` (port 4000, or RECEIVER_PORT).

It verifies both signatures of every delivery, independently of the gateway's own signing
code: `X-Webhook-Signature` (hex HMAC-SHA256 of the body with the secret string) and the
Standard Webhooks headers. It prints one line per event and can fail the first N requests,
or a random fraction of them (seeded, so a run can be repeated), so you can watch the
dispatcher retry:

    python -m devstack.receiver --fail-first 2
    python -m devstack.receiver --fail-rate 0.3 --seed 7 --record deliveries.jsonl
    curl -X PUT localhost:8000/api/v1/webhooks/config -H 'X-Api-Key: key_test_abc123' \\
         -H 'X-Api-Secret: secret_test_xyz789' -H 'Content-Type: application/json' \\
         -d '{"webhook_url": "http://localhost:4000/webhook"}'
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

DEFAULT_SECRET = "whsec_test_abc123"  # noqa: S105  # the seeded test merchant's


def hex_valid(secrets: list[str], body: bytes, signature_header: str) -> bool:
    """X-Webhook-Signature lists one hex signature per secret in force, comma-separated
    (one value outside a rotation): valid when any of them matches any of our secrets."""
    offered = [sig.strip() for sig in signature_header.split(",") if sig.strip()]
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            return True
    return False


def standard_valid(secrets: list[str], body: bytes, headers: dict[str, str]) -> bool:
    message_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    signed = f"{message_id}.{timestamp}.".encode() + body
    offered = {sig.removeprefix("v1,") for sig in headers.get("webhook-signature", "").split()}
    for secret in secrets:
        key = base64.b64decode(secret.removeprefix("whsec_") + "==")
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, sig) for sig in offered):
            return True
    return False


@dataclass
class Receiver:
    secrets: list[str]
    fail_first: int = 0
    fail_rate: float = 0.0
    seed: int | None = None
    fail_status: int = 500
    delay_s: float = 0.0
    record: Path | None = None
    quiet: bool = False
    received: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            await _respond(send, 200, {"received": self.received, "events": len(self.events)})
            return
        if self.delay_s:
            import asyncio

            await asyncio.sleep(self.delay_s)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        await _respond(send, *self.handle(body, headers))

    def handle(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.received += 1
            number = self.received
            failing = number <= self.fail_first or self._random.random() < self.fail_rate
        hex_ok = hex_valid(self.secrets, body, headers.get("x-webhook-signature", ""))
        standard_ok = standard_valid(self.secrets, body, headers)
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        entry = {
            "number": number,
            "body": body.decode("utf-8", errors="replace"),
            "headers": headers,
            "received_at": time.time(),
            "webhook_id": headers.get("webhook-id"),
            "event": event.get("event"),
            "data": event.get("data"),
            "hex_signature_valid": hex_ok,
            "standard_signature_valid": standard_ok,
            "answered": self.fail_status if failing else 200 if hex_ok and standard_ok else 401,
        }
        with self._lock:
            self.events.append(entry)
            if self.record:
                with self.record.open("a") as out:
                    out.write(json.dumps(entry) + "\n")
        if not self.quiet:
            verdict = "signatures ok" if hex_ok and standard_ok else "BAD SIGNATURE"
            print(
                f"#{number} {entry['event']} {entry['webhook_id']} {verdict}, "
                f"answering {entry['answered']}",
                flush=True,
            )
        if failing:
            return self.fail_status, {"error": "failing on purpose"}
        if not (hex_ok and standard_ok):
            return 401, {"error": "invalid signature"}
        return 200, {"ok": True}


async def _respond(send: Any, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": payload})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("RECEIVER_PORT") or 4000),
        help="port to listen on (default: $RECEIVER_PORT or 4000)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--secret",
        action="append",
        help=f"webhook secret; repeat during rotation (default {DEFAULT_SECRET})",
    )
    parser.add_argument(
        "--fail-first", type=int, default=0, help="answer 500 to the first N requests"
    )
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        help="answer 500 to this random fraction of requests, e.g. 0.3",
    )
    parser.add_argument("--seed", type=int, help="seed of --fail-rate's random choices")
    parser.add_argument(
        "--record",
        type=Path,
        help="append every request, with the status answered, as a JSON line here",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing per event")
    args = parser.parse_args(argv)
    receiver = Receiver(
        secrets=args.secret or [DEFAULT_SECRET],
        fail_first=args.fail_first,
        fail_rate=args.fail_rate,
        seed=args.seed,
        record=args.record,
        quiet=args.quiet,
    )
    print(
        f"webhook receiver on http://{args.host}:{args.port}/webhook", file=sys.stderr, flush=True
    )
    uvicorn.run(receiver, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
