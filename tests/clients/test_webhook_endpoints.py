"""The client's webhook endpoints and the delivery log filters, against the live API; and the
`gateway webhooks endpoints` commands."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from payment_gateway import (
    BadRequestError,
    Gateway,
    NotFoundError,
    RecoveryQueued,
    WebhookEndpoint,
)
from payment_gateway.cli import main

pytestmark = pytest.mark.slow

ERP_URL = "http://127.0.0.1:9/erp-hooks"  # nothing listens: deliveries stay pending or fail


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def paid_payment(gateway: Gateway):
    order = gateway.orders.create(amount=50000, receipt="endpoints")
    payment = gateway.payments.create(order.id, "upi", vpa="success@razorpay")
    return wait_for(
        lambda: p if (p := gateway.payments.get(payment.id)).status != "pending" else None
    )


def test_create_list_get_update_and_delete(fresh_merchant: Gateway):
    created = fresh_merchant.webhook_endpoints.create(
        ERP_URL, ["refund.processed", "refund.created"], "ERP refunds"
    )
    assert isinstance(created, WebhookEndpoint)
    assert created.id.startswith("we_") and len(created.id) == 19
    assert created.url == ERP_URL and created.description == "ERP refunds"
    assert sorted(created.events) == ["refund.created", "refund.processed"]
    assert created.status == "enabled" and created.default is False
    assert created.secret.startswith("whsec_")
    assert "whsec_" not in repr(created)  # the secret is never printed

    listed = fresh_merchant.webhook_endpoints.list()
    assert created.id in [e.id for e in listed]
    read = fresh_merchant.webhook_endpoints.get(created.id)
    assert read.health is not None
    assert (read.health.succeeded_24h, read.health.failed_24h) == (0, 0)
    assert read.health.last_success_at is None

    updated = fresh_merchant.webhook_endpoints.update(created.id, events=["*"], description="")
    assert updated.events == ["*"] and updated.url == ERP_URL  # what is not given stays
    assert fresh_merchant.webhook_endpoints.disable(created.id).status == "disabled"
    enabled = fresh_merchant.webhook_endpoints.enable(created.id)
    assert enabled.status == "enabled" and enabled.disabled_reason is None

    assert fresh_merchant.webhook_endpoints.delete(created.id) is None
    with pytest.raises(NotFoundError):
        fresh_merchant.webhook_endpoints.get(created.id)


def test_a_retried_create_and_rotation_happen_once(fresh_merchant: Gateway):
    first = fresh_merchant.webhook_endpoints.create(ERP_URL, idempotency_key="erp-once")
    again = fresh_merchant.webhook_endpoints.create(ERP_URL, idempotency_key="erp-once")
    assert again.id == first.id and first.events == ["*"]
    assert fresh_merchant.webhook_endpoints.list().total == 1

    rotated = fresh_merchant.webhook_endpoints.rotate_secret(first.id, idempotency_key="rot-1")
    replayed = fresh_merchant.webhook_endpoints.rotate_secret(first.id, idempotency_key="rot-1")
    assert rotated.secret != first.secret
    assert replayed.secret == rotated.secret  # a retried rotation rotates once


def test_bad_endpoints_are_refused_with_the_field(fresh_merchant: Gateway):
    with pytest.raises(BadRequestError) as unknown_type:
        fresh_merchant.webhook_endpoints.create(ERP_URL, ["payment.exploded"])
    assert unknown_type.value.code == "BAD_REQUEST_ERROR"
    with pytest.raises(BadRequestError):
        fresh_merchant.webhook_endpoints.create("ftp://erp.example/hooks")
    assert fresh_merchant.webhook_endpoints.list().total == 0


def test_another_merchants_endpoint_is_not_found(fresh_merchant: Gateway, gateway: Gateway):
    theirs = gateway.webhook_endpoints.create(ERP_URL, description="the test merchant's")
    try:
        for call in (
            lambda: fresh_merchant.webhook_endpoints.get(theirs.id),
            lambda: fresh_merchant.webhook_endpoints.update(theirs.id, description="mine"),
            lambda: fresh_merchant.webhook_endpoints.delete(theirs.id),
            lambda: fresh_merchant.webhook_endpoints.recover(
                theirs.id, datetime.now(UTC) - timedelta(hours=1)
            ),
        ):
            with pytest.raises(NotFoundError):
                call()
    finally:
        gateway.webhook_endpoints.delete(theirs.id)


def test_deliveries_name_their_endpoint_and_object_and_filter_by_them(fresh_merchant: Gateway):
    default_url = "http://127.0.0.1:9/shop"
    fresh_merchant.webhooks.update_config(default_url)
    erp = fresh_merchant.webhook_endpoints.create(ERP_URL, ["refund.created"], "ERP")
    payment = paid_payment(fresh_merchant)
    assert payment.status == "success"
    refund = fresh_merchant.refunds.create(payment.id, 10000)

    to_erp = wait_for(
        lambda: page if (page := fresh_merchant.webhooks.list(endpoint_id=erp.id)).total else None
    )
    assert [log.event for log in to_erp] == ["refund.created"]
    (log,) = to_erp.data
    assert log.endpoint_id == erp.id and log.object_id == refund.id
    assert log.event_id is not None

    about_payment = fresh_merchant.webhooks.list(object_id=payment.id, limit=100)
    assert about_payment.total >= 2 and {x.object_id for x in about_payment} == {payment.id}
    default_id = next(e.id for e in fresh_merchant.webhook_endpoints.iter() if e.default)
    assert {x.endpoint_id for x in about_payment} == {default_id}
    # One event, two endpoints: both deliveries carry the event's id.
    about_refund = fresh_merchant.webhooks.list(object_id=refund.id, event="refund.created")
    assert {x.endpoint_id for x in about_refund} == {default_id, erp.id}
    assert len({x.event_id for x in about_refund}) == 1


def test_recover_queues_missed_events_once(fresh_merchant: Gateway):
    since = datetime.now(UTC) - timedelta(minutes=5)
    erp = fresh_merchant.webhook_endpoints.create(ERP_URL, ["payment.success"])
    fresh_merchant.webhook_endpoints.disable(erp.id)
    paid_payment(fresh_merchant)  # happens while the endpoint is disabled: no log for it
    wait_for(lambda: True if fresh_merchant.events.list(type="payment.success").total else None)
    assert fresh_merchant.webhooks.list(endpoint_id=erp.id).total == 0

    fresh_merchant.webhook_endpoints.enable(erp.id)
    queued = fresh_merchant.webhook_endpoints.recover(erp.id, since)
    assert isinstance(queued, RecoveryQueued) and queued.queued == 1
    assert fresh_merchant.webhook_endpoints.recover(erp.id, since.isoformat()).queued == 0
    wait_for(lambda: True if fresh_merchant.webhooks.list(endpoint_id=erp.id).total else None)

    with pytest.raises(BadRequestError):
        fresh_merchant.webhook_endpoints.recover(erp.id, datetime.now(UTC) - timedelta(days=31))


def run_cli(api_url: str, client: Gateway, *args: str, input: str | None = None):
    env = {"GATEWAY_API_KEY": client.api_key, "GATEWAY_API_SECRET": client._credentials[1],
           "GATEWAY_API_URL": api_url, "GATEWAY_CONFIG": "/nonexistent"}  # fmt: skip
    return CliRunner().invoke(main, list(args), env=env, input=input)


def test_cli_endpoints_from_create_to_recover(api_url: str, fresh_merchant: Gateway):
    created = run_cli(api_url, fresh_merchant, "--json", "webhooks", "endpoints", "create",
                      ERP_URL, "--events", "refund.created,refund.processed",
                      "--description", "ERP refunds")  # fmt: skip
    assert created.exit_code == 0, created.output
    endpoint = json.loads(created.stdout)
    assert endpoint["events"] == ["refund.created", "refund.processed"]
    endpoint_id = endpoint["id"]

    table = run_cli(api_url, fresh_merchant, "webhooks", "endpoints", "list")
    assert table.exit_code == 0 and endpoint_id in table.output and "ERP refunds" in table.output
    shown = run_cli(api_url, fresh_merchant, "webhooks", "endpoints", "show", endpoint_id)
    assert "succeeded_24h" in shown.output and endpoint["secret"] not in shown.output
    updated = run_cli(api_url, fresh_merchant, "--json", "webhooks", "endpoints", "update",
                      endpoint_id, "--events", "*")  # fmt: skip
    assert json.loads(updated.stdout)["events"] == ["*"]
    disabled = run_cli(api_url, fresh_merchant, "--json", "webhooks", "endpoints", "disable",
                       endpoint_id)  # fmt: skip
    assert json.loads(disabled.stdout)["status"] == "disabled"
    enabled = run_cli(api_url, fresh_merchant, "--json", "webhooks", "endpoints", "enable",
                      endpoint_id)  # fmt: skip
    assert json.loads(enabled.stdout)["status"] == "enabled"
    rotated = run_cli(api_url, fresh_merchant, "--json", "webhooks", "endpoints",
                      "rotate-secret", endpoint_id)  # fmt: skip
    assert json.loads(rotated.stdout)["secret"] != endpoint["secret"]

    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recovered = run_cli(api_url, fresh_merchant, "webhooks", "endpoints", "recover",
                        endpoint_id, "--since", since)  # fmt: skip
    assert recovered.exit_code == 0 and "queued for delivery" in recovered.output
    too_old = run_cli(api_url, fresh_merchant, "webhooks", "endpoints", "recover",
                      endpoint_id, "--since", "2020-01-01T00:00:00Z")  # fmt: skip
    assert too_old.exit_code == 1 and "BAD_REQUEST_ERROR" in too_old.output

    kept = run_cli(api_url, fresh_merchant, "webhooks", "endpoints", "delete", endpoint_id,
                   input="n\n")  # fmt: skip
    assert kept.exit_code == 1 and fresh_merchant.webhook_endpoints.get(endpoint_id)
    deleted = run_cli(api_url, fresh_merchant, "webhooks", "endpoints", "delete", endpoint_id,
                      "--yes")  # fmt: skip
    assert deleted.exit_code == 0 and "deleted" in deleted.output
    missing = run_cli(api_url, fresh_merchant, "webhooks", "endpoints", "show", endpoint_id)
    assert missing.exit_code == 1 and "NOT_FOUND_ERROR" in missing.output


def test_cli_help_names_every_endpoint_command():
    result = CliRunner().invoke(main, ["webhooks", "endpoints", "--help"])
    for command in ("list", "create", "show", "update", "enable", "disable", "rotate-secret",
                    "delete", "recover"):  # fmt: skip
        assert command in result.output
    recover_help = CliRunner().invoke(main, ["webhooks", "endpoints", "recover", "--help"])
    assert "--since" in recover_help.output and "--until" in recover_help.output
