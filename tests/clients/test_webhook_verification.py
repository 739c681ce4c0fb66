"""payment_gateway.webhooks against the gateway's own signing code (shared.signing, what the
dispatcher sends) and the reference Standard Webhooks package."""

import json
import time

import pytest
from standardwebhooks import Webhook

from payment_gateway.webhooks import SignatureError, sign, verify
from shared.signing import signature_headers

CURRENT, PREVIOUS = "whsec_test_abc123", "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
BODY = json.dumps(
    {"event": "payment.success", "timestamp": 1705315870, "data": {"payment": {"id": "p ₹"}}},
    separators=(",", ":"),
    ensure_ascii=False,
).encode()


def delivery(secrets=(CURRENT,), timestamp=None) -> dict[str, str]:
    return signature_headers(list(secrets), "msg-1", timestamp or int(time.time()), BODY)


def test_a_delivery_verifies_with_both_headers():
    assert verify(BODY, delivery(), CURRENT, require="both")["event"] == "payment.success"


@pytest.mark.parametrize("secret", [CURRENT, PREVIOUS])
def test_during_rotation_either_secret_verifies(secret):
    headers = delivery((CURRENT, PREVIOUS))
    # The hex header lists the current secret's signature (and, with the webhooks branch's
    # rotation, the previous one's); Standard Webhooks lists both.
    headers["X-Webhook-Signature"] = ",".join(
        sign(s, "msg-1", BODY)["X-Webhook-Signature"] for s in (CURRENT, PREVIOUS)
    )
    assert verify(BODY, headers, secret, require="both")


def test_wrong_secret_tampered_body_and_stale_timestamp_fail():
    with pytest.raises(SignatureError):
        verify(BODY, delivery(), "whsec_b3RoZXIgc2VjcmV0IGtleSBieXRlcw==")
    with pytest.raises(SignatureError):
        verify(BODY + b" ", delivery(), CURRENT)
    stale = delivery(timestamp=int(time.time()) - 301)
    with pytest.raises(SignatureError, match="standard"):
        verify(BODY, stale, CURRENT)
    assert verify(BODY, stale, CURRENT, tolerance=600)
    with pytest.raises(SignatureError):
        verify(BODY, {"Content-Type": "application/json"}, CURRENT)


def test_signing_matches_the_dispatcher_and_the_reference_package():
    now = int(time.time())
    ours = sign(CURRENT, "msg-1", BODY, timestamp=now)
    assert ours == signature_headers([CURRENT], "msg-1", now, BODY)
    assert Webhook(CURRENT).verify(BODY, ours)["data"]["payment"]["id"] == "p ₹"
