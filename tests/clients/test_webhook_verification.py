"""payment_gateway.webhooks against the gateway's own signing code (shared.core.signing, what the
dispatcher sends) and the reference Standard Webhooks package."""

import json
import time

import pytest
from standardwebhooks import Webhook

from payment_gateway.webhooks import (
    DuplicateWebhook,
    InMemorySeenIds,
    SignatureError,
    StaleWebhook,
    sign,
    verify,
    verify_legacy_hex,
)
from shared.core.signing import signature_headers

CURRENT, PREVIOUS = "whsec_test_abc123", "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
BODY = json.dumps(
    {"event": "payment.success", "timestamp": 1705315870, "data": {"payment": {"id": "p ₹"}}},
    separators=(",", ":"),
    ensure_ascii=False,
).encode()


def delivery(secrets=(CURRENT,), timestamp=None, webhook_id="msg-1") -> dict[str, str]:
    return signature_headers(list(secrets), webhook_id, timestamp or int(time.time()), BODY)


def test_a_delivery_verifies():
    assert verify(BODY, delivery(), CURRENT, seen=None)["event"] == "payment.success"


@pytest.mark.parametrize("secret", [CURRENT, PREVIOUS])
def test_during_rotation_either_secret_verifies(secret):
    headers = delivery((CURRENT, PREVIOUS))
    assert verify(BODY, headers, secret, seen=None)
    assert verify_legacy_hex(BODY, headers, secret)


def test_wrong_secret_tampered_body_and_missing_headers_fail():
    with pytest.raises(SignatureError):
        verify(BODY, delivery(), "whsec_b3RoZXIgc2VjcmV0IGtleSBieXRlcw==", seen=None)
    with pytest.raises(SignatureError):
        verify(BODY + b" ", delivery(), CURRENT, seen=None)
    with pytest.raises(SignatureError, match="Missing Standard Webhooks"):
        verify(BODY, {"Content-Type": "application/json"}, CURRENT, seen=None)


def test_the_hex_header_alone_is_not_enough():
    # A receiver copied from the docs must not accept the timestamp-less header by itself.
    hex_only = {"X-Webhook-Signature": delivery()["X-Webhook-Signature"]}
    with pytest.raises(SignatureError):
        verify(BODY, hex_only, CURRENT, seen=None)
    assert verify_legacy_hex(BODY, hex_only, CURRENT)["event"] == "payment.success"


def test_a_delivery_sent_again_ten_minutes_later_is_refused():
    # Recorded, then re-sent as a new-looking delivery 10 minutes on: the signature still
    # matches, the timestamp gives it away.
    recorded = delivery(timestamp=int(time.time()) - 600)
    with pytest.raises(StaleWebhook, match=r"6\d\d s old"):
        verify(BODY, recorded, CURRENT)
    with pytest.raises(StaleWebhook):
        verify(BODY, delivery(timestamp=int(time.time()) + 600), CURRENT, seen=None)
    assert verify(BODY, delivery(timestamp=int(time.time()) - 301), CURRENT, tolerance=600,
                  seen=None)  # fmt: skip


def test_an_exact_replay_within_the_tolerance_is_a_duplicate():
    headers = delivery(webhook_id="msg-replayed")
    seen = InMemorySeenIds()
    assert verify(BODY, headers, CURRENT, seen=seen)
    with pytest.raises(DuplicateWebhook) as duplicate:
        verify(BODY, headers, CURRENT, seen=seen)
    assert duplicate.value.webhook_id == "msg-replayed"
    # A retry of a delivery whose handling failed is taken again once forgotten.
    seen.forget("msg-replayed")
    assert verify(BODY, delivery(webhook_id="msg-replayed"), CURRENT, seen=seen)


def test_verify_remembers_ids_by_default():
    headers = delivery(webhook_id=f"msg-default-{time.time_ns()}")
    verify(BODY, headers, CURRENT)
    with pytest.raises(DuplicateWebhook):
        verify(BODY, headers, CURRENT)


def test_seen_ids_are_bounded_in_number_and_time():
    seen = InMemorySeenIds(ttl_s=60, max_ids=3)
    assert all(seen.claim(f"id-{n}") for n in range(5))
    assert len(seen) == 3 and seen.claim("id-0") and not seen.claim("id-4")
    brief = InMemorySeenIds(ttl_s=0.05)
    assert brief.claim("x") and not brief.claim("x")
    time.sleep(0.1)
    assert brief.claim("x")


def test_signing_matches_the_dispatcher_and_the_reference_package():
    now = int(time.time())
    ours = sign(CURRENT, "msg-1", BODY, timestamp=now)
    assert ours == signature_headers([CURRENT], "msg-1", now, BODY)
    assert Webhook(CURRENT).verify(BODY, ours)["data"]["payment"]["id"] == "p ₹"


def test_the_client_readme_receiver_example_runs():
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[2] / "clients" / "python" / "README.md"
    [code] = re.findall(r"<!-- readme-example: webhook -->\n```python\n(.*?)```",
                        readme.read_text(), re.S)  # fmt: skip
    example: dict = {}
    exec(code, example)  # noqa: S102 - our own README
    headers = delivery(webhook_id=f"msg-readme-{time.time_ns()}")
    assert example["receive"](BODY, headers) == 200
    assert example["receive"](BODY, headers) == 200  # the duplicate, acknowledged
    assert example["receive"](BODY, delivery(timestamp=int(time.time()) - 600)) == 400
    assert example["receive"](BODY, {"X-Webhook-Signature": headers["X-Webhook-Signature"]}) == 400
