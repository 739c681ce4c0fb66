import hashlib
import hmac

from shared.core.signing import hex_signature, new_webhook_secret, signature_headers


def test_hex_signature_is_hmac_sha256_of_the_body():
    body = b'{"event":"payment.success"}'
    expected = hmac.new(b"whsec_test_abc123", body, hashlib.sha256).hexdigest()
    assert hex_signature("whsec_test_abc123", body) == expected


def test_new_webhook_secret_is_whsec_and_24_bytes_of_base64():
    secret = new_webhook_secret()
    assert secret.startswith("whsec_") and len(secret) == len("whsec_") + 32


def test_signature_headers_sign_with_every_secret_in_force():
    secrets = ["whsec_newA", "whsec_oldB", "whsec_oldC"]
    headers = signature_headers(secrets, "msg_1", 1700000000, b"{}")
    # Newest first, comma-separated, lowercase hex (docs/webhooks.md#secret-rotation).
    assert headers["X-Webhook-Signature"] == ",".join(hex_signature(s, b"{}") for s in secrets)
    assert len(headers["webhook-signature"].split(" ")) == 3
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"


def test_outside_a_rotation_the_signature_is_one_hex_value_byte_for_byte():
    body = b'{"event":"payment.success"}'
    headers = signature_headers(["whsec_test_abc123"], "msg_1", 1700000000, body)
    expected = hmac.new(b"whsec_test_abc123", body, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == expected
    assert " " not in headers["webhook-signature"]
