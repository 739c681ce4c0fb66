"""A test merchant's webhook receiver: `python -m devstack.receiver` (port 4000, or RECEIVER_PORT).

It verifies every delivery as a merchant should, independently of the gateway's own signing
code: both signatures (`X-Webhook-Signature`, hex HMAC-SHA256 of the body with the secret
string, and the Standard Webhooks headers), a `webhook-timestamp` within 5 minutes of now,
and each `webhook-id` handled once. A stale delivery (a recording sent again later) is refused
with 400; a duplicate (an id already answered 200: an exact replay, a manual retry or a
recovery) is acknowledged with 200 and not handled again; both say so on their line. It prints
one line per event and can fail the first N requests, or a random fraction of them (seeded, so
a run can be repeated), so you can watch the dispatcher retry:

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
# How far webhook-timestamp may be from now, as Standard Webhooks and Stripe advise.
TOLERANCE_S = 300


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
    tolerance_s: float = TOLERANCE_S
    received: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    # webhook-id -> the number of the request that handled it (answered 200).
    handled: dict[str, int] = field(default_factory=dict)
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
        signed = hex_ok and standard_ok
        age = _age_s(headers.get("webhook-timestamp", ""))
        stale = signed and (age is None or abs(age) > self.tolerance_s)
        webhook_id = headers.get("webhook-id")
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        with self._lock:
            reply: dict[str, Any]
            duplicate_of = self.handled.get(webhook_id or "") if signed and not stale else None
            if failing:
                status, reply = self.fail_status, {"error": "failing on purpose"}
            elif not signed:
                status, reply = 401, {"error": "invalid signature"}
            elif stale:
                status, reply = 400, {"error": "webhook-timestamp outside the tolerance"}
            elif duplicate_of is not None:
                status, reply = 200, {"ok": True, "duplicate_of": duplicate_of}
            else:
                status, reply = 200, {"ok": True}
                self.handled[webhook_id or ""] = number
        entry = {
            "number": number,
            "body": body.decode("utf-8", errors="replace"),
            "headers": headers,
            "received_at": time.time(),
            "webhook_id": webhook_id,
            "event": event.get("event"),
            "data": event.get("data"),
            "hex_signature_valid": hex_ok,
            "standard_signature_valid": standard_ok,
            "timestamp_age_s": age,
            "stale": stale,
            "duplicate_of": duplicate_of,
            "answered": status,
        }
        with self._lock:
            self.events.append(entry)
            if self.record:
                with self.record.open("a") as out:
                    out.write(json.dumps(entry) + "\n")
        if not self.quiet:
            print(f"#{number} {entry['event']} {webhook_id} {_verdict(entry, self.tolerance_s)}, "
                  f"answering {status}",
                  flush=True)  # fmt: skip
        return status, reply


def _age_s(timestamp: str) -> float | None:
    """Seconds since webhook-timestamp (negative: ahead of us); None when it is not a number."""
    return time.time() - int(timestamp) if timestamp.isascii() and timestamp.isdigit() else None


def _verdict(entry: dict[str, Any], tolerance_s: float) -> str:
    if not (entry["hex_signature_valid"] and entry["standard_signature_valid"]):
        return "BAD SIGNATURE"
    if entry["stale"]:
        age = entry["timestamp_age_s"]
        when = "unreadable" if age is None else f"{int(abs(age))} s {'old' if age > 0 else 'ahead'}"
        return f"STALE timestamp ({when}, tolerance {tolerance_s:g} s): refused, a replay?"
    if entry["duplicate_of"] is not None:
        return f"DUPLICATE of #{entry['duplicate_of']}: acknowledged, not handled again"
    return "signatures ok"


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
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE_S,
        help=f"seconds webhook-timestamp may be from now (default {TOLERANCE_S})",
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
        tolerance_s=args.tolerance,
    )
    print(
        f"webhook receiver on http://{args.host}:{args.port}/webhook", file=sys.stderr, flush=True
    )
    uvicorn.run(receiver, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
