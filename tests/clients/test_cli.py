"""The `gateway` CLI against a live system: the installed entry point in real processes for
listen and trigger, click's CliRunner for the listing commands."""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from payment_gateway import Gateway
from payment_gateway.cli import main

pytestmark = pytest.mark.slow

GATEWAY = str(Path(sys.executable).with_name("gateway"))


def cli_env(api_url: str, key: str = "key_test_abc123", secret: str = "secret_test_xyz789"):  # noqa: S107
    return {**os.environ, "GATEWAY_API_URL": api_url, "GATEWAY_API_KEY": key,
            "GATEWAY_API_SECRET": secret, "GATEWAY_CONFIG": "/nonexistent"}  # fmt: skip


def run(api_url: str, *args: str, **env: str):
    result = CliRunner().invoke(main, list(args), env=cli_env(api_url) | env)
    return result


def test_payments_list_and_show_as_tables_and_json(api_url, gateway):
    order = gateway.orders.create(amount=12345)
    payment = gateway.payments.create(order.id, "upi", vpa="cli@okaxis")

    table = run(api_url, "payments", "list", "--limit", "100")
    listed = run(api_url, "--json", "payments", "list", "--limit", "5")
    shown = run(api_url, "--json", "payments", "show", payment.id)

    assert table.exit_code == 0, table.output
    assert payment.id in table.output and "₹123.45" in table.output
    page = json.loads(listed.stdout)
    assert page["limit"] == 5 and payment.id in {p["id"] for p in page["data"]}
    assert json.loads(shown.stdout)["vpa"] == "cli@okaxis"


def test_errors_are_one_line_and_exit_1(api_url):
    missing = run(api_url, "payments", "show", "pay_AAAAAAAAAAAAAAAA")
    wrong = run(api_url, "payments", "list", GATEWAY_API_SECRET="nope")
    none = CliRunner().invoke(main, ["payments", "list"], env={"GATEWAY_CONFIG": "/nonexistent",
                              "GATEWAY_API_KEY": "", "GATEWAY_API_SECRET": ""})  # fmt: skip

    assert missing.exit_code == 1 and "NOT_FOUND_ERROR: Payment not found" in missing.output
    assert wrong.exit_code == 1 and "AUTHENTICATION_ERROR" in wrong.output
    assert none.exit_code == 2 and "No credentials" in none.output


def test_credentials_from_a_config_file(api_url, tmp_path):
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'api_key = "key_test_abc123"\napi_secret = "secret_test_xyz789"\napi_url = "{api_url}"\n'
    )
    result = CliRunner().invoke(
        main, ["--json", "events", "list", "--limit", "1"],
        env={"GATEWAY_CONFIG": str(config), "GATEWAY_API_KEY": "", "GATEWAY_API_SECRET": "",
             "GATEWAY_API_URL": ""},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["limit"] == 1


def test_webhooks_list_show_retry(api_url, fresh_merchant):
    fresh_merchant.webhooks.update_config("http://127.0.0.1:9/hook")
    sent = fresh_merchant.webhooks.send_test()
    env = {"GATEWAY_API_KEY": fresh_merchant.api_key,
           "GATEWAY_API_SECRET": fresh_merchant._credentials[1]}  # fmt: skip

    listed = run(api_url, "--json", "webhooks", "list", **env)
    shown = run(api_url, "webhooks", "show", sent.id, **env)
    retried = run(api_url, "webhooks", "retry", sent.id, **env)
    events = run(api_url, "events", "list", "--type", "webhook.test", **env)

    assert [w["id"] for w in json.loads(listed.stdout)["data"]] == [sent.id]
    assert shown.exit_code == 0 and "webhook.test" in shown.output
    assert "Webhook retry scheduled" in retried.output
    assert sent.id in events.output


def test_trigger_payment_success(api_url, fresh_merchant):
    env = cli_env(api_url, fresh_merchant.api_key, fresh_merchant._credentials[1])
    done = subprocess.run(
        [GATEWAY, "--json", "trigger", "payment.success", "--timeout", "30"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["event"]["type"] == "payment.success"
    assert result["event"]["data"]["payment"]["id"] == result["created"]["payment"]
    assert "Waiting for payment.success" in done.stderr  # the progress indicator


def test_trigger_payment_failed_uses_the_failing_test_vpa(api_url, fresh_merchant):
    # The gateway here approves every other payment (TEST_PAYMENT_SUCCESS=true).
    result = CliRunner().invoke(
        main, ["--json", "trigger", "payment.failed", "--timeout", "30"],
        env=cli_env(api_url, fresh_merchant.api_key, fresh_merchant._credentials[1]),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout.splitlines()[-1])
    payment = outcome["event"]["data"]["payment"]
    assert outcome["event"]["type"] == "payment.failed"
    assert (payment["vpa"], payment["error_code"]) == ("failure@razorpay", "PAYMENT_FAILED")
    assert set(outcome["created"]) == {"order", "payment"}  # one payment, no rival


def test_trigger_payment_success_works_where_every_other_payment_fails(failing_api_url):
    merchant = Gateway(base_url=failing_api_url).merchants.sign_up(
        "Successes", f"success-{uuid.uuid4().hex[:10]}@example.test", "correct horse"
    )
    result = CliRunner().invoke(
        main, ["--json", "trigger", "payment.success", "--timeout", "30"],
        env=cli_env(failing_api_url, merchant.api_key, merchant.api_secret),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout.splitlines()[-1])["event"]
    assert event["type"] == "payment.success"
    assert event["data"]["payment"]["vpa"] == "success@razorpay"


def test_trigger_says_at_once_that_the_payment_failed(failing_api_url, monkeypatch):
    # A payment that fails (here an ordinary VPA on a gateway failing every payment): the
    # command ends as soon as the payment does, saying why, not after its 60 s timeout.
    import payment_gateway.cli

    monkeypatch.setattr(payment_gateway.cli, "SUCCESS_VPA", "shopper@okaxis")
    merchant = Gateway(base_url=failing_api_url).merchants.sign_up(
        "Declines", f"declined-{uuid.uuid4().hex[:10]}@example.test", "correct horse"
    )
    started = time.monotonic()
    result = CliRunner().invoke(
        main, ["trigger", "payment.success"],
        env=cli_env(failing_api_url, merchant.api_key, merchant.api_secret),
    )  # fmt: skip
    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    assert "ended failed (PAYMENT_FAILED: Payment was declined by the bank)" in result.output
    assert "no payment.success will come" in result.output


def test_trigger_refund_processed(live_stack, db):
    merchant = Gateway(base_url=live_stack).merchants.sign_up(
        "Refunds", f"refund-{uuid.uuid4().hex[:10]}@example.test", "correct horse"
    )
    result = CliRunner().invoke(
        main, ["--json", "trigger", "refund.processed", "--timeout", "30"],
        env=cli_env(live_stack, merchant.api_key, merchant.api_secret),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    event = json.loads(result.stdout.splitlines()[-1])["event"]
    assert event["type"] == "refund.processed" and event["data"]["refund"]["status"] == "processed"


def test_listen_forwards_signed_events_to_a_local_endpoint(api_url, fresh_merchant, start_receiver):
    secret = fresh_merchant.webhooks.config().webhook_secret
    receiver = start_receiver(secrets=(secret,))
    env = cli_env(api_url, fresh_merchant.api_key, fresh_merchant._credentials[1])
    listener = subprocess.Popen(
        [GATEWAY, "listen", "--forward-to", receiver.url, "--interval", "0.2",
         "--max-events", "3", "--timeout", "60"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert "Forwarding events created from" in listener.stderr.readline()
        order = fresh_merchant.orders.create(amount=4200)
        payment = fresh_merchant.payments.create(order.id, "upi", vpa="listen@okaxis")
        stdout, stderr = listener.communicate(timeout=60)
    finally:
        listener.kill()

    assert listener.returncode == 0, stderr
    lines = stdout.strip().splitlines()
    assert len(lines) == 3 and all("-> 200" in line for line in lines), stdout
    assert [line.split()[1] for line in lines] == [
        "payment.created", "payment.pending", "payment.success",
    ]  # fmt: skip
    events = receiver.events
    assert len(events) == 3
    assert all(e["hex_signature_valid"] and e["standard_signature_valid"] for e in events)
    for delivered in events:
        # The body forwarded is the stored event's, byte for byte; webhook-id is its id.
        stored = fresh_merchant.events.get(delivered["headers"]["webhook-id"])
        assert delivered["body"] == stored.body
        assert stored.data["payment"]["id"] == payment.id


def _listen(api_url: str, merchant: Gateway, receiver_url: str, *options: str):
    """`gateway listen` in a process, once it has said from when it forwards events."""
    env = cli_env(api_url, merchant.api_key, merchant._credentials[1])
    listener = subprocess.Popen(
        [GATEWAY, "--json", "listen", "--forward-to", receiver_url, "--interval", "0.2",
         *options],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert "Forwarding events created from" in listener.stderr.readline()
    return listener


def _paid(merchant: Gateway, vpa: str = "listen@okaxis") -> str:
    order = merchant.orders.create(amount=4200)
    payment = merchant.payments.create(order.id, "upi", vpa=vpa)
    deadline = time.monotonic() + 30
    while merchant.payments.get(payment.id).status == "pending":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return payment.id


def test_listen_signs_with_every_secret_in_force(api_url, fresh_merchant, start_receiver):
    # A receiver still on the replaced secret, during the overlap: deliveries pass, so must
    # what listen forwards.
    previous = fresh_merchant.webhooks.config().webhook_secret
    current = fresh_merchant.webhooks.rotate_secret().webhook_secret
    on_previous, on_current = (start_receiver(secrets=(s,)) for s in (previous, current))
    listeners = [
        _listen(api_url, fresh_merchant, r.url, "--max-events", "1", "--timeout", "30")
        for r in (on_previous, on_current)
    ]
    try:
        payment = fresh_merchant.payments.create(fresh_merchant.orders.create(amount=4300).id,
                                                 "upi", vpa="listen@okaxis")  # fmt: skip
        outputs = [listener.communicate(timeout=60) for listener in listeners]
    finally:
        for listener in listeners:
            listener.kill()

    for (stdout, stderr), receiver in zip(outputs, (on_previous, on_current), strict=True):
        assert json.loads(stdout.splitlines()[0])["status"] == 200, stderr
        [event] = receiver.events
        assert event["hex_signature_valid"] and event["standard_signature_valid"]
        assert event["answered"] == 200
        assert json.loads(event["body"])["data"]["payment"]["id"] == payment.id
        assert len(event["headers"]["webhook-signature"].split()) == 2
        assert len(event["headers"]["x-webhook-signature"].split(",")) == 2


def test_listen_forwards_nothing_from_before_it_started(api_url, fresh_merchant, start_receiver):
    earlier = _paid(fresh_merchant)
    receiver = start_receiver(secrets=(fresh_merchant.webhooks.config().webhook_secret,))
    listener = _listen(api_url, fresh_merchant, receiver.url, "--timeout", "6")
    later = _paid(fresh_merchant)
    stdout, stderr = listener.communicate(timeout=60)

    forwarded = [json.loads(line) for line in stdout.splitlines()]
    payments = [json.loads(e["body"])["data"]["payment"]["id"] for e in receiver.events]
    assert [f["type"] for f in forwarded] == [
        "payment.created", "payment.pending", "payment.success",
    ], stderr  # fmt: skip
    assert payments == [later] * 3 and earlier not in payments


def test_listen_since_starts_exactly_there_and_forwards_each_event_once(
    api_url, fresh_merchant, start_receiver
):
    _paid(fresh_merchant)
    events = list(reversed(list(fresh_merchant.events.iter())))  # oldest first
    since = events[-1].created_at  # the payment.success, ~300 ms after the others
    assert all(e.created_at < since for e in events[:-1])
    receiver = start_receiver(secrets=(fresh_merchant.webhooks.config().webhook_secret,))
    listener = _listen(api_url, fresh_merchant, receiver.url, "--since", since, "--timeout", "4")
    stdout, stderr = listener.communicate(timeout=60)

    forwarded = [json.loads(line)["id"] for line in stdout.splitlines()]
    assert forwarded == [events[-1].id], stderr
    assert [e["webhook_id"] for e in receiver.events] == [events[-1].id]


def test_listen_help_says_what_it_looks_back_on():
    result = CliRunner().invoke(main, ["listen", "--help"], terminal_width=80)
    text = " ".join(result.output.split())
    assert "nothing before it starts, unless --since says so" in text
    assert "at most once per run" in text
    assert "every webhook secret in force" in text
